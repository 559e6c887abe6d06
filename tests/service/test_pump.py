"""The observation pump between the listener and the correlation state (the real in-memory
state): order, the bound with counted drops, draining on close, and surviving a failing
state."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress

from icewatch.core.evidence import Observation, ObservationSource, StunKind
from icewatch.service.pump import ObservationPump
from icewatch.service.runner import web_settings
from icewatch.service.settings import SETTINGS, Settings
from icewatch.store.memory_state import MemoryCorrelationState
from icewatch.web.context import WebSettings

SESSION = "AAAAAAAAAAAAAAAAAAAAAA"


def _obs(port: int, session: str | None = SESSION) -> Observation:
    return Observation(
        source=ObservationSource.TURN if session else ObservationSource.STUN,
        kind=StunKind.ALLOCATE_AUTHENTICATED if session else StunKind.BINDING,
        ip=ipaddress.ip_address("192.0.2.7"),
        port=port,
        transport="udp",
        at=1000.0 + port / 1000,
        transaction_id=f"{port:024x}",
        session_id=session,
    )


def test_offers_are_written_in_order_and_drained_on_close() -> None:
    async def scenario() -> None:
        state = MemoryCorrelationState()
        pump = ObservationPump(state, maxsize=100)
        pump.start()
        for port in range(1, 21):
            pump.offer(_obs(port))
        await pump.close()
        assert pump.pending == 0
        assert (pump.stats.offered, pump.stats.written, pump.stats.dropped) == (20, 20, 0)
        found = await state.observations_for(SESSION, [], 0, 2000)
        assert [o.port for o in found] == list(range(1, 21))

    asyncio.run(scenario())


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    async def scenario() -> None:
        state = MemoryCorrelationState()
        pump = ObservationPump(state, maxsize=16)
        pump.start()
        # 40 offers in one go, no chance for the writer to run: 16 fit, 24 are dropped.
        for port in range(1, 41):
            pump.offer(_obs(port))
        assert pump.stats.dropped == 24
        assert pump.pending == 16
        await pump.close()
        assert pump.stats.written == 16
        found = await state.observations_for(SESSION, [], 0, 2000)
        assert [o.port for o in found] == list(range(1, 17))
        # After close nothing is taken (and nothing raises).
        pump.offer(_obs(99))
        assert pump.stats.refused == 1

    asyncio.run(scenario())


def test_a_failing_state_is_counted_and_the_pump_carries_on() -> None:
    async def scenario() -> None:
        state = MemoryCorrelationState()
        pump = ObservationPump(state, maxsize=16)
        pump.start()
        await state.close()  # every write now raises the store's error
        pump.offer(_obs(1))
        pump.offer(_obs(2, session=None))
        await asyncio.sleep(0.01)
        assert pump.stats.failed == 2
        pump.offer(_obs(3))
        await pump.close()
        assert pump.stats.failed == 3
        assert pump.stats.written == 0

    asyncio.run(scenario())


def test_every_setting_reaches_the_web_adapter_or_the_service() -> None:
    service_only = {
        "config", "host", "port", "stun_host", "db", "state", "realm", "observation_queue",
        "shutdown_timeout", "log_level", "access_log",
        "data_dir", "lists", "data_sources", "data_stale_days",  # the intel adapter's
        "test_connection", "peer_max", "peer_pings",  # the peer adapter's
        "metrics_public", "log_format",  # the service builds the web app's Metrics
        "webhook_url", "webhook_secret", "webhook_level", "webhook_queue_max",  # the
        "webhook_timeout", "webhook_retry_base", "webhook_max_age",  # webhook worker's
        "retention", "store_addresses", "housekeeping_interval",  # housekeeping's
    }  # fmt: skip
    web_fields = {f.name for f in dataclasses.fields(WebSettings)}
    for s in SETTINGS:
        assert (s.name in web_fields) != (s.name in service_only), s.name
    settings = Settings(
        public_host="icewatch.example",
        stun_port=3479,
        api_key="k" * 20,
        trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),),
        forwarded_header="forwarded",
        session_ttl=600,
        report_wait=0.5,
        collector_deadline_ms=900,
        cors_origins=("https://a.example",),
        max_body_bytes=4096,
    )
    web = web_settings(settings)
    for name in web_fields & {s.name for s in SETTINGS}:
        assert getattr(web, name) == getattr(settings, name), name
