"""Real Chromium and Firefox in the sandbox: what they emit, checked against the server's view.

Each scenario runs its browser once per session (see ``conftest.Runs``); the tests then
assert concrete facts about the candidate lines, the SDP and the STUN/TURN datagrams the
test responder received. Run with ``pytest -m browser`` (root, chromium, firefox-esr).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from icewatch.core.ice import parse_candidate, parse_sdp
from icewatch.core.stun import (
    AttrType,
    MessageClass,
    Method,
    StunMessage,
    build_message,
    decode_message,
    decode_text,
    decode_xor_address,
    long_term_key,
    verify_fingerprint,
    verify_message_integrity,
)
from tests.browser.conftest import Runs
from tests.browser.drivers import Harness
from tests.browser.netns import CLIENT, NAT_CLIENT, PROXY, ROUTER, SERVER
from tests.browser.scenarios import SCENARIOS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

UUID4_LOCAL = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.local$"
)
ALL = sorted(SCENARIOS)
HIDDEN = ["chromium-default", "chromium-nat", "firefox-default", "firefox-nat"]
RAW = ["chromium-nomdns", "firefox-noobfuscate"]


@dataclass(frozen=True)
class Line:
    """A candidate line's fields by position (RFC 8839 §5.1), independent of the parser."""

    foundation: str
    transport: str
    priority: int
    address: str
    port: int
    type: str
    raddr: str | None
    rport: int | None

    @classmethod
    def of(cls, line: str) -> Line:
        f = line.removeprefix("a=").removeprefix("candidate:").split()
        ext = dict(zip(f[8::2], f[9::2], strict=False))
        rport = ext.get("rport")
        return cls(
            f[0], f[2].lower(), int(f[3]), f[4], int(f[5]), f[7], ext.get("raddr"),
            None if rport is None else int(rport),
        )  # fmt: skip


@dataclass(frozen=True)
class Seen:
    """A datagram the server received, decoded."""

    src_ip: str
    src_port: int
    msg: StunMessage


def _split(src: str) -> tuple[str, int]:
    host, _, port = src.rpartition(":")
    return host.strip("[]"), int(port)


def received(run: Any) -> list[Seen]:
    out = []
    for d in run.received():
        ip, port = _split(d["src"])
        out.append(Seen(ip, port, decode_message(bytes.fromhex(d["hex"]))))
    return out


def lines(run: Any) -> list[Line]:
    return [Line.of(c) for c in run.candidate_lines]


def _ip_text(value: Any) -> str:
    return str(value.ip) if hasattr(value, "ip") else str(value)


# --- every scenario -------------------------------------------------------------------


@pytest.mark.parametrize("key", ALL)
def test_gathering_completes_with_the_turn_403(runs: Runs, key: str) -> None:
    run = runs[key]
    r = run.result
    assert r["exception"] is None
    assert r["endedBy"] in {"null-candidate", "complete"}, r["endedBy"]
    assert r["gatheringMs"] < 2000
    assert r["candidates"][-1] == {"ms": r["candidates"][-1]["ms"], "end": True}
    # Our responder never allocates: the only error is the 403 to the signed Allocate.
    assert [e["errorCode"] for e in r["errors"]] == [403]
    assert r["errors"][0]["url"].startswith("turn:10.77.1.1:3478")
    # The page, its script and the result came from the client's (NATed) address.
    assert {h["src"].rpartition(":")[0] for h in run.http} == {SCENARIOS[key].public_v4}


@pytest.mark.parametrize("key", ALL)
def test_candidate_lines_parse_and_agree_with_the_candidate_objects(runs: Runs, key: str) -> None:
    run = runs[key]
    assert run.candidate_lines
    for c in run.result["candidates"]:
        if not c.get("candidate"):
            continue
        parsed = parse_candidate(c["candidate"])
        # Chromium gives an IPv6 srflx's RTCIceCandidate.address in brackets ("[fd77:1::2]")
        # while the candidate string has it bare.
        assert _ip_text(parsed.address) == c["address"].strip("[]")
        assert parsed.port == c["port"]
        assert parsed.type.value == c["type"]
        assert parsed.transport.value == c["protocol"]


