// Test page: gather ICE candidates against the sandbox's STUN/TURN responder and post
// everything seen to the sink. Query parameters:
//   stun=<url> (repeatable)   turn=<url> (repeatable)   user=<turn username>
//   cred=<turn password>      session=<id>              deadline=<ms, default 3000>
//   sink=<path, default /result/>
// When finished it sets <html data-state="done"> and window.__iwResult.
"use strict";
(async () => {
  const q = new URLSearchParams(location.search);
  const session = q.get("session") || "nosession";
  const deadline = Number(q.get("deadline") || 3000);
  const sink = (q.get("sink") || "/result/") + encodeURIComponent(session);
  const t0 = performance.now();
  const ms = () => Math.round((performance.now() - t0) * 10) / 10;
  const result = {
    session,
    userAgent: navigator.userAgent,
    webdriver: navigator.webdriver,
    startedAt: Date.now(),
    iceServers: [],
    candidates: [],
    errors: [],
    events: [],
    sdp: null,
    stats: [],
    gatheringMs: null,
    endedBy: null,
    exception: null,
  };
  for (const u of q.getAll("stun")) result.iceServers.push({ urls: u });
  for (const u of q.getAll("turn")) {
    result.iceServers.push({ urls: u, username: q.get("user") || "", credential: q.get("cred") || "" });
  }
  let pc = null;
  try {
    pc = new RTCPeerConnection({ iceServers: result.iceServers });
    const done = new Promise((resolve) => {
      pc.onicecandidate = (e) => {
        const c = e.candidate;
        result.candidates.push(c === null ? { ms: ms(), end: true } : {
          ms: ms(),
          candidate: c.candidate,
          sdpMid: c.sdpMid,
          sdpMLineIndex: c.sdpMLineIndex,
          usernameFragment: c.usernameFragment,
          address: c.address, port: c.port, type: c.type, protocol: c.protocol,
          relatedAddress: c.relatedAddress, relatedPort: c.relatedPort, tcpType: c.tcpType,
          url: e.url === undefined ? null : e.url,
        });
        if (c === null) { result.endedBy = "null-candidate"; resolve(); }
      };
      pc.onicecandidateerror = (e) => {
        result.errors.push({
          ms: ms(), address: e.address, port: e.port, url: e.url,
          errorCode: e.errorCode, errorText: e.errorText,
        });
      };
      pc.onicegatheringstatechange = () => {
        result.events.push({ ms: ms(), gatheringState: pc.iceGatheringState });
        if (pc.iceGatheringState === "complete") { result.endedBy = result.endedBy || "complete"; resolve(); }
      };
      setTimeout(() => { result.endedBy = result.endedBy || "deadline"; resolve(); }, deadline);
    });
    pc.createDataChannel("icewatch");
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    result.events.push({ ms: ms(), setLocalDescription: true });
    await done;
    result.gatheringMs = ms();
    result.sdp = pc.localDescription ? pc.localDescription.sdp : null;
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === "local-candidate") {
        result.stats.push({
          address: s.address, port: s.port, candidateType: s.candidateType, protocol: s.protocol,
          relayProtocol: s.relayProtocol, url: s.url, networkType: s.networkType,
        });
      }
    });
  } catch (err) {
    result.exception = String(err);
  } finally {
    if (pc) pc.close();
  }
  window.__iwResult = result;
  try {
    await fetch(sink, { method: "POST", headers: { "content-type": "application/json" },
                        body: JSON.stringify(result) });
  } catch (err) {
    result.postError = String(err);
  }
  document.getElementById("status").textContent = "done";
  document.documentElement.dataset.state = "done";
})();
