"""The rule table: every signal icewatch raises, its default weight, and its explanation.

``docs/signals.md`` is rendered from this table (:func:`render_signal_docs`), and the
leak-test page can show the same text (:meth:`Rule.as_dict`), so the words a visitor
reads and the docs an operator reads never drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from icewatch.core.scoring.codes import SignalCode
from icewatch.core.scoring.rule import Rule
from icewatch.core.scoring.rules_candidate import candidate_malformed, candidate_spoofed
from icewatch.core.scoring.rules_conn import (
    RTT_MIN_EXTRA_MS,
    RTT_MIN_RATIO,
    RTT_MIN_SAMPLES,
    conn_failed,
    conn_rtt_mismatch,
    net_webrtc_proxied,
)
from icewatch.core.scoring.rules_env import (
    candidate_shape_mismatch,
    env_ua_network_mismatch,
    net_vpn_interface,
)
from icewatch.core.scoring.rules_forensics import webrtc_api_tampered
from icewatch.core.scoring.rules_intel import (
    ip_crawler,
    ip_datacenter,
    ip_relay_service,
    ip_tor,
    ip_vpn,
)
from icewatch.core.scoring.rules_ip import ip_webrtc_http_mismatch
from icewatch.core.scoring.rules_net import (
    net_cgnat,
    net_ipv6_exposed,
    net_local_ip_exposed,
    net_mdns,
)
from icewatch.core.scoring.rules_webrtc import (
    webrtc_no_candidates,
    webrtc_udp_blocked,
    webrtc_unavailable,
)

__all__ = ["RULES", "RULES_BY_CODE"]

_CHROMIUM_POLICY = (
    "Chromium: set the WebRTC IP handling policy to `disable_non_proxied_udp` (enterprise "
    "policy `WebRtcIPHandling`, or `--webrtc-ip-handling-policy=disable_non_proxied_udp`) "
    "so WebRTC uses the proxy (TURN over TCP through it) or nothing."
)
_FIREFOX_PROXY = (
    "Firefox: set `media.peerconnection.ice.proxy_only_if_behind_proxy` (or "
    "`media.peerconnection.ice.proxy_only`) to `true`, or disable WebRTC with "
    "`media.peerconnection.enabled = false`."
)
_VPN_FULL = (
    "VPN: route all traffic through the tunnel (no split tunnelling), and make sure the VPN "
    "carries IPv6 or IPv6 is disabled, so UDP cannot leave outside it."
)

# --- IP intelligence (rules_intel.py) -----------------------------------------------------
#
# Weights, and why. False positives are the first complaint about every IP list (a home
# ISP listed as hosting, a shared CGNAT address listed as VPN), so no list alone makes a
# session `high`, except the Tor Project's own exit list. What a list says is a fact
# about the *address*, not the person: many people legitimately browse from a cloud
# desktop, a corporate egress proxy or a VPN. The list signals therefore weigh less than
# the server's own observations (`ip.webrtc_http_mismatch`, 50) and add up with them:
# a VPN exit (40) whose user leaks a different address over WebRTC (50) is 70, `high`.
# An observed WebRTC address in a datacenter counts like the HTTP one: packets cannot be
# forged, and a browser whose UDP leaves from a cloud network runs there (a bot) or
# tunnels there (a VPN). Each address gets one class (see rules_intel), so a hosted VPN
# exit weighs 40, not 40 and 35.

_INTEL_EVIDENCE: tuple[tuple[str, str], ...] = (
    (
        "addresses[]",
        "each listed address: `ip`, `family`, `seen_as` (`http`, `observed`, `reported`), "
        "`where` (`http`, `stun`, `turn`, `srflx`, `host`, `raddr`, `sdp`…), `hits[]` "
        "(the matching sources: `kind`, `provider`, `asn`, `org`, `provenance` {`source`, "
        "`version`, `prefix`, `asn` when matched through an ASN list}, `extra`), "
        "`other_hits[]` (other sources that list it with another kind), `asn`, `org` "
        "(IP → ASN data)",
    ),
    ("count", "how many addresses"),
    (
        "allowed[]",
        "addresses of this class an operator allow-list covers (no signal for them): "
        "`ip`, `seen_as`, `lists[]` (`source`, `version`, `prefix`)",
    ),
    ("data", "which data answered: compiled file and date, embedded default, lists"),
)
_ALLOW_FIX = (
    "Operators: when a list is wrong for your visitors, add the network to an allow-list "
    "(`--list allow=FILE`); allowed addresses raise no `ip.*` signal."
)

INTEL_RULES: tuple[Rule, ...] = (
    Rule(
        code=SignalCode.IP_DATACENTER,
        weight=35,
        title="An address of the session is in a cloud, hosting or CDN network",
        description=(
            "The HTTP client address, an address the server observed, or an address the "
            "page reported is in a network that IP-intelligence data lists as cloud, "
            "hosting or CDN: the providers' own published ranges (AWS, Google, Azure, "
            "Oracle, DigitalOcean, Linode, Vultr, Cloudflare), community lists (X4BNet, "
            "matched directly or through the address's ASN), the embedded default, or an "
            "operator `datacenter` list. Browsers of people normally connect from "
            "residential, mobile or office networks; a browser in a datacenter is "
            "automation, a remote or cloud desktop, or traffic tunnelled through a server "
            "(a self-hosted VPN or proxy). An observed WebRTC address counts like the "
            "HTTP one (packets cannot be forged). Addresses that lists name more "
            "specifically (VPN, Tor, privacy relay, crawler) raise that signal instead. "
            "Weighted to stay `medium` alone: lists are wrong about some home networks."
        ),
        evidence_fields=_INTEL_EVIDENCE,
        benign_causes=(
            "Corporate egress proxies, secure web gateways and cloud desktops hosted in "
            "public clouds.",
            "A self-hosted VPN or proxy on a rented server.",
            "icewatch itself behind a CDN or reverse proxy that is not in "
            "`trusted_proxies`: every visitor then appears to come from it.",
            "Community lists that mark a whole ASN as hosting although it also serves "
            "homes (`provenance.asn` is set for such hits).",
        ),
        fixes=(
            _ALLOW_FIX,
            "Operators behind a CDN or reverse proxy: set `trusted_proxies`.",
        ),
        check=ip_datacenter,
    ),
    Rule(
        code=SignalCode.IP_VPN,
        weight=40,
        title="An address of the session is a known VPN exit",
        description=(
            "An address of the session (HTTP client, observed or reported) is in a network "
            "listed as a commercial VPN's exit: X4BNet's VPN lists (by network or by "
            "ASN), the embedded default (Mullvad, ProtonVPN…), or an operator `vpn` "
            "list. The visitor hides their own address; with `ip.webrtc_http_mismatch` "
            "the real one leaked around the VPN."
        ),
        evidence_fields=_INTEL_EVIDENCE,
        benign_causes=(
            "Privacy-minded people use VPNs every day; many employers require one.",
            "Shared and carrier-grade NAT addresses that a VPN provider also used.",
        ),
        fixes=(_ALLOW_FIX,),
        check=ip_vpn,
    ),
    Rule(
        code=SignalCode.IP_TOR,
        weight=60,
        title="An address of the session is a Tor exit relay",
        description=(
            "An address of the session is on the Tor Project's list of exit relays (or an "
            "operator `tor` list). Traffic from it is anonymised through Tor. Tor Browser "
            "disables WebRTC, so a Tor exit with working WebRTC is usually another "
            "browser or a tool sending its traffic through Tor. The list is the Tor "
            "Project's own, refreshed hourly, hence the weight."
        ),
        evidence_fields=_INTEL_EVIDENCE,
        benign_causes=(
            "People who need anonymity (journalists, people under censorship) use Tor.",
            "An address that was a Tor exit when the list was fetched and was reassigned "
            "since (`provenance.version` tells the list's date).",
        ),
        fixes=(_ALLOW_FIX,),
        check=ip_tor,
    ),
    Rule(
        code=SignalCode.IP_RELAY_SERVICE,
        weight=10,
        title="An address of the session is a privacy relay's egress",
        description=(
            "An address of the session is on the egress list a privacy relay publishes "
            "(iCloud Private Relay), or an operator `relay_service` list. The relay hides "
            "the visitor's address from sites on purpose; it is a benign, mainstream "
            "feature (on by default for many iCloud+ users), so it weighs little and is "
            "kept apart from VPNs and datacenters, whose lists often also contain the "
            "relays' CDN egress networks."
        ),
        evidence_fields=_INTEL_EVIDENCE,
        benign_causes=("iCloud Private Relay in Safari, on by default for iCloud+ users.",),
        fixes=(_ALLOW_FIX,),
        check=ip_relay_service,
    ),
    Rule(
        code=SignalCode.IP_CRAWLER,
        weight=0,
        informational=True,
        title="An address of the session belongs to a declared crawler",
        description=(
            "An address of the session is in a search engine's or other declared "
            "crawler's published ranges (Googlebot, or the embedded default's crawler "
            "ranges). Crawlers that render pages run a headless browser, usually without "
            "WebRTC; this says who is visiting and does not weigh in the score."
        ),
        evidence_fields=_INTEL_EVIDENCE,
        benign_causes=("Search-engine rendering of the page.",),
        fixes=(
            "Nothing leaks here; to keep crawlers away from the leak-test page, disallow it "
            "in robots.txt.",
        ),
        check=ip_crawler,
    ),
)

RULES: tuple[Rule, ...] = (
    Rule(
        code=SignalCode.IP_WEBRTC_HTTP_MISMATCH,
        weight=50,
        title="WebRTC traffic comes from another address than the HTTP connection",
        description=(
            "icewatch's own STUN/TURN server received this session's packets from an address "
            "that differs from the HTTP client address of the same address family. The page "
            "cannot forge where packets come from, so this is a fact, not a claim: the web "
            "request took one path (typically a proxy or VPN) and the browser's UDP took "
            "another, revealing the address behind the proxy. Only addresses the server "
            "observed are compared (a spoofed candidate cannot raise this signal), whatever "
            "their category: in a private network the 'public' address is simply the one "
            "the server saw. Addresses are compared within a family only: HTTP over IPv6 "
            "with WebRTC over IPv4 is ordinary dual stack, not a proxy. Two IPv6 addresses "
            "in the same /64 count as one host (privacy addresses rotate within it)."
        ),
        evidence_fields=(
            ("http_client_ips", "the HTTP client address(es): session creation, then report"),
            ("mismatches[].family", "`ipv4` or `ipv6`"),
            ("mismatches[].http_client_ips", "the HTTP addresses of that family"),
            (
                "mismatches[].observed",
                "the observed address: `ip`, `category`, `where` (stun / turn / ice), "
                "`ports`, `transports`, `first_at` (ISO 8601 UTC)",
            ),
            ("count", "how many observed addresses differ"),
        ),
        benign_causes=(
            "A corporate or school HTTP proxy that does not carry UDP.",
            "A split-tunnel VPN, or a browser extension proxy (HTTP only), used on purpose.",
            "Privacy relays for HTTP such as iCloud Private Relay, which leave WebRTC direct.",
            "A multi-homed client whose TCP and UDP leave through different uplinks "
            "(two ISPs, load balancing, some mobile carriers' NAT pools).",
        ),
        fixes=(_CHROMIUM_POLICY, _FIREFOX_PROXY, _VPN_FULL),
        check=ip_webrtc_http_mismatch,
    ),
    *INTEL_RULES,
    Rule(
        code=SignalCode.CANDIDATE_SPOOFED,
        weight=65,
        title="The page's candidates disagree with what the server observed",
        description=(
            "The candidates the page's JavaScript reported do not match the packets that "
            "reached icewatch for this session. Kinds (in `findings[].kind`): `unseen` — a "
            "srflx candidate names an address and port no packet of this session came from "
            "(a srflx can only exist after icewatch answered a request from exactly that "
            "address, so it was invented or altered; the SDP's candidates are checked as "
            "well as the events); `rewritten` — the server saw the "
            "same port from another address: the address was changed; `hidden` — the "
            "server received this session's Binding request but the page reported no "
            "candidate (srflx, prflx or raw-IP host) with that address and port; `denied` "
            "— the page said WebRTC is missing, yet the session's traffic arrived. Hiding "
            "host addresses behind mDNS names is normal and never counts. Firefox with host "
            "obfuscation off drops a srflx equal to its host address; the raw host "
            "candidate accounts for it. A page that stopped early (its own deadline, or "
            "an error) is given 1 s of grace for Binding requests that arrived just before "
            "its report. More kinds compare the report with the packets' timing and with "
            "itself: `rewritten_port` — a srflx names an address the server saw in this "
            "session, but a port it never saw from it; `premature` — a srflx reached the "
            "page before the server even received the Binding request it answers (the page "
            "started before the server created the session, so `created_at + ms` is the "
            "latest time the event can have happened; 150 ms of margin for coarse timers); "
            "`sdp_connection` / `sdp_rtcp` — the SDP's `c=` (with the `m=` port) or "
            "`a=rtcp` names an address no candidate has, although browsers put their "
            "default candidate (or 0.0.0.0) there; `raddr` — a srflx names a base address "
            "no host candidate has, while raw host candidates are shown; `not_in_sdp` / "
            "`not_in_events` — an event with no copy in the final SDP, or (gathering "
            "complete) an SDP candidate no event delivered (compared on foundation, "
            "component, transport, priority, address, port, type and related address: "
            "Chromium's SDP lines lack the `ufrag` of its events); `ufrag` — a candidate's "
            "`ufrag` or its event's `usernameFragment` is not the SDP's `a=ice-ufrag`."
        ),
        evidence_fields=(
            (
                "findings[]",
                "`kind` (unseen / rewritten / hidden / denied), `where` (`report`: an "
                "`icecandidate` event; `sdp`: the reported SDP), `reported` (the candidate: "
                "`raw`, `ms`, `type`, `address`, `port`, `protocol`) and `observed` (the "
                "packet: `source`, `kind`, `ip`, `port`, `transport`, `family`, `at`)",
            ),
            (
                "findings[] (other kinds)",
                "`kind` (rewritten_port / premature / sdp_connection / sdp_rtcp / raddr / "
                "not_in_sdp / not_in_events / ufrag), `where`, `field` (the part that is "
                "wrong), `expected`, `seen`, `line` (the candidate or SDP line), `sdp_line` "
                "(1-based), `ms`, `observed` (the packet compared with, if any)",
            ),
            ("count", "how many disagreements"),
            ("observed_endpoints", "every `ip:port` the server saw for this session"),
            ("reported_srflx", "every srflx candidate the page reported"),
        ),
        benign_causes=(
            "Rarely, a UDP packet lost between the browser and icewatch after the browser "
            "got its answer (retransmissions make this unlikely).",
            "Several browser tabs or peer connections sharing one session id.",
            "Browser extensions that rewrite WebRTC candidates for privacy do exactly what "
            "this signal detects: benign in intent, but the page is being lied to.",
        ),
        fixes=(
            "To hide an address, do not rewrite candidates in JavaScript (it is detectable): "
            "use the browser's WebRTC IP handling policy (Chromium "
            "`disable_non_proxied_udp`, Firefox `media.peerconnection.ice.proxy_only`) or "
            "disable WebRTC.",
        ),
        check=candidate_spoofed,
    ),
    Rule(
        code=SignalCode.CANDIDATE_MALFORMED,
        weight=30,
        title="Reported candidate lines do not parse, or no browser writes them",
        description=(
            "Some candidate lines the page reported (in `icecandidate` events or in the "
            "SDP) do not follow the candidate grammar of RFC 8839 §5.1 (kind "
            "`unparseable`; `mdns_name` for a `.local` name that is not a UUIDv4), or "
            "parse but break conventions every browser engine (libwebrtc: Chromium, Edge, "
            "Safari…; Firefox) follows: `type_preference` — the priority's type "
            "preference is not the engines' for the candidate's type and transport (host "
            "126, prflx 110, srflx 100, relay 0 to 2 in libwebrtc; host 126, host TCP 125, "
            "srflx 100, relay 5 in Firefox); `local_preference` — the type preference "
            "fits but the local preference is outside that engine's band (libwebrtc: the "
            "low byte is the address precedence of the address shown, 30 for IPv4, 40 "
            "global IPv6, 50 ULA…; Firefox: 0 for hosts, 16 to 31 for srflx, a TCP "
            "direction); `component` — the priority's low byte is not 256 minus the component; "
            "`related_address` — a host with `raddr`, a srflx/prflx/relay without "
            "`raddr`/`rport`, a zeroed `raddr` with a non-zero `rport` or a real one with "
            "port 0; `foundation` — one foundation for candidates of different type, "
            "transport or host base (engines derive it from exactly those). Each "
            "candidate is checked once (events first, then SDP lines with no event). "
            "Conventions real browsers have are allowed: Firefox's IPv6 srflx with `raddr "
            "0.0.0.0`, a NAT64 srflx with an IPv4 address and an IPv6 base. Chromium and "
            "Firefox never produce such lines; scripts that build or rewrite candidates, "
            "or tamper with the report, do."
        ),
        evidence_fields=(
            ("count", "how many lines"),
            (
                "lines[]",
                "`kind` (unparseable / mdns_name / type_preference / local_preference / "
                "component / related_address / foundation), `raw` (the line, up to 512 "
                "characters), `field` and `reason` (where and why it failed), `expected` "
                "and `seen` (plausibility kinds), `where` (`report` or `sdp`), `ms` "
                "(report events), `sdp_line` (SDP, 1-based)",
            ),
        ),
        benign_causes=(
            "A browser extension or an unusual WebRTC stack that writes non-standard "
            "candidate lines.",
            "A non-browser ICE agent (aiortc, pion, a native app) reporting through the "
            "collector's API: their priorities follow RFC 8445 but not a browser's layout.",
            "A page that embeds the collector and alters the report.",
        ),
        fixes=(),
        check=candidate_malformed,
    ),
    Rule(
        code=SignalCode.WEBRTC_UNAVAILABLE,
        weight=20,
        title="WebRTC is missing or failed",
        description=(
            "The collector found no `RTCPeerConnection`, or creating one threw. Browsers "
            "ship WebRTC enabled; it is absent when disabled by the user, a policy or an "
            "extension, in some embedded or privacy-hardened browsers, and in automation "
            "tools that remove it."
        ),
        evidence_fields=(
            ("webrtc", "`missing` or `error`"),
            ("error", "the exception text the page reported, when it threw"),
            ("user_agent", "the user agent the page reported"),
            (
                "claimed_browser",
                "the browser the user agent names: `name`, `major`, `ships_webrtc` (that "
                "version always has `RTCPeerConnection`: Chrome ≥ 56, Firefox ≥ 44, "
                "Safari ≥ 11, Edge ≥ 79, Opera ≥ 43), or null",
            ),
        ),
        benign_causes=(
            "WebRTC disabled on purpose (Firefox `media.peerconnection.enabled = false`, "
            "enterprise policies, privacy extensions that remove the API).",
            "Old or embedded browsers without WebRTC.",
        ),
        fixes=(),
        check=webrtc_unavailable,
    ),
    Rule(
        code=SignalCode.WEBRTC_API_TAMPERED,
        weight=40,
        title="The page's WebRTC API is not the browser's own",
        description=(
            "The collector checks that `RTCPeerConnection`, `RTCIceCandidate`, "
            "`RTCSessionDescription`, the prototype's `createOffer`, "
            "`setLocalDescription`, `getStats`, `addEventListener`, the `onicecandidate` "
            "setter and the `localDescription` getter are the browser's own: "
            "`Function.prototype.toString` of each (and of `toString` itself) must read "
            "`function NAME() { [native code] }` (check `native:NAME`), also through the "
            "`toString` of a fresh same-origin iframe, which a patched `toString` does "
            "not cover and which shows a `Proxy` as `function () { [native code] }` "
            "(`realm:NAME`); the property descriptors must be what WebIDL defines "
            "(`descriptor:NAME`: a writable data property on the window, methods as data "
            "properties, `onicecandidate` an accessor); the prototype chain must lead to "
            "`EventTarget` (`prototype:*`); `webkitRTCPeerConnection`, where it exists, "
            "must be the same function (`alias:*`); the peer connection must have no own "
            "properties (`instance:*`); the prototype must have the same property names "
            "as a fresh frame's (`realm:prototype`); and when the API is missing, a fresh "
            "frame must not have it (`realm:RTCPeerConnection`). The server then compares "
            "the `getStats()` local candidates with the `icecandidate` events (UDP; "
            'mDNS hosts that `getStats()` shows as `""`, Chromium\'s TCP port-9 hosts '
            "and Firefox's srflx equal to its host are allowed): a wrapper that rewrites "
            "the events rarely rewrites the stats as well. Anti-detect browsers and "
            "stealth plugins wrap these functions to rewrite or hide candidates."
        ),
        evidence_fields=(
            (
                "failed[]",
                "the collector's failed checks: `check` (e.g. `native:createOffer`), "
                "`detail` (what it saw, e.g. the source text)",
            ),
            ("checks", "how many checks the collector ran"),
            (
                "stats[]",
                "disagreements between `getStats()` and the events: `kind` (`not_in_stats` "
                "— an event's candidate; `not_in_events` — a stats candidate), `where`, "
                "`field`, `expected`, `seen`, `line`, `ms`",
            ),
            ("stats_candidates", "how many `getStats()` local candidates the page reported"),
            ("stats_error", "why `getStats()` gave nothing (`timeout`, an exception)"),
            ("count", "how many findings"),
            ("collector_ms", "how long the collector's checks took, in milliseconds"),
        ),
        benign_causes=(
            "The page itself loads a WebRTC shim that wraps the API (adapter.js and "
            "similar polyfills) before the collector runs.",
            "Privacy extensions that wrap `RTCPeerConnection` to hide addresses (the API "
            "is being altered on purpose).",
            "Developer tools or test frameworks that instrument the page.",
        ),
        fixes=(
            "Operators: run the collector on a page without WebRTC shims, or before them.",
            "Visitors: to hide addresses, prefer the browser's own WebRTC IP handling "
            "policy to extensions that rewrite the API.",
        ),
        check=webrtc_api_tampered,
    ),
    Rule(
        code=SignalCode.WEBRTC_NO_CANDIDATES,
        weight=15,
        title="WebRTC gathered no candidate at all",
        description=(
            "The API works but the page reported no ICE candidate, neither in events nor in "
            "the SDP. This is what a browser does when its policy forbids UDP outside a "
            "proxy and no proxy path exists, when all UDP is blocked, or when candidates "
            "are filtered out by a script."
        ),
        evidence_fields=(
            ("ended_by", "how gathering ended (`complete`, `deadline`, `error`…)"),
            ("gathering_ms", "collector start to end of gathering, in milliseconds"),
            ("end_of_candidates", "whether the end-of-candidates indication was seen"),
            ("candidate_errors", "how many `icecandidateerror` events the page reported"),
        ),
        benign_causes=(
            "Chromium `disable_non_proxied_udp` or Firefox `ice.proxy_only` without a "
            "usable proxy: the privacy setting working as intended.",
            "A firewall that blocks UDP and the TURN port.",
        ),
        fixes=(),
        check=webrtc_no_candidates,
    ),
    Rule(
        code=SignalCode.WEBRTC_UDP_BLOCKED,
        weight=10,
        title="No UDP from this session reached the server",
        description=(
            "The API works but no STUN or TURN packet over UDP from this session reached "
            "icewatch. WebRTC normally sends a Binding request at once; its absence means a "
            "policy keeps UDP inside a proxy (Chromium `disable_non_proxied_udp` sends TURN "
            "over TCP through the HTTP proxy instead), or a firewall drops UDP."
        ),
        evidence_fields=(
            ("observations[]", "what did arrive (TCP only, if anything)"),
            ("ended_by", "how gathering ended"),
            ("gathering_ms", "collector start to end of gathering, in milliseconds"),
            ("candidate_errors", "how many `icecandidateerror` events the page reported"),
        ),
        benign_causes=(
            "A network that blocks outbound UDP (corporate firewalls, some hotel and "
            "public Wi-Fi).",
            "A browser configured to send WebRTC only through a proxy: the fix for "
            "`ip.webrtc_http_mismatch` working.",
        ),
        fixes=(),
        check=webrtc_udp_blocked,
    ),
    Rule(
        code=SignalCode.NET_LOCAL_IP_EXPOSED,
        weight=0,
        informational=True,
        title="A local network address is exposed",
        description=(
            "A host candidate or a candidate's related address (`raddr`) carries a raw "
            "private or local address (RFC 1918, CGNAT, link-local, IPv6 unique local, "
            "loopback) instead of an mDNS name. Desktop browsers hide these by default; "
            "they appear when the page has camera or microphone permission, when mDNS "
            "hiding is turned off, on Chromium for Android, and in Firefox with host "
            "obfuscation off. It says nothing about proxies, but it lets sites fingerprint "
            "and map the local network."
        ),
        evidence_fields=(
            (
                "addresses[]",
                "`ip`, `family`, `category`, `where` (`host`, `raddr`, `sdp`), `ports`",
            ),
            ("count", "how many addresses"),
        ),
        benign_causes=(
            "Camera/microphone permission granted to this site.",
            "Chromium `--disable-features=WebRtcHideLocalIpsWithMdns` or the "
            "`default_public_and_private_interfaces` policy; Firefox "
            "`media.peerconnection.ice.obfuscate_host_addresses = false`.",
        ),
        fixes=(
            "Chromium: keep mDNS hiding on (the default), or use the "
            "`default_public_interface_only` policy.",
            "Firefox: keep `media.peerconnection.ice.obfuscate_host_addresses = true` (the "
            "default) or set `media.peerconnection.ice.no_host = true`.",
        ),
        check=net_local_ip_exposed,
    ),
    Rule(
        code=SignalCode.NET_MDNS,
        weight=0,
        informational=True,
        title="Local addresses are hidden behind mDNS names",
        description=(
            "Host candidates carry `<UUIDv4>.local` names instead of addresses: the browser's "
            "default protection of local addresses (draft-ietf-rtcweb-mdns-ice-candidates). "
            "The candidate's priority still tells the hidden address class (IPv4, global "
            "IPv6, ULA)."
        ),
        evidence_fields=(
            ("names", "the mDNS names, lower-cased"),
            ("count", "how many names"),
        ),
        benign_causes=("Every current desktop Chromium and Firefox by default.",),
        fixes=(),
        check=net_mdns,
    ),
    Rule(
        code=SignalCode.NET_IPV6_EXPOSED,
        weight=0,
        informational=True,
        title="A global IPv6 address is exposed",
        description=(
            "A global IPv6 address (or a Teredo / 6to4 one, which embeds a public IPv4) "
            "appears in the candidates or among the server's observations. IPv6 is the most "
            "common VPN leak: a VPN that carries only IPv4 leaves the native IPv6 path open, "
            "and WebRTC uses it. `http_over_ipv6` tells whether the page itself came over "
            "IPv6."
        ),
        evidence_fields=(
            (
                "addresses[]",
                "`ip`, `family`, `category`, `where`, `ports`, `seen_by` (`server` or `page`)",
            ),
            ("count", "how many addresses"),
            ("http_over_ipv6", "whether an HTTP request of this session came over IPv6"),
        ),
        benign_causes=("Any dual-stack network: most home and mobile connections.",),
        fixes=(
            "VPN users: use a VPN that tunnels IPv6, or disable IPv6 on the device while "
            "connected.",
        ),
        check=net_ipv6_exposed,
    ),
    Rule(
        code=SignalCode.NET_CGNAT,
        weight=0,
        informational=True,
        title="A carrier-grade NAT address was seen",
        description=(
            "An address from the RFC 6598 shared space 100.64.0.0/10 was observed by the "
            "server, reported by the page, or was the HTTP client address. It belongs to a "
            "carrier-grade NAT (many mobile and some fixed ISPs) or to an overlay VPN such "
            "as Tailscale."
        ),
        evidence_fields=(
            (
                "addresses[]",
                "`ip`, `family`, `seen_by` (`server`, `page` or `http`), and for server or "
                "page sightings `category`, `where`, `ports`",
            ),
            ("count", "how many addresses"),
        ),
        benign_causes=("Mobile networks and ISPs that share public IPv4 addresses.",),
        fixes=(),
        check=net_cgnat,
    ),
    Rule(
        code=SignalCode.CANDIDATE_SHAPE_MISMATCH,
        weight=50,
        title="The WebRTC stack is not the one the browser claims to be",
        description=(
            "Every WebRTC stack writes candidates and session descriptions its own way, and "
            "scripts that change the user agent do not rewrite them. Chromium and Safari "
            "(libwebrtc) end candidates with `generation 0 ufrag … network-cost …`, write "
            "`udp` in lower case, use CRC32 foundations and start the SDP with "
            "`o=- <id> 2 IN IP4 127.0.0.1`; Firefox writes `UDP`, small foundations, TCP "
            "`active` candidates on port 9, ends gathering with an empty candidate and "
            "starts the SDP with `o=mozilla...THIS_IS_SDPARTA`. icewatch classifies the "
            "report's dialect from about fifteen such features (each listed with its vote) "
            "and raises this signal only when the dialect is confident (0.8 or more, "
            "without conflicting features) and contradicts the engine the user agent claims "
            "(libwebrtc output from a browser claiming Firefox; Firefox output from one "
            "claiming Chrome, Edge or Safari), or contradicts client hints, which only "
            "Chromium-based browsers send. It is the typical trace of an anti-detect "
            "browser or a user-agent override."
        ),
        evidence_fields=(
            (
                "claimed",
                "the claim: `browser`, `browser_version`, `engine` (blink / gecko / "
                "webkit), `os`, `device`, `user_agent`, `hints_brands`, `hints_platform`, "
                "`hints_mobile`, `notes` (contradictions inside the claim)",
            ),
            (
                "contradicted_by",
                "which claim the dialect contradicts: `user_agent`, `client_hints`",
            ),
            ("dialect", "`libwebrtc` or `firefox`"),
            ("confidence", "0-1 (see the `dialect` section of the session JSON)"),
            ("compatible_engines", "the engines whose browsers write this dialect"),
            (
                "features[]",
                "the features that voted for the dialect: `name`, `weight`, `detail`, `where`",
            ),
            ("against[]", "features that voted for the other dialect (none, or few)"),
        ),
        benign_causes=(
            "A user-agent switcher extension or a developer override (DevTools, "
            "`--user-agent`), used for testing or privacy: the site is told a browser "
            "the visitor does not run.",
            "A browser that deliberately sends another engine's user agent for site "
            "compatibility (rare today).",
        ),
        fixes=(
            "Send the real user agent; a changed user agent is easy to detect through the "
            "WebRTC stack, so it hides nothing.",
        ),
        check=candidate_shape_mismatch,
    ),
    Rule(
        code=SignalCode.ENV_UA_NETWORK_MISMATCH,
        weight=20,
        title="The claimed device does not fit the network it reports",
        description=(
            "The device and platform in the user agent are compared with what the browser's "
            "own WebRTC output says about its network. Three findings (in "
            "`findings[].kind`): `mdns_on_android` — the user agent claims Chromium on "
            "Android, but host addresses are hidden behind mDNS names, which Chromium "
            "does only on desktops (Android builds have no mDNS responder): typically a "
            "desktop browser emulating a phone; `desktop_cellular_only` — a Windows or "
            "macOS (non-Safari) desktop claim whose every adapter with a known type, read "
            "from libwebrtc's `network-cost` (cellular 900, 2G 980, 3G 910, 4G 500, 5G "
            "250), is cellular: typically a phone with a desktop user agent; "
            "`mobile_wired_only` — a phone claim whose every adapter is wired Ethernet "
            "(cost 0). Network costs are only known when the browser may enumerate "
            "adapters (after camera/microphone permission or by policy); the usual `999` "
            "means no adapter information and never counts. A phone on home Wi-Fi with a "
            "192.168.x.x address, a laptop on Wi-Fi, carrier-grade NAT and tethering do "
            "not raise it; carrier-style addresses are listed as context only."
        ),
        evidence_fields=(
            ("claimed", "the claim (as in `candidate.shape_mismatch`)"),
            (
                "findings[]",
                "`kind` (mdns_on_android / desktop_cellular_only / mobile_wired_only), "
                "`detail`, and `mdns_names` or `adapters`",
            ),
            (
                "adapters[]",
                "every network-cost seen: `cost`, `adapter`, `vpn`, `kind` (ethernet / "
                "wifi / cellular / null), `candidate`",
            ),
            (
                "carrier_addresses[]",
                "CGNAT, NAT64 and DS-Lite addresses in the candidates (context)",
            ),
        ),
        benign_causes=(
            "A laptop with a built-in LTE/5G modem used as its only connection "
            "(`desktop_cellular_only` on Windows).",
            "A phone on a USB-C Ethernet adapter or a desktop dock, or an Android emulator "
            "(`mobile_wired_only`).",
            "Developer tools emulating a phone on a desktop (`mdns_on_android`).",
            'Not raised for the known look-alikes: "request desktop site" on Android '
            "(a Linux desktop user agent), iPadOS Safari's default macOS user agent, "
            "Chromebooks with LTE, tablets, and USB or Wi-Fi tethering.",
        ),
        fixes=(),
        check=env_ua_network_mismatch,
    ),
    Rule(
        code=SignalCode.NET_VPN_INTERFACE,
        weight=5,
        title="A VPN network interface is visible",
        description=(
            "libwebrtc adds 1 to the `network-cost` of a VPN adapter (over Wi-Fi 11, "
            "Ethernet 1, cellular 901, unknown 51) when its `WebRTC-AddNetworkCostToVpn` "
            "field trial is on (it is off by default, so many VPNs report their underlying "
            "adapter's cost and stay invisible here); or a reported or observed address "
            "lies in a range VPN "
            "software gives its tunnel interface by default (OpenVPN's 10.8.0.0/24, "
            "Cloudflare WARP's 172.16.0.2 and 2606:4700:110::/48, Tailscale's and "
            "Mullvad's IPv6 prefixes, ZeroTier's address shapes). The carriers' and "
            "everybody's ranges that some VPNs also use (100.64.0.0/10, 10.64.0.0/10) do "
            "not count. A VPN is not suspicious in itself; this says the browser sees one."
        ),
        evidence_fields=(
            (
                "adapters[]",
                "network costs with the VPN bit: `cost`, `adapter`, `vpn`, `kind`, `candidate`",
            ),
            (
                "addresses[]",
                "addresses in VPN ranges: `ip`, `category`, `tags`, `where`, `seen_by` "
                "(`page` or `server`)",
            ),
            ("count", "adapters plus addresses"),
        ),
        benign_causes=(
            "Any VPN or overlay network (corporate VPN, Tailscale, ZeroTier, WARP).",
            "A private network numbered like a VPN default (10.8.0.0/24 is also used by "
            "ordinary LANs).",
        ),
        fixes=("To keep WebRTC inside the VPN, see the fixes of `ip.webrtc_http_mismatch`.",),
        check=net_vpn_interface,
    ),
    # --- the test connection (rules_conn.py) ----------------------------------------------
    #
    # conn.failed weighs 25: alone it stays `low` (a genuine browser behind an odd
    # firewall that lets the STUN port through but not the peer's ports fails too), but
    # with a datacenter address (35) or a spoofed candidate it makes `medium`; a bot that
    # fakes its candidates cannot complete ICE with the server. conn.rtt_mismatch weighs
    # 20, moderate: latency is a measurement, not a packet's address.
    Rule(
        code=SignalCode.CONN_FAILED,
        weight=25,
        title="The test connection failed",
        description=(
            "After gathering, the page opens a real WebRTC data channel to icewatch's own "
            "peer. This signal is raised when the browser's UDP did reach the STUN/TURN "
            "server and the page claimed host or server-reflexive candidates that should "
            "connect, yet the connection failed or timed out or the page refused to try (or "
            "skipped it without a reason), and the server's peer never received an ICE "
            "check from it. A real browser whose UDP reaches the "
            "server connects in well under a second; a page that forges its candidates or "
            "its WebRTC API cannot. Never raised without the test connection's report (an "
            "older collector), when the server turned it off or was busy, or when no UDP "
            "reached the server at all (that is `webrtc.udp_blocked`)."
        ),
        evidence_fields=(
            (
                "connection",
                "what the page reported: `attempted`, `state`, `offer_sent`, "
                "`answer_received`, `channel_opened`, `answer_ms`, `open_ms`, `error`, "
                "`server_error` (the `/offer` error code)",
            ),
            ("ice_observations[]", "the ICE checks the server's peer received (none)"),
            ("candidates[]", "the UDP host and server-reflexive candidates that should connect"),
            ("udp_observed", "whether this session's UDP reached the STUN/TURN server"),
        ),
        benign_causes=(
            "A firewall that lets UDP to the STUN port through but blocks the peer's other ports.",
            "A page closed or navigated away before the connection opened.",
            "Browser extensions that block WebRTC data channels but not gathering.",
        ),
        fixes=(),
        check=conn_failed,
    ),
    Rule(
        code=SignalCode.CONN_RTT_MISMATCH,
        weight=20,
        title="HTTP is much slower than the WebRTC path",
        description=(
            "The round-trip time of tiny HTTP requests to icewatch is compared with the "
            "round-trip time over the test connection's data channel (measured by the "
            "server; the page's own measurement when the server has fewer than "
            f"{RTT_MIN_SAMPLES} samples). Raised when, with at least {RTT_MIN_SAMPLES} "
            "samples on each side, HTTP is slower by at least "
            f"{RTT_MIN_EXTRA_MS:.0f} ms on both the fastest sample and the median, and at "
            f"least {RTT_MIN_RATIO}x as slow: the HTTP connection makes a detour (a distant "
            "proxy or VPN) that WebRTC does not. The minimum is the least noisy estimate of "
            "a path's latency (jitter only adds), the median guards against one lucky "
            f"sample; {RTT_MIN_EXTRA_MS:.0f} ms is far above browser timer and event-loop "
            "jitter and below any detour through another country, and the ratio keeps a "
            "far-away visitor with a slower TCP path quiet."
        ),
        evidence_fields=(
            (
                "webrtc_rtt_ms",
                "`samples`, `count`, `min`, `median` of the data-channel RTTs and "
                "`measured_by` (`server` or `page`)",
            ),
            ("http_rtt_ms", "the same for the HTTP requests (measured by the page)"),
            ("difference_ms", "HTTP minus WebRTC: `min`, `median`"),
            ("thresholds", "`min_extra_ms`, `min_ratio`, `min_samples`"),
        ),
        benign_causes=(
            "A corporate or antivirus HTTP proxy that inspects web traffic but lets UDP "
            "out directly.",
            "A congested or slow HTTP path during the measurement (retransmissions).",
        ),
        fixes=(
            "To keep WebRTC on the same path as HTTP, see the fixes of `ip.webrtc_http_mismatch`.",
        ),
        check=conn_rtt_mismatch,
    ),
    Rule(
        code=SignalCode.NET_WEBRTC_PROXIED,
        weight=0,
        informational=True,
        title="WebRTC went through the proxy: no leak",
        description=(
            "No UDP from this session reached the server, and its TURN traffic arrived "
            "over TCP from the same address as its HTTP requests: the browser sends WebRTC "
            "through its proxy (Chromium's `disable_non_proxied_udp` policy tunnels TURN "
            "over TCP through the HTTP proxy with CONNECT; Firefox's proxy-only prefs do "
            "the same). This is the browser honouring the proxy, a privacy protection, not "
            "a leak."
        ),
        evidence_fields=(
            ("http_client_ips[]", "the HTTP client address(es)"),
            ("observations[]", "the TCP TURN requests, from the proxy's address"),
            ("udp_observed", "always false"),
        ),
        benign_causes=("This is the protected configuration: nothing to fix.",),
        fixes=(),
        check=net_webrtc_proxied,
    ),
)

RULES_BY_CODE: Mapping[SignalCode, Rule] = MappingProxyType({r.code: r for r in RULES})