@pytest.mark.parametrize("key", HIDDEN)
def test_host_candidates_are_uuid4_mdns_names(runs: Runs, key: str) -> None:
    run = runs[key]
    sc = SCENARIOS[key]
    hosts = [x for x in lines(run) if x.type == "host"]
    assert hosts
    for h in hosts:
        assert UUID4_LOCAL.match(h.address), h.address
    # One name per family (UDP), reused by Firefox for its TCP candidates.
    assert len({h.address for h in hosts if h.transport == "udp"}) == 2
    # No host address appears in a candidate line or in the SDP's candidate lines.
    text = "\n".join(run.candidate_lines)
    sdp_cands = "\n".join(x for x in run.result["sdp"].splitlines() if "candidate" in x)
    if sc.role == NAT_CLIENT:  # behind NAT the srflx differs from the host address
        assert sc.host_v4 not in text
        assert sc.host_v4 not in sdp_cands
    assert all(x.raddr in {None, "0.0.0.0", "::"} for x in lines(run))


@pytest.mark.parametrize("key", RAW)
def test_raw_host_addresses_when_hiding_is_off(runs: Runs, key: str) -> None:
    sc = SCENARIOS[key]
    udp_hosts = {x.address for x in lines(runs[key]) if x.type == "host" and x.transport == "udp"}
    assert udp_hosts == {sc.host_v4, sc.host_v6}


@pytest.mark.parametrize("key", ALL)
def test_srflx_is_the_source_the_server_saw(runs: Runs, key: str) -> None:
    run = runs[key]
    sc = SCENARIOS[key]
    bindings = [s for s in received(run) if s.msg.method == Method.BINDING]
    seen = {(s.src_ip, s.src_port) for s in bindings}
    # One Binding per family, from the client's public address of that family.
    assert {ip for ip, _ in seen} == {sc.public_v4, sc.host_v6}
    assert len(bindings) == 2
    srflx = {(x.address, x.port) for x in lines(run) if x.type == "srflx"}
    if key == "firefox-noobfuscate":
        # Firefox drops a srflx equal to its host candidate, but it did ask the server:
        # the Binding came from the host candidate's port.
        assert srflx == set()
        hosts = {(x.address, x.port) for x in lines(run) if x.type == "host"}
        assert seen <= hosts
    else:
        assert srflx == seen
        assert (sc.public_v4, next(p for ip, p in seen if ip == sc.public_v4)) in srflx


@pytest.mark.parametrize("key", ALL)
def test_binding_replies_carry_the_source(runs: Runs, key: str) -> None:
    for d in runs[key].datagrams:
        if d["dir"] == "out" and d.get("reply") == "binding-success":
            msg = decode_message(bytes.fromhex(d["hex"]))
            assert verify_fingerprint(msg)
            xma = msg.get(AttrType.XOR_MAPPED_ADDRESS)
            assert xma is not None
            mapped = decode_xor_address(xma.value, msg.transaction_id)
            ip, port = _split(d["dst"])
            assert (str(mapped.ip), mapped.port) == (ip, port)


