/*! icewatch collector (docs/collector.md). icewatch.collect({server, deadline}) creates a
 * session, gathers ICE candidates against icewatch's own STUN/TURN server only, reports
 * them and resolves to the session JSON. Plain ES2017, no dependencies. */
(function (w) {
  "use strict";
  var V = "1", nav = w.navigator, me = w.document && w.document.currentScript,
    home = me && me.src ? new URL(me.src, w.location.href).origin : w.location.origin;

  function cut(s, n) { return typeof s == "string" ? s.slice(0, n) : s == null ? null : String(s).slice(0, n); }
  function num(v) { return typeof v == "number" && isFinite(v) ? v : null; }

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

  // User-agent client hints, flattened to text; never waits longer than `wait` ms.
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

  async function collect(opt) {
    opt = opt || {};
    var server = String(opt.server || home).replace(/\/+$/, ""), t0 = performance.now();
    function ms() { return Math.round((performance.now() - t0) * 10) / 10; }
    var s = await call(server + "/api/v1/sessions");
    var deadline = num(opt.deadline) || s.deadline_ms || 1500;
    var r = {
      webrtc: "ok", candidates: [], candidate_errors: [], sdp: null,
      user_agent: cut(nav.userAgent, 1024), ua_hints: {}, error: null,
      gathering_ms: null, ended_by: null, deadline_ms: deadline, collector_version: V
    };
    var ua = hints(Math.min(300, deadline)), PC = w.RTCPeerConnection || w.webkitRTCPeerConnection, pc = null;
    if (typeof PC != "function") {
      r.webrtc = "missing";
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
          pc.createDataChannel("icewatch");
          pc.createOffer().then(function (o) { return pc.setLocalDescription(o); }).catch(fail);
        });
        r.sdp = pc.localDescription ? cut(pc.localDescription.sdp, 65536) : null;
      } catch (e) {
        r.webrtc = "error"; r.ended_by = "error"; r.error = cut(String(e && e.name ? e.name + ": " + e.message : e), 1024);
      }
      r.gathering_ms = ms();
      try { pc && pc.close(); } catch (e) { /* closing is best effort */ }
    }
    r.ua_hints = await ua;
    return call(server + "/api/v1/sessions/" + encodeURIComponent(s.id) + "/report", r, s.token);
  }

  var ns = w.icewatch = w.icewatch || {};
  ns.version = V;
  ns.collect = collect;
})(window);
