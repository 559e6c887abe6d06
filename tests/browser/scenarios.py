"""The browser scenarios the live tests and the capture tool share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.browser.drivers import BrowserRun, Harness
from tests.browser.netns import (
    CLIENT,
    CLIENT_V4,
    CLIENT_V6,
    NAT_CLIENT,
    NAT_CLIENT_V4,
    NAT_CLIENT_V6,
    ROUTER_WAN_V4,
)


@dataclass(frozen=True)
class Scenario:
    browser: str
    name: str
    description: str
    role: str = CLIENT
    flags: tuple[str, ...] = ()
    prefs: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.browser}-{self.name}"

    @property
    def host_v4(self) -> str:
        return NAT_CLIENT_V4 if self.role == NAT_CLIENT else CLIENT_V4

    @property
    def host_v6(self) -> str:
        return NAT_CLIENT_V6 if self.role == NAT_CLIENT else CLIENT_V6

    @property
    def public_v4(self) -> str:
        """The IPv4 source address the server sees for this client."""
        return ROUTER_WAN_V4 if self.role == NAT_CLIENT else CLIENT_V4

    def run(self, h: Harness) -> BrowserRun:
        if self.browser == "chromium":
            return h.chromium(self.name, self.flags, role=self.role)
        return h.firefox(self.name, self.prefs, role=self.role)


NO_MDNS = "--disable-features=WebRtcHideLocalIpsWithMdns"

SCENARIOS: dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario("chromium", "default", "defaults: mDNS host names, one dual-stack client"),
        Scenario(
            "chromium",
            "nomdns",
            "mDNS hiding off (as after a camera/microphone grant): raw host addresses",
            flags=(NO_MDNS,),
        ),
        Scenario(
            "chromium",
            "nat",
            "defaults, behind a NAT44 router (10.77.20.2 -> 10.77.1.254), IPv6 routed",
            role=NAT_CLIENT,
        ),
        Scenario("firefox", "default", "defaults: mDNS host names, one dual-stack client"),
        Scenario(
            "firefox",
            "noobfuscate",
            "host obfuscation off: raw host addresses",
            prefs={"media.peerconnection.ice.obfuscate_host_addresses": False},
        ),
        Scenario(
            "firefox",
            "nat",
            "defaults, behind a NAT44 router (10.77.20.2 -> 10.77.1.254), IPv6 routed",
            role=NAT_CLIENT,
        ),
    )
}