@pytest.mark.parametrize("key", ["chromium-default", "chromium-nomdns", "chromium-nat"])
def test_chromium_binding_is_bare_and_its_port_is_the_srflx_port(runs: Runs, key: str) -> None:
    run = runs[key]
    sc = SCENARIOS[key]
    srflx = {x.address: x for x in lines(run) if x.type == "srflx"}
    for s in received(run):
        if s.msg.method == Method.BINDING:
            assert len(s.msg.raw) == 20
            assert s.msg.attributes == ()
            assert srflx[s.src_ip].port == s.src_port
    # The libwebrtc shape: generation, ufrag, network-cost 999 (veth: unknown adapter).
    for c in run.candidate_lines:
        assert c.endswith("network-cost 999")
        assert " generation 0 ufrag " in c
    v4 = srflx[sc.public_v4]
    assert v4.priority == 1677729535
    if key == "chromium-nomdns":
        assert (v4.raddr, v4.rport) == (sc.host_v4, v4.port)
    else:
        assert (v4.raddr, v4.rport) == ("0.0.0.0", 0)
        assert (srflx[sc.host_v6].raddr, srflx[sc.host_v6].rport) == ("::", 0)
    hosts = sorted(x.priority for x in lines(run) if x.type == "host")
    assert hosts == [2113937151, 2113942271]  # IPv4 (30), ULA IPv6 (50)
    # Quirks of the JS objects: an IPv6 address in RTCIceCandidate.address is bracketed,
    # and getStats() lists TCP host candidates (port 9) that onicecandidate never gave.
    for c in run.result["candidates"]:
        if c.get("candidate") and ":" in c["address"]:
            assert c["address"].startswith("[")
    assert not any(x.transport == "tcp" for x in lines(run))
    assert {(s["protocol"], s["port"]) for s in run.result["stats"] if s["protocol"] == "tcp"} == {
        ("tcp", 9)
    }


@pytest.mark.parametrize("key", ["firefox-default", "firefox-noobfuscate", "firefox-nat"])
def test_firefox_shape(runs: Runs, key: str) -> None:
    run = runs[key]
    strings = [c.get("candidate") for c in run.result["candidates"] if "candidate" in c]
    assert strings[-1] == ""  # Firefox's empty end-of-candidates string
    for x in lines(run):
        if x.transport == "tcp":
            assert x.port == 9
            assert x.type == "host"
    for c in run.candidate_lines:
        assert " UDP " in c or " TCP " in c
        assert "generation" not in c
        assert "network-cost" not in c
    for x in lines(run):
        if x.type == "srflx":  # raddr 0.0.0.0 even for an IPv6 srflx
            assert (x.raddr, x.rport) == ("0.0.0.0", 0)
    assert "a=end-of-candidates" in run.result["sdp"]


@pytest.mark.parametrize("key", ALL)
def test_turn_allocate_carries_the_username_and_verifies(runs: Runs, key: str) -> None:
    run = runs[key]
    allocs = [s.msg for s in received(run) if s.msg.method == Method.ALLOCATE]
    assert len(allocs) == 2
    first, signed = allocs
    assert AttrType.USERNAME not in first
    assert AttrType.MESSAGE_INTEGRITY not in first
    user = signed.get(AttrType.USERNAME)
    realm = signed.get(AttrType.REALM)
    assert user is not None
    assert realm is not None
    assert decode_text(user.value, "username") == run.turn["username"]
    assert decode_text(realm.value, "realm") == run.turn["realm"]
    key_ok = long_term_key(run.turn["username"], run.turn["realm"], run.turn["password"])
    assert verify_message_integrity(signed, key_ok)
    assert not verify_message_integrity(
        signed, long_term_key(run.turn["username"], run.turn["realm"], "wrong")
    )
    if run.browser == "firefox":  # Firefox adds LIFETIME and FINGERPRINT to its Allocates
        for m in allocs:
            assert AttrType.LIFETIME in m
            assert verify_fingerprint(m)
    else:
        assert all(AttrType.FINGERPRINT not in m for m in allocs)


@pytest.mark.parametrize("key", ALL)
def test_every_received_datagram_is_a_stun_request(runs: Runs, key: str) -> None:
    seen = received(runs[key])  # decode_message raises on anything malformed
    assert seen
    for s in seen:
        assert s.msg.msg_class == MessageClass.REQUEST
        assert s.msg.method in {Method.BINDING, Method.ALLOCATE}
        if AttrType.FINGERPRINT in s.msg:
            assert verify_fingerprint(s.msg)


