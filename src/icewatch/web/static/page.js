// The leak-test page: run the collector, then show the session JSON in plain words.
// Contract for tools driving the page: window.icewatch.result is a Promise of the session
// JSON, and <html data-icewatch-state> becomes "done" when the page has finished (also
// after a failure, with data-icewatch-error set). Everything is rendered with textContent:
// candidate strings and SDP are untrusted text.
(function () {
  "use strict";
  var root = document.documentElement;
  var ns = window.icewatch;
  var started = performance.now();

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  // Text with `code` spans (the rule table's texts use backticks), rendered safely.
  function prose(tag, text) {
    var e = el(tag);
    String(text).split("`").forEach(function (part, i) {
      e.appendChild(i % 2 ? el("code", part) : document.createTextNode(part));
    });
    return e;
  }
  function list(items, empty) {
    if (!items.length) return el("p", empty, "muted");
    var ul = el("ul");
    items.forEach(function (item) { ul.appendChild(typeof item == "string" ? el("li", item) : item); });
    return ul;
  }

  function row(tbody, cells) {
    var tr = el("tr");
    cells.forEach(function (c) { tr.appendChild(el("td", c == null ? "" : c)); });
    tbody.appendChild(tr);
  }

  function arr(x) { return Array.isArray(x) ? x : []; }

  function addressCell(id, items, empty) {
    clear($(id)).appendChild(list(items.map(function (it) {
      var li = el("li");
      li.appendChild(el("code", it.ip));
      if (it.note) li.appendChild(document.createTextNode("  " + it.note));
      return li;
    }), empty));
  }

  function renderAddresses(doc) {
    var http = doc.http || {}, pub = doc.public_ips || {};
    addressCell("http-addr", http.client_ip ? [{
      ip: http.client_ip,
      note: (http.family || "") + (http.peer_ip && http.peer_ip !== http.client_ip ? ", via proxy " + http.peer_ip : "")
    }] : [], "unknown");
    addressCell("observed-addr", arr(pub.observed).map(function (o) {
      return { ip: o.ip, note: [o.family, arr(o.sources).join("+"), arr(o.transports).join("+"),
        o.matches_http ? "same as HTTP" : (o.family && http.family && o.family !== http.family
          ? "other family than HTTP" : "differs from HTTP")].filter(Boolean).join(", ") };
    }), "none: no WebRTC packet reached the server");
    addressCell("reported-addr", arr(pub.reported).map(function (o) {
      return { ip: o.ip, note: [o.family, arr(o.types).join("+"),
        o.seen_by_server ? "seen by the server" : "NOT seen by the server"].filter(Boolean).join(", ") };
    }), "none");
  }

  function renderLocal(doc) {
    var box = clear($("local")), names = arr(doc.mdns_names);
    box.appendChild(el("h3", "Local addresses"));
    box.appendChild(list(arr(doc.local_ips).map(function (l) {
      var li = el("li");
      li.appendChild(el("code", l.ip));
      li.appendChild(document.createTextNode("  " + [l.family, l.category, arr(l.where).join("+")].filter(Boolean).join(", ")));
      return li;
    }), "None exposed: your browser hid its local addresses."));
    box.appendChild(el("h3", "mDNS names"));
    box.appendChild(list(names.map(function (n) { return el("li", n); }), "None."));
    if (names.length) {
      box.appendChild(el("p", "These random .local names stand in for your local addresses; " +
        "devices on your own network can resolve them, web sites cannot.", "note"));
    }
  }

  function renderIpv6(doc) {
    var v6 = doc.ipv6 || {};
    var lines = [
      "Your HTTP connection uses " + (v6.http_over_ipv6 ? "IPv6." : "IPv4."),
      arr(v6.observed).length ? "IPv6 packets reached the server from: " + arr(v6.observed).join(", ")
        : "No WebRTC packet reached the server over IPv6.",
      arr(v6.reported).length ? "IPv6 addresses in the candidates: " + arr(v6.reported).join(", ")
        : "No IPv6 address in the candidates.",
      arr(v6.global).length ? "Globally routable IPv6 exposed: " + arr(v6.global).join(", ")
        : "No globally routable IPv6 address exposed."
    ];
    arr(v6.mdns_hosts).forEach(function (h) {
      lines.push("An mDNS name hides an IPv6 address (" + h.address_class + "): " + h.name);
    });
    var box = clear($("ipv6"));
    box.appendChild(list(lines, ""));
    box.appendChild(el("p", "A VPN that carries only IPv4 leaves native IPv6 open: if an IPv6 " +
      "address above is your provider's while your HTTP address is the VPN's, WebRTC leaks it.", "note"));
  }

  function renderTables(doc) {
    var tb = clear($("candidates").tBodies[0]);
    arr(doc.candidates).forEach(function (c) {
      var rel = c.related_address != null ? c.related_address + (c.related_port != null ? ":" + c.related_port : "") : "";
      var seen = c.seen_by_server === true ? " ✓ seen" : c.seen_by_server === false ? " ✗ not seen" : "";
      row(tb, [c.type + seen, c.protocol, c.address + (c.mdns ? " (mDNS)" : ""), c.port, rel, c.raw]);
    });
    arr(doc.malformed_candidates).forEach(function (m) {
      row(tb, ["malformed", "", m.field + ": " + m.reason, "", m.where, m.raw]);
    });
    if (!tb.rows.length) row(tb, ["no candidates"]);
    var ob = clear($("observed").tBodies[0]);
    arr(doc.observed).forEach(function (o) {
      row(ob, [o.source + " " + (o.kind || ""), o.ip, o.port, o.transport,
        o.ms != null ? "+" + o.ms + " ms" : (o.at || "")]);
    });
    if (!ob.rows.length) row(ob, ["no packets"]);
  }

  function renderVerdict(doc, catalog) {
    var v = doc.verdict || {};
    var box = clear($("verdict"));
    var badge = el("p", null, "level level-" + (v.level || "unknown"));
    badge.appendChild(el("strong", "Level: " + (v.level || "unknown")));
    badge.appendChild(document.createTextNode("  score " + (v.score != null ? v.score : "?") + " / 100"));
    box.appendChild(badge);
    var sigs = clear($("signals"));
    var signals = Array.isArray(v.signals) ? v.signals : [];
    if (!signals.length) sigs.appendChild(el("p", "No signal fired: nothing suspicious, nothing exposed.", "muted"));
    signals.forEach(function (s) {
      var rule = catalog[s.code] || {};
      var d = el("details", null, "signal" + (s.weight ? " weighted" : " info"));
      var sum = el("summary");
      sum.appendChild(el("code", s.code));
      sum.appendChild(document.createTextNode(" — " + (rule.title || "") + (s.weight ? " (weight " + s.weight + ")" : " (informational)")));
      d.appendChild(sum);
      d.appendChild(prose("p", s.summary || ""));
      if (rule.description) { d.appendChild(el("h4", "What it means")); d.appendChild(prose("p", rule.description)); }
      if (rule.benign_causes && rule.benign_causes.length) {
        d.appendChild(el("h4", "Why it may be harmless"));
        d.appendChild(list(rule.benign_causes.map(function (t) { return prose("li", t); }), ""));
      }
      if (rule.fixes && rule.fixes.length) {
        d.appendChild(el("h4", "How to fix a leak"));
        d.appendChild(list(rule.fixes.map(function (t) { return prose("li", t); }), ""));
      }
      d.appendChild(el("h4", "Evidence"));
      d.appendChild(el("pre", JSON.stringify(s.evidence || {}, null, 2)));
      sigs.appendChild(d);
    });
  }

  function fingerprintSection() {
    var sec = $("fingerprint-section");
    if (sec) return sec;
    sec = el("section");
    sec.id = "fingerprint-section";
    sec.setAttribute("aria-labelledby", "fingerprint-title");
    var h = el("h2", "Network fingerprint");
    h.id = "fingerprint-title";
    sec.appendChild(h);
    var body = el("div");
    body.id = "fingerprint";
    sec.appendChild(body);
    var after = $("verdict-section");
    after.parentNode.insertBefore(sec, after.nextSibling);
    return sec;
  }

  function share(n) { return n == null ? "–" : "1 in " + n; }

  function renderFingerprint(doc) {
    fingerprintSection();
    var box = clear($("fingerprint"));
    var fp = doc.fingerprint;
    if (!fp) { box.appendChild(el("p", "No fingerprint: the page has not reported.", "muted")); return; }
    var head = el("p");
    head.appendChild(el("code", fp.id));
    box.appendChild(head);
    var pop = fp.population;
    if (pop) {
      var line = el("p", null, "fingerprint-share");
      line.appendChild(el("strong", pop.one_in == null
        ? "No stored session shares this network shape."
        : pop.matching >= pop.sessions ? "All " + pop.sessions + " sessions stored here share this network shape."
        : pop.matching == 1 ? "No other session stored here shares this network shape (1 of " + pop.sessions + ")."
        : share(pop.one_in) + " sessions share this network shape (" + pop.matching + " of " + pop.sessions + ")."));
      if (pop.bits != null) {
        line.appendChild(document.createTextNode(" " + pop.bits + " bits of identifying " +
          "information (at most " + pop.max_bits + " among the " + pop.sessions + " sessions stored here)."));
      }
      box.appendChild(line);
      box.appendChild(el("p", pop.note || "", "note"));
    } else {
      box.appendChild(el("p", "The population statistics are not available right now.", "muted"));
    }
    box.appendChild(el("p", "The fingerprint describes the shape of your network, not you: the " +
      "public network you leave from, your interfaces, adapters, IPv6 and browser engine. " +
      "Ports, mDNS names and other per-visit random values are left out.", "note"));
    var t = el("table", null, "grid");
    t.id = "fingerprint-components";
    var thead = t.createTHead().insertRow();
    ["part", "value", "sessions with it", "bits"].forEach(function (h) {
      var th = document.createElement("th");
      th.textContent = h;
      thead.appendChild(th);
    });
    var tb = t.createTBody();
    arr(fp.components).forEach(function (c) {
      var tr = tb.insertRow();
      var name = tr.insertCell();
      name.appendChild(el("code", c.name));
      if (c.description) name.title = c.description;
      tr.insertCell().textContent = c.value;
      tr.insertCell().textContent = c.sessions == null ? "–" : share(c.one_in) + " (" + c.sessions + ")";
      tr.insertCell().textContent = c.bits == null ? "–" : c.bits;
      if (c.bits != null && c.bits >= 3) tr.className = "rare";
    });
    var scroll = el("div", null, "scroll");
    scroll.appendChild(t);
    box.appendChild(scroll);
  }

  // The test connection (a data channel to the server's own peer) and the inferred
  // WebRTC IP-handling policy; rendered from whatever the session JSON carries.
  function connectionSection() {
    var sec = $("connection-section");
    if (sec) return sec;
    sec = el("section");
    sec.id = "connection-section";
    sec.setAttribute("aria-labelledby", "connection-title");
    var h = el("h2", "Test connection and WebRTC policy");
    h.id = "connection-title";
    sec.appendChild(h);
    var body = el("div");
    body.id = "connection";
    sec.appendChild(body);
    var after = $("verdict-section");
    after.parentNode.insertBefore(sec, after.nextSibling);
    return sec;
  }

  function rttText(st, raw) {
    var s = st && typeof st == "object" ? arr(st.samples) : arr(raw);
    if (!s.length) return "no sample";
    var sorted = s.slice().sort(function (a, b) { return a - b; });
    return "median " + sorted[Math.floor((sorted.length - 1) / 2)] + " ms, min " + sorted[0] +
      " ms (" + s.length + " sample" + (s.length > 1 ? "s" : "") + ")";
  }

  function renderConnection(doc) {
    connectionSection();
    var box = clear($("connection")), rep = doc.report || {}, rc = rep.connection || {};
    var c = doc.connection || {}, lines = [];
    var state = c.state || rc.state;
    lines.push(!state ? "The page did not report a test connection." :
      state === "connected" ? "A WebRTC data channel to the server opened" +
        (c.open_ms != null || rc.open_ms != null ? " after " + (c.open_ms != null ? c.open_ms : rc.open_ms) + " ms." : ".")
      : "Test connection: " + state + ((c.server_error || rc.server_error) ? " (server: " + (c.server_error || rc.server_error) + ")"
        : (c.error || rc.error) ? " (" + (c.error || rc.error) + ")" : "") + ".");
    var ice = arr(c.ice_addresses).map(function (a) { return a.ip; });
    if (!ice.length) ice = arr(doc.observed).filter(function (o) { return o.source === "ice"; }).map(function (o) { return o.ip; });
    var stun = arr(doc.observed).filter(function (o) { return o.source === "stun" || o.source === "turn"; })
      .map(function (o) { return o.ip + (o.transport === "tcp" ? " (TCP)" : ""); });
    lines.push("Address the connection's ICE checks came from: " + (ice.length ? ice.filter(function (x, i) { return ice.indexOf(x) === i; }).join(", ") : "none"));
    lines.push("Address the STUN/TURN packets came from: " + (stun.length ? stun.filter(function (x, i) { return stun.indexOf(x) === i; }).join(", ") : "none"));
    lines.push("Round trip over WebRTC: " + rttText(c.page_rtt_ms, rc.rtts_ms) +
      (c.server_rtt_ms && arr(c.server_rtt_ms.samples).length ? "; measured by the server: " + rttText(c.server_rtt_ms) : ""));
    lines.push("Round trip over HTTP: " + rttText(c.http_rtt_ms, rep.http_rtts_ms));
    box.appendChild(list(lines, ""));
    var p = doc.policy;
    if (p && typeof p == "object") {
      var head = el("p");
      head.appendChild(el("strong", "WebRTC IP-handling policy: "));
      head.appendChild(el("code", String(p.policy || p.name || "unknown")));
      if (p.engine) head.appendChild(document.createTextNode(" (" + p.engine + (p.confidence != null ? ", confidence " + p.confidence : "") + ")"));
      box.appendChild(head);
      if (p.meaning) box.appendChild(prose("p", p.meaning));
      if (p.setting) { var st = el("p", "Set by: ", "note"); st.appendChild(el("code", p.setting)); box.appendChild(st); }
      if (arr(p.alternatives).length) box.appendChild(el("p", "Looks the same: " + arr(p.alternatives).join(", "), "note"));
      if (arr(p.reasons).length) box.appendChild(list(arr(p.reasons).map(function (t) { return prose("li", t); }), ""));
    } else {
      box.appendChild(el("p", "No WebRTC policy could be inferred.", "muted"));
    }
  }

  // Who the browser says it is (user agent, client hints) and which WebRTC stack answered.
  function renderClient(doc) {
    var box = $("client"), c = doc.client, d = doc.dialect, parts = [];
    if (!box) return;
    if (c) parts.push("Your browser says it is " + (c.browser || "an unrecognised browser") +
      (c.browser_major != null ? " " + c.browser_major : "") + (c.os ? " on " + c.os : "") +
      " (" + c.device + ", engine " + c.engine + ").");
    if (d) parts.push(d.dialect === "unknown" ? "Its WebRTC output matches no known stack."
      : "Its WebRTC output is written the " + d.dialect + " way (confidence " + d.confidence + ").");
    box.textContent = parts.join(" ");
  }

  function render(doc, catalog) {
    renderVerdict(doc, catalog);
    renderFingerprint(doc);
    renderConnection(doc);
    renderAddresses(doc);
    renderLocal(doc);
    renderIpv6(doc);
    renderTables(doc);
    $("sdp").textContent = typeof doc.sdp == "string" && doc.sdp ? doc.sdp : "(no SDP reported)";
    var rep = doc.report || {};
    var how = rep.webrtc === "missing" ? "WebRTC is not available in this browser."
      : rep.webrtc === "error" ? "WebRTC failed: " + (rep.error || "unknown error")
      : "Gathering ended by " + (rep.ended_by || "?") + " after " + rep.gathering_ms + " ms.";
    $("gathering").textContent = how;
    renderClient(doc);
    $("json").textContent = JSON.stringify(doc, null, 2);
  }

  function catalogPromise() {
    return fetch("/api/v1/signals", { cache: "no-store" }).then(function (r) {
      return r.ok ? r.json() : [];
    }).then(function (rules) {
      var by = {};
      (Array.isArray(rules) ? rules : []).forEach(function (r) { by[r.code] = r; });
      return by;
    }, function () { return {}; });
  }

  function finish(error) {
    if (error) root.dataset.icewatchError = String(error.message || error);
    root.dataset.icewatchState = "done";
  }

  if (!ns || typeof ns.collect != "function") {
    $("status").textContent = "The collector script did not load.";
    ns = window.icewatch = window.icewatch || {};
    ns.result = Promise.reject(new Error("collector.js did not load"));
    ns.result.catch(function () {});
    finish(new Error("collector.js did not load"));
    return;
  }
  root.dataset.icewatchState = "running";
  var catalog = catalogPromise();
  // ?deadline=MS overrides the collector's deadline (100..60000), for experiments.
  var asked = Number(new URLSearchParams(location.search).get("deadline"));
  var options = asked >= 100 && asked <= 60000 ? { deadline: asked } : {};
  ns.result = ns.collect(options);
  ns.result.then(function (doc) {
    return catalog.then(function (cat) {
      render(doc, cat);
      $("status").textContent = "Done in " + Math.round(performance.now() - started) + " ms.";
      finish(null);
    });
  }).catch(function (err) {
    $("status").textContent = "The test failed: " + (err && err.message ? err.message : err);
    $("status").className = "warn";
    finish(err);
  });
})();
