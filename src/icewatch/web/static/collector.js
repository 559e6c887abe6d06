/*! icewatch collector, docs/collector.md */
(function (w) {
  "use strict";
  var V = "3", nav = w.navigator, me = w.document && w.document.currentScript,
    home = me && me.src ? new URL(me.src, w.location.href).origin : w.location.origin;

  function cut(s, n) { return typeof s == "string" ? s.slice(0, n) : s == null ? null : String(s).slice(0, n); }
  function num(v) { return typeof v == "number" && isFinite(v) ? v : null; }
  function now() { return performance.now(); }
  function r1(x) { return Math.round(x * 10) / 10; }
  function race(p, t) { return Promise.race([p, new Promise(function (r, no) { setTimeout(no, t, "timeout"); })]); }
  function say(e) { return cut(String(e && e.name ? e.name + ": " + e.message : e), 256); }

  async function rtts(u, o, end) {
    for (var i = 0; i < 3 && now() < end; i++) {
      var q = u + "/healthz?rtt=" + i + Math.random(), t = now(), x, d;
      try {
        await (await fetch(q, { cache: "no-store" })).text();
        d = now() - t; x = performance.getEntriesByName(q).pop();
        if (x && x.requestStart > 0 && x.responseStart >= x.requestStart) d = x.responseStart - x.requestStart;
        o.push(r1(d));
      } catch (e) { return; }
    }
  }

  async function link(u, s, pc, dc, end, ms) {
    var c = { attempted: true, state: "failed", answer_ms: null, open_ms: null, rtts_ms: [], error: null, server_error: null },
      q = {}, n = 0, wk, sp = new Promise(function (y) { wk = y; }), op = new Promise(function (y, n) {
        dc.onopen = y; dc.onclose = function () { n("closed"); };
        pc.onconnectionstatechange = function () { if (pc.connectionState == "failed") n("ICE failed"); };
      });
    op.catch(function () {});
    dc.onmessage = function (e) {
      var m; try { m = JSON.parse(e.data); } catch (x) { return; }
      if (m && m.t == "ping") dc.send(JSON.stringify({ t: "pong", seq: m.seq })), ++n > 2 && wk();
      if (m && m.t == "pong" && q[m.seq]) q[m.seq](now());
    };
    try {
      var a = await race(call(u + "/api/v1/sessions/" + encodeURIComponent(s.id) + "/offer", { sdp: pc.localDescription.sdp }, s.token), end - now());
      c.answer_ms = ms();
      await pc.setRemoteDescription({ type: "answer", sdp: a.sdp });
      await race(op, end - now());
      c.open_ms = ms(); c.state = "connected";
      for (var i = 0; i < 3; i++) {
        var t = now(), p = new Promise(function (y) { q[i] = y; });
        dc.send(JSON.stringify({ t: "ping", seq: i }));
        c.rtts_ms.push(r1(await race(p, end - now()) - t));
      }
      await race(sp, Math.min(300, end - now()));
    } catch (e) {
      if (c.state != "connected") {
        c.error = say(e);
        if (e == "timeout") c.state = "timeout";
        if (e && e.status) c.state = "refused", c.server_error = cut(e.body && e.body.error && e.body.error.code || "HTTP " + e.status, 64);
      }
    }
    return c;
  }

  async function call(url, body, token) {
    var h = { "Content-Type": "application/json" };
    if (token) h.Authorization = "Bearer " + token;
    var res = await fetch(url, { method: "POST", headers: h, body: JSON.stringify(body || {}), cache: "no-store" });
    var data = await res.json().catch(function () { return null; });
    if (!res.ok) {
      var e = new Error("icewatch: " + (data && data.error ? data.error.code + ": " + data.error.message : "HTTP " + res.status));
      e.status = res.status; e.body = data; throw e;
    }
    return data;
  }

  function hints(wait) {
    var d = nav.userAgentData, out = {};
    if (!d) return Promise.resolve(out);
    function put(o) {
      Object.keys(o || {}).slice(0, 32).forEach(function (k) {
        var v = o[k];
        out[k.slice(0, 64)] = cut(typeof v == "string" ? v : JSON.stringify(v), 1024);
      });
    }
    put({ brands: d.brands, mobile: d.mobile, platform: d.platform });
    var more = d.getHighEntropyValues ? d.getHighEntropyValues(
      ["architecture", "bitness", "model", "platformVersion", "fullVersionList", "wow64", "formFactors"]
    ).then(put, function () {}) : 0;
    return Promise.race([more, new Promise(function (r) { setTimeout(r, wait); })]).then(function () { return out; });
  }

  function ok(R, k, c, v) {
    R.checks++;
    if (!c && R.failed.length < 32) R.failed.push({ check: k, detail: cut(String(v), 256) });
  }

  function tamper(PC) {
    var R = { checks: 0, failed: [], stats: [], stats_error: null, ms: null }, T = Function.prototype.toString,
      d = w.document, fr, I, S, P, on, ld, g;
    function nat(k, f, name, t) {
      var s;
      try { s = typeof f == "function" ? t.call(f).replace(/\s+/g, " ") : typeof f; } catch (e) { s = "threw " + e; }
      ok(R, k + name, s.replace(/^function [gs]et /, "function ") == "function " + name.replace(/^[gs]et /, "") +
        "() { [native code] }", s.slice(0, 160));
    }
    function own(o, k) { try { return Object.getOwnPropertyDescriptor(o, k); } catch (e) { return null; } }
    function shape(x) { return x ? Object.keys(x).filter(function (k) { return x[k]; }).join() : "none"; }
    try {
      fr = d.createElement("iframe"); fr.style.display = "none"; d.documentElement.appendChild(fr);
      I = fr.contentWindow; S = I.Function.prototype.toString;
    } catch (e) { I = S = null; }
    try {
      if (!PC) {
        ok(R, "realm:RTCPeerConnection", !(I && I.RTCPeerConnection), "missing here, present in a fresh frame");
      } else {
        P = PC.prototype || {}; on = own(P, "onicecandidate"); ld = own(P, "localDescription"); g = own(w, "RTCPeerConnection");
        [[T, "toString"], [PC, "RTCPeerConnection"], [w.RTCIceCandidate, "RTCIceCandidate"],
          [w.RTCSessionDescription, "RTCSessionDescription"], [P.createOffer, "createOffer"],
          [P.setLocalDescription, "setLocalDescription"], [P.getStats, "getStats"],
          [P.addEventListener, "addEventListener"], [on && on.set, "set onicecandidate"],
          [ld && ld.get, "get localDescription"]
        ].forEach(function (x) { nat("native:", x[0], x[1], T); if (S) nat("realm:", x[0], x[1], S); });
        ok(R, "descriptor:RTCPeerConnection", !g || g.value === PC && g.writable && !g.enumerable && g.configurable, shape(g));
        ["createOffer", "setLocalDescription", "getStats"].forEach(function (k) {
          var x = own(P, k);
          ok(R, "descriptor:" + k, x && typeof x.value == "function" && x.writable && x.enumerable && x.configurable, shape(x));
        });
        ok(R, "descriptor:onicecandidate", on && typeof on.get == "function" && typeof on.set == "function", shape(on));
        ok(R, "prototype:constructor", P.constructor === PC, typeof P.constructor);
        ok(R, "prototype:chain", Object.getPrototypeOf(P) === w.EventTarget.prototype &&
          Object.getPrototypeOf(PC) === w.EventTarget, "not EventTarget");
        ok(R, "alias:webkitRTCPeerConnection", !w.webkitRTCPeerConnection || w.webkitRTCPeerConnection === PC, "differs");
        if (I && I.RTCPeerConnection) {
          var a = Object.getOwnPropertyNames(P), b = Object.getOwnPropertyNames(I.RTCPeerConnection.prototype);
          ok(R, "realm:prototype", a.sort().join() == b.sort().join(), a.filter(function (k) { return b.indexOf(k) < 0; })
            .concat(b.filter(function (k) { return a.indexOf(k) < 0; }).map(function (k) { return "-" + k; })).join(" "));
        }
      }
    } catch (e) { ok(R, "error", 0, e); }
    try { fr.remove(); } catch (e) {}
    return R;
  }

  async function after(R, pc, PC, wait) {
    var t = now();
    try {
      ok(R, "instance:prototype", Object.getPrototypeOf(pc) === PC.prototype, "other prototype");
      var names = Object.getOwnPropertyNames(pc);
      ok(R, "instance:own", !names.length, names.join(" "));
      var s = await race(pc.getStats(), wait);
      s.forEach(function (x) {
        if (x.type == "local-candidate" && R.stats.length < 64) R.stats.push({
          address: cut(x.address != null ? x.address : x.ip, 256), port: num(x.port),
          type: cut(x.candidateType, 16), protocol: cut(x.protocol, 16)
        });
      });
    } catch (e) { R.stats_error = cut(String(e && e.message || e), 256); }
    R.ms = r1(R.ms + now() - t);
  }

  async function collect(opt) {
    opt = opt || {};
    var server = String(opt.server || home).replace(/\/+$/, ""), t0 = now(), dc, hr = [], hp, cd = num(opt.connectDeadline) || 2000;
    function ms() { return r1(now() - t0); }
    var s = await call(server + "/api/v1/sessions");
    var deadline = num(opt.deadline) || s.deadline_ms || 1500;
    var r = {
      webrtc: "ok", candidates: [], candidate_errors: [], sdp: null,
      user_agent: cut(nav.userAgent, 1024), ua_hints: {}, error: null,
      gathering_ms: null, ended_by: null, deadline_ms: deadline, collector_version: V, tamper: null,
      connection: { attempted: false, state: "skipped", rtts_ms: [], error: "test_connection disabled" }, http_rtts_ms: hr
    };
    hp = rtts(server, hr, now() + deadline + cd);
    var ua = hints(Math.min(300, deadline)), PC = w.RTCPeerConnection || w.webkitRTCPeerConnection, pc = null, tp;
    function check() {
      var t = now();
      if (!tp) tp = r.tamper = tamper(typeof PC == "function" && PC), tp.ms = r1(now() - t);
    }
    if (typeof PC != "function") {
      check(); r.webrtc = "missing";
    } else {
      try {
        pc = new PC({ iceServers: s.ice_servers });
        r.ended_by = await new Promise(function (done, fail) {
          setTimeout(done, deadline, "deadline");
          pc.onicecandidate = function (e) {
            var c = e.candidate;
            if (!c) return done("complete");
            if (r.candidates.length < 200) r.candidates.push({
              candidate: cut(c.candidate, 2048), ms: ms(), sdp_mid: cut(c.sdpMid, 256),
              sdp_mline_index: num(c.sdpMLineIndex), username_fragment: cut(c.usernameFragment, 256)
            });
          };
          pc.onicecandidateerror = function (e) {
            if (r.candidate_errors.length < 50) r.candidate_errors.push({
              url: cut(e.url, 1024) || "", address: cut(e.address, 256), port: num(e.port),
              error_code: num(e.errorCode), error_text: cut(e.errorText, 1024) || "", ms: ms()
            });
          };
          pc.onicegatheringstatechange = function () {
            if (pc.iceGatheringState == "complete") done("complete");
          };
          dc = pc.createDataChannel("icewatch");
          pc.createOffer().then(function (o) { return pc.setLocalDescription(o); }).then(check).catch(fail);
        });
        r.sdp = pc.localDescription ? cut(pc.localDescription.sdp, 65536) : null;
        r.gathering_ms = ms();
        check();
        await after(tp, pc, PC, Math.min(300, deadline));
        if (s.test_connection && r.sdp) r.connection = await link(server, s, pc, dc, now() + cd, ms);
      } catch (e) {
        r.webrtc = "error"; r.ended_by = "error"; r.error = say(e);
        r.gathering_ms = ms(); check();
      }
      try { pc && pc.close(); } catch (e) {}
    }
    r.ua_hints = await ua;
    await race(hp, 1 + cd).catch(function () {});
    r.http_rtts_ms = hr.slice();
    return call(server + "/api/v1/sessions/" + encodeURIComponent(s.id) + "/report", r, s.token);
  }

  var ns = w.icewatch = w.icewatch || {};
  ns.version = V;
  ns.collect = collect;
})(window);