@pytest.mark.parametrize("key", ALL)
def test_sdp_agrees_with_the_candidate_events(runs: Runs, key: str) -> None:
    run = runs[key]
    sdp = run.result["sdp"].splitlines()
    in_sdp = {Line.of(x) for x in sdp if x.startswith("a=candidate:")}
    assert in_sdp == set(lines(run))
    ufrag = next(x.split(":", 1)[1] for x in sdp if x.startswith("a=ice-ufrag:"))
    frags = {c["usernameFragment"] for c in run.result["candidates"] if c.get("candidate")}
    assert frags == {ufrag}
    parsed = parse_sdp(run.result["sdp"])
    assert parsed.problems == ()
    assert len(parsed.media) == 1  # the data channel's m=application section
    section = parsed.media[0]
    assert section.candidate_errors == ()
    assert len(section.candidates) == len(run.candidate_lines)
    assert (section.ice_ufrag or parsed.ice_ufrag) == ufrag
    assert section.end_of_candidates is (run.browser == "firefox")
    if run.browser == "chromium":  # the event strings carry ufrag, the SDP lines do not
        assert all(f" ufrag {ufrag} " in c for c in run.candidate_lines)
        assert not any(" ufrag " in x for x in sdp if x.startswith("a=candidate:"))


@pytest.mark.parametrize("key", ALL)
def test_dns_goes_only_to_the_local_stub(runs: Runs, key: str) -> None:
    """Chromium asks for Google service names (update, accounts) despite its flags;
    Firefox with the test prefs asks for nothing. None of it leaves the namespace."""
    run = runs[key]
    names = {q["name"] for q in run.dns}
    assert all(q["src"].startswith("127.0.0.1:") for q in run.dns)
    if run.browser == "firefox":
        assert names == set()
    else:
        assert names <= {"update.googleapis.com", "accounts.google.com", "clients2.google.com"}


_TCP_CLIENT = """
import socket, sys
s = socket.create_connection((sys.argv[1], 3478), timeout=3)
s.sendall(bytes.fromhex(sys.argv[2]))
head = b""
while len(head) < 20:
    head += s.recv(20 - len(head))
body = b""
while len(body) < int.from_bytes(head[2:4], "big"):
    body += s.recv(4096)
print(s.getsockname()[1], (head + body).hex())
"""


def test_stun_over_tcp_sees_the_nat_public_address(sandbox: Harness) -> None:
    """The responder's TCP framing (RFC 8489 §6.2.2), from behind the NAT."""
    tid = bytes(range(12))
    request = build_message(Method.BINDING, MessageClass.REQUEST, tid)
    out = sandbox.topo.exec_in(
        NAT_CLIENT, [sys.executable, "-c", _TCP_CLIENT, "10.77.1.1", request.hex()]
    ).split()
    reply = decode_message(bytes.fromhex(out[1]))
    assert reply.msg_class == MessageClass.SUCCESS
    assert reply.transaction_id == tid
    assert verify_fingerprint(reply)
    xma = reply.get(AttrType.XOR_MAPPED_ADDRESS)
    assert xma is not None
    mapped = decode_xor_address(xma.value, tid)
    assert str(mapped.ip) == "10.77.1.254"


# --- the egress guards ----------------------------------------------------------------


_PROBE = (
    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "try:\n    s.sendto(b'x', ('192.0.2.53', 53))\nexcept OSError:\n    pass\n"
)


def test_egress_guards_dropped_nothing_from_the_browsers(runs: Runs, sandbox: Harness) -> None:
    for key in ALL:  # make sure every scenario ran before reading the counters
        runs[key]
    guards = sandbox.topo.guards()
    for role in (CLIENT, NAT_CLIENT, ROUTER, SERVER):
        assert guards[role].packets == 0, guards[role]
        assert guards[role].destinations == ()
    # The guard is live: a packet to a documentation address from the (otherwise idle)
    # proxy namespace is counted, recorded and dropped (sendto fails with EPERM).
    before = guards[PROXY].packets
    sandbox.topo.exec_in(PROXY, [sys.executable, "-c", _PROBE])
    after = sandbox.topo.guard(PROXY)
    assert after.packets == before + 1
    assert "192.0.2.53 udp 53" in after.destinations
