"""The network fingerprint on real browser captures: stable across runs of one browser on
one network, different across browsers and networks, free of per-session random parts
and exact addresses; the population statistics; and, for any input, a value of fixed
shape and no exception."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.core.rerun import rerun
from tests.core.scoring.capture_evidence import BASE, CAPTURES, SESSION, evidence, load
from tests.core.scoring.test_properties import ADDRESSES, observation_lists, page_reports

from icewatch.core.correlate import correlate
from icewatch.core.evidence import (
    HttpSighting,
    IntelEvidence,
    IntelLookup,
    PageReport,
    ReportedCandidate,
    SessionEvidence,
    WebRtcStatus,
)
from icewatch.core.fingerprint import (
    COMPONENTS,
    ID_LENGTH,
    MAX_VALUE,
    MIN_RELIABLE_POPULATION,
    NetworkFingerprint,
    Population,
    fingerprint_document,
    is_fingerprint_id,
    network_fingerprint,
    one_in,
    surprisal_bits,
)
from icewatch.core.intel.model import IntelResult

NAMES = [name for name, _ in COMPONENTS]
DOCS = Path(__file__).resolve().parents[2] / "docs"


def fp(name_or_doc: str | dict[str, Any], **kw: Any) -> NetworkFingerprint:
    result = network_fingerprint(correlate(evidence(name_or_doc, **kw)))
    assert result is not None
    return result


def comps(f: NetworkFingerprint) -> dict[str, str]:
    return f.component_map()


# --- stability ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_the_same_browser_twice_has_the_same_fingerprint(path: Path) -> None:
    doc = load(str(path))
    first = fp(doc)
    for seed in (1, 2, 3):
        again = rerun(doc, seed)
        # The second run really differs in its random parts...
        lines = [c.get("candidate") for c in doc["candidates"]]
        assert [c.get("candidate") for c in again["candidates"]] != lines
        assert again["sdp"] != doc["sdp"]
        # ...and is scored the same way, with the same fingerprint.
        second = fp(again, session_id=f"rerun{seed}")
        assert second == first, (comps(first), comps(second))


def test_a_fingerprint_does_not_depend_on_session_id_or_time() -> None:
    ev = evidence("chromium-156-default")
    later = dataclasses.replace(
        ev,
        session_id="anotherSession00000001",
        created_at=ev.created_at + 86400,
        reported_at=(ev.reported_at or 0) + 86400,
        observations=tuple(dataclasses.replace(o, at=o.at + 86400) for o in ev.observations),
    )
    assert network_fingerprint(correlate(later)) == network_fingerprint(correlate(ev))


# --- what tells networks and browsers apart ----------------------------------------------


def test_chromium_and_firefox_differ() -> None:
    for scenario in ("default", "nat"):
        chromium, firefox = fp(f"chromium-156-{scenario}"), fp(f"firefox-153-{scenario}")
        assert chromium.id != firefox.id
        c, f = comps(chromium), comps(firefox)
        assert (c["engine"], f["engine"]) == ("libwebrtc", "firefox")
        assert (c["tcp"], f["tcp"]) == ("none", "host:active")
        assert (c["costs"], f["costs"]) == ("999", "none")
        assert c["hosts"] == "mdns:ipv4=1,mdns:ula=1"  # libwebrtc priorities tell the class
        assert f["hosts"] == "mdns:hidden=2"  # nICEr's do not


def test_nat_and_direct_differ() -> None:
    for browser in ("chromium-156", "firefox-153"):
        direct, nat = fp(f"{browser}-default"), fp(f"{browser}-nat")
        assert direct.id != nat.id
        assert comps(direct)["public_v6"] == "fd77:1::/48"
        assert comps(nat)["public_v6"] == "fd77:20::/48"
        # The routers' IPv4 addresses share one /24 in the sandbox: the prefix is the same.
        assert comps(direct)["public_v4"] == comps(nat)["public_v4"] == "10.77.1.0/24"


def test_mdns_policy_and_raw_hosts() -> None:
    hidden, raw = comps(fp("chromium-156-default")), comps(fp("chromium-156-nomdns"))
    assert (hidden["mdns"], raw["mdns"]) == ("names", "raw")
    assert raw["hosts"] == "ip:private=1,ip:unique_local=1"
    assert (hidden["nat"], raw["nat"]) == ("v4=hidden,v6=hidden", "v4=direct,v6=direct")
    ff = comps(fp("firefox-153-noobfuscate"))
    assert ff["srflx"] == "none"  # Firefox drops a srflx equal to its host address
    assert ff["nat"] == "v4=direct,v6=direct"
    ids = {fp(p.stem).id for p in CAPTURES}
    assert len(ids) == len(CAPTURES), "every recorded scenario has its own fingerprint"


def test_a_proxy_for_http_changes_the_path_component() -> None:
    direct = fp("chromium-156-nat")
    proxied = fp("chromium-156-nat", http_ip="198.51.100.7")
    assert comps(direct)["http_path"] == "v4=same"
    assert comps(proxied)["http_path"] == "v4=different"
    assert direct.id != proxied.id
    # The public prefix comes from what the STUN/TURN server saw, not from the proxy.
    assert comps(proxied)["public_v4"] == "10.77.1.0/24"


def test_an_as_number_from_ip_intelligence_replaces_the_prefix() -> None:
    ev = evidence("chromium-156-nat", http_ip="10.77.1.3")
    lookups = (
        IntelLookup(ipaddress.ip_address("10.77.1.254"), ("observed",), IntelResult(asn=64500)),
        IntelLookup(ipaddress.ip_address("10.77.1.3"), ("http",), IntelResult(asn=64501)),
    )
    with_asn = dataclasses.replace(ev, intel=IntelEvidence(data="test", lookups=lookups))
    c = comps(fp_of(with_asn))
    assert c["public_v4"] == "AS64500"
    assert c["public_v6"] == "fd77:20::/48"  # no AS known for it: the prefix stays
    # Compared as networks: the proxy is in another AS, though in the same /24.
    assert comps(fp_of(ev))["http_path"] == "v4=same"
    assert c["http_path"] == "v4=different"
    same_as = dataclasses.replace(
        with_asn,
        intel=IntelEvidence(
            lookups=(lookups[0], dataclasses.replace(lookups[1], result=IntelResult(asn=64500)))
        ),
    )
    assert comps(fp_of(same_as))["http_path"] == "v4=same"


def test_no_random_parts_and_no_exact_addresses_in_the_components() -> None:
    for path in CAPTURES:
        doc = load(str(path))
        f = fp(doc)
        text = json.dumps(f.as_dict())
        lines = [c["candidate"] for c in doc["candidates"] if c.get("candidate")]
        for line in lines:
            tokens = line.split(" ")
            foundation, port = tokens[0].split(":", 1)[1], tokens[5]
            if len(foundation) > 2:
                assert foundation not in text
            if int(port) > 9:
                assert port not in text
            for i, token in enumerate(tokens[:-1]):
                if token == "ufrag":
                    assert tokens[i + 1] not in text
        assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", text), "an mDNS UUID"
        for addr in doc["network"]["client_host_addresses"] + [doc["network"]["client_public_v4"]]:
            ip = ipaddress.ip_address(addr)
            assert re.search(rf"(?<![\w:.]){re.escape(str(ip))}(?![\w:/])", text) is None, addr


def test_webrtc_missing_and_no_report() -> None:
    ev = evidence("chromium-156-default")
    missing = dataclasses.replace(
        ev, report=PageReport(webrtc=WebRtcStatus.MISSING), observations=()
    )
    c = comps(fp_of(missing))
    assert c["webrtc"] == "missing"
    assert c["udp"] == "n/a"
    assert c["public_v4"] == "10.77.1.0/24"  # from the HTTP client address
    assert c["http_path"] == "v4=unobserved"
    assert c["hosts"] == c["engine"] == c["srflx"] == c["turn"] == "none"
    blocked = dataclasses.replace(ev, observations=())
    assert comps(fp_of(blocked))["udp"] == "blocked"
    assert network_fingerprint(correlate(dataclasses.replace(ev, report=None))) is None


def fp_of(ev: SessionEvidence) -> NetworkFingerprint:
    result = network_fingerprint(correlate(ev))
    assert result is not None
    return result


def test_values_stay_bounded_whatever_the_page_sends() -> None:
    lines = [
        f"candidate:{i} 1 udp 2122260223 10.{i // 250}.{i % 250}.1 {1024 + i} typ host "
        f"generation 0 network-cost {i}"
        for i in range(200)
    ]
    ev = evidence("chromium-156-default")
    assert ev.report is not None
    report = dataclasses.replace(
        ev.report, candidates=tuple(ReportedCandidate(line) for line in lines), sdp=None
    )
    f = fp_of(dataclasses.replace(ev, report=report))
    for name, value in f.components:
        assert len(value) <= MAX_VALUE, name
    assert comps(f)["hosts"] == "ip:private=200"
    assert comps(f)["costs"].endswith(",+196")


# --- any input ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    report=page_reports(),
    observed=observation_lists(),
    http=st.sampled_from(ADDRESSES),
)
def test_any_report_gives_a_fingerprint_of_fixed_shape(
    report: PageReport, observed: tuple[Any, ...], http: str
) -> None:
    ip = ipaddress.ip_address(http)
    ev = SessionEvidence(
        session_id=SESSION,
        created_at=BASE,
        http=HttpSighting(peer_ip=ip, client_ip=ip, at=BASE),
        report=report,
        reported_at=BASE + 1,
        observations=observed,
    )
    f = fp_of(ev)
    assert f.id.startswith("fp1:")
    assert len(f.id) == ID_LENGTH == 24
    assert is_fingerprint_id(f.id)
    assert [name for name, _ in f.components] == NAMES
    assert all(value and len(value) <= MAX_VALUE for _, value in f.components)
    assert fp_of(ev) == f  # a pure function
    json.dumps(fingerprint_document(f, Population(10, 1)), allow_nan=False)


def test_is_fingerprint_id() -> None:
    assert is_fingerprint_id("fp1:" + "0" * 20)
    assert not is_fingerprint_id("fp1:" + "0" * 19)
    assert not is_fingerprint_id("fp2:" + "0" * 20)
    assert not is_fingerprint_id("fp1:" + "G" * 20)
    assert not is_fingerprint_id(None)


# --- statistics --------------------------------------------------------------------------


def test_surprisal_and_share() -> None:
    assert surprisal_bits(1, 1) == 0.0
    assert surprisal_bits(1, 1024) == 10.0
    assert surprisal_bits(3, 4) == round(math.log2(4 / 3), 2) == 0.42
    assert one_in(3, 240) == 80.0
    assert one_in(1, 3) == 3.0
    for bad in ((0, 10), (5, 0), (11, 10), (-1, 5)):
        assert surprisal_bits(*bad) is None
        assert one_in(*bad) is None


def test_fingerprint_document_with_and_without_population() -> None:
    f = fp("chromium-156-nat")
    assert fingerprint_document(None) is None
    bare = fingerprint_document(f)
    assert bare is not None
    assert bare["id"] == f.id
    assert bare["recipe"] == 1
    assert bare["population"] is None
    assert [c["name"] for c in bare["components"]] == NAMES
    assert all(c["sessions"] is None and c["bits"] is None for c in bare["components"])
    assert all(c["description"] for c in bare["components"])

    per = tuple((n, v, 2 if n == "public_v6" else 8) for n, v in f.components)
    small = fingerprint_document(f, Population(total=8, matching=1, components=per))
    assert small is not None
    pop = small["population"]
    assert pop == {
        "sessions": 8,
        "matching": 1,
        "one_in": 8.0,
        "bits": 3.0,
        "max_bits": 3.0,
        "reliable": False,
        "note": pop["note"],
    }
    assert "Unique among the 8" in pop["note"]
    assert f"fewer than {MIN_RELIABLE_POPULATION}" in pop["note"]
    v6 = next(c for c in small["components"] if c["name"] == "public_v6")
    assert (v6["sessions"], v6["one_in"], v6["bits"]) == (2, 4.0, 2.0)
    engine = next(c for c in small["components"] if c["name"] == "engine")
    assert (engine["sessions"], engine["bits"]) == (8, 0.0)

    big = fingerprint_document(f, Population(total=1000, matching=10))
    assert big is not None
    assert big["population"]["reliable"] is True
    assert (
        big["population"]["note"] == "10 of the 1000 fingerprinted sessions stored here share it."
    )
    assert all(c["sessions"] == 0 and c["bits"] is None for c in big["components"])

    none = fingerprint_document(f, Population(total=5, matching=0))
    assert none is not None
    assert none["population"]["one_in"] is None
    assert "rescore" in none["population"]["note"]
    empty = fingerprint_document(f, Population(total=0, matching=0))
    assert empty is not None
    assert empty["population"]["max_bits"] is None


# --- docs --------------------------------------------------------------------------------


def test_docs_describe_every_component() -> None:
    text = (DOCS / "fingerprint.md").read_text("utf-8")
    for name in NAMES:
        assert f"`{name}`" in text, name
    assert "fp1:" in text
    json_doc = (DOCS / "json-output.md").read_text("utf-8")
    section = json_doc.split("\n## Session JSON\n", 1)[1].split("\n## ", 1)[0]
    example = json.loads(section.split("```json\n", 1)[1].split("\n```", 1)[0])
    real = fingerprint_document(fp("chromium-156-nat", http_ip="10.77.1.3"), Population(2, 1))
    assert real is not None
    assert set(example["fingerprint"]) == set(real)
    assert set(example["fingerprint"]["population"]) == set(real["population"])
    assert set(example["fingerprint"]["components"][0]) == set(real["components"][0])
    assert example["fingerprint"]["id"] == real["id"]
