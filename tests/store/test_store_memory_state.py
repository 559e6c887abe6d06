"""The in-memory correlation state: attribution, the time window, bounds and evictions."""

from __future__ import annotations

import asyncio
import ipaddress
import tracemalloc
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TypeVar

import pytest

from icewatch.core.addr import IPAddress
from icewatch.core.correlate import attribute_bindings
from icewatch.core.evidence import Observation, ObservationSource, StunKind
from icewatch.store import StoreError
from icewatch.store.memory_state import MemoryCorrelationState, StateLimits

from .samples import ip

T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await fn()

    return asyncio.run(main())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def binding(src: str, port: int, at: float, transport: str = "udp") -> Observation:
    return Observation(
        ObservationSource.STUN, StunKind.BINDING, ip(src), port, transport, at, f"{port:024x}"
    )


def turn(session: str, src: str, port: int, at: float) -> Observation:
    return Observation(
        ObservationSource.TURN,
        StunKind.ALLOCATE_AUTHENTICATED,
        ip(src),
        port,
        "udp",
        at,
        f"{port:024x}",
        session_id=session,
        username=f"9999:{session}",
        integrity="valid",
    )


async def fill(state: MemoryCorrelationState, items: Sequence[Observation]) -> None:
    for item in items:
        await state.add_observation(item)


def query(
    state: MemoryCorrelationState,
    session: str,
    endpoints: Collection[tuple[IPAddress, int]] = (),
    since: float = 0.0,
    until: float = 1e12,
) -> list[Observation]:
    return list(run(lambda: state.observations_for(session, endpoints, since, until)))


def test_attribution_by_endpoint_and_by_turn_source() -> None:
    state = MemoryCorrelationState()
    own_turn = turn("A", "203.0.113.5", 40000, 10.2)
    by_turn_source = binding("203.0.113.5", 40000, 10.1)  # same socket as A's TURN
    by_endpoint = binding("198.51.100.9", 50000, 10.3)  # A's reported srflx
    other_session = turn("B", "198.51.100.9", 50000, 10.4)  # another session's TURN
    stranger = binding("192.0.2.77", 50000, 10.0)  # nobody's
    same_ip_other_port = binding("203.0.113.5", 40001, 10.0)
    run(
        lambda: fill(
            state,
            [stranger, same_ip_other_port, by_turn_source, own_turn, by_endpoint, other_session],
        )
    )
    got = query(state, "A", {(ip("198.51.100.9"), 50000)})
    assert got == [by_turn_source, own_turn, by_endpoint]  # oldest first
    # B's TURN came from the same socket as that Binding, so it is B's too: a source
    # is evidence for every session seen on it.
    assert query(state, "B") == [by_endpoint, other_session]
    assert query(state, "C") == []
    # Without the reported endpoint, only the TURN-linked Binding comes along.
    assert query(state, "A") == [by_turn_source, own_turn]


def test_ipv4_mapped_sources_match_their_ipv4() -> None:
    state = MemoryCorrelationState()
    mapped = binding("::ffff:203.0.113.5", 40000, 1.0)
    run(lambda: fill(state, [mapped]))
    assert query(state, "A", {(ip("203.0.113.5"), 40000)}) == [mapped]


def test_the_time_window_bounds_bindings() -> None:
    state = MemoryCorrelationState()
    src = ("198.51.100.9", 50000)
    before, inside, edge, after = (binding(*src, at) for at in (9.9, 10.5, 11.0, 11.1))
    run(lambda: fill(state, [before, inside, edge, after]))
    endpoints = {(ip(src[0]), src[1])}
    assert query(state, "A", endpoints, since=10.0, until=11.0) == [inside, edge]


def test_matches_the_core_rule_on_random_traffic() -> None:
    # The indexes must only speed up attribute_bindings, never change its answer.
    import random

    rng = random.Random(7)
    traffic = []
    for _ in range(3000):
        src = (f"203.0.113.{rng.randrange(6)}", 40000 + rng.randrange(4))
        at = rng.uniform(0, 20)
        if rng.random() < 0.3:
            traffic.append(turn(rng.choice("ABCD"), *src, at))
        else:
            traffic.append(binding(*src, at))
    state = MemoryCorrelationState(StateLimits(per_source=10_000, per_session=10_000))
    run(lambda: fill(state, traffic))
    for session in "ABCDE":
        endpoints = {(ip(f"203.0.113.{rng.randrange(6)}"), 40000 + rng.randrange(4))}
        since, until = sorted((rng.uniform(0, 20), rng.uniform(0, 20)))
        expected = attribute_bindings(session, traffic, endpoints, since, until)
        assert query(state, session, endpoints, since, until) == list(expected)


def test_ttl_expires_old_observations() -> None:
    clock = Clock()
    state = MemoryCorrelationState(StateLimits(ttl=30.0), clock=clock)
    old = binding("198.51.100.9", 50000, 1.0)
    run(lambda: fill(state, [old, turn("A", "198.51.100.9", 50000, 1.0)]))
    clock.now += 29.0
    fresh = binding("198.51.100.9", 50000, 2.0)
    run(lambda: fill(state, [fresh]))
    assert len(state) == 3
    clock.now += 2.0  # the first two are now older than 30 s
    assert query(state, "A", {(ip("198.51.100.9"), 50000)}) == [fresh]
    assert len(state) == 1
    assert state.stats.expired == 2
    assert state.sessions == 0


def test_per_source_cap_keeps_the_newest() -> None:
    state = MemoryCorrelationState(StateLimits(per_source=3))
    items = [binding("198.51.100.9", 50000, float(t)) for t in range(10)]
    run(lambda: fill(state, items))
    assert query(state, "A", {(ip("198.51.100.9"), 50000)}) == items[-3:]
    assert state.stats.evicted_per_source == 7
    assert state.stats.added == 10


def test_per_session_cap_keeps_the_newest() -> None:
    state = MemoryCorrelationState(StateLimits(per_session=4))
    items = [turn("A", "198.51.100.9", 50000 + t, float(t)) for t in range(6)]
    run(lambda: fill(state, items))
    assert query(state, "A") == items[-4:]
    assert state.stats.evicted_per_session == 2


def test_a_binding_flood_does_not_push_out_sessions() -> None:
    # Bindings (spoofable) and credentialed TURN requests live in separate pools.
    state = MemoryCorrelationState(StateLimits(max_unattributed=1000))
    real = turn("A", "203.0.113.5", 40000, 1.0)
    run(lambda: fill(state, [real]))
    flood = [
        binding(str(ipaddress.IPv4Address(0x0A000000 + i)), 1024 + i % 60000, 2.0)
        for i in range(5000)
    ]
    run(lambda: fill(state, flood))
    assert query(state, "A") == [real]
    assert state.stats.evicted_capacity == 4000


def _flood(state: MemoryCorrelationState, start: int, count: int, sessions: int) -> None:
    """``count`` Bindings from distinct sources (IPv4 and IPv6 alternately), then
    ``sessions`` sessions' TURN requests."""
    base = int(ipaddress.IPv6Address("2001:db8::"))

    async def flood() -> None:
        for i in range(start, start + count):
            if i % 2:
                src = str(ipaddress.IPv4Address(0x0A000000 + i))
            else:
                src = str(ipaddress.IPv6Address(base + i))
            await state.add_observation(binding(src, 1024 + i % 60000, float(i)))
        for i in range(start, start + sessions):
            await state.add_observation(turn(f"s{i}", "203.0.113.5", 40000, float(i)))

    run(flood)


def test_flood_of_100k_distinct_sources_stays_bounded() -> None:
    state = MemoryCorrelationState(StateLimits(max_unattributed=10_000, max_attributed=1_000))
    _flood(state, 0, 100_000, 5_000)
    assert len(state) == 11_000
    assert state.sources == 10_000  # the index holds no empty entries for evicted sources
    assert state.sessions == 1_000
    assert state.stats.added == 105_000
    assert state.stats.evicted_capacity == 90_000 + 4_000
    assert state.stats.evicted == state.stats.added - len(state)
    # The newest observations are the ones kept.
    newest = binding(str(ipaddress.IPv4Address(0x0A000000 + 99_999)), 1024 + 99_999 % 60000, 0)
    assert [o.at for o in query(state, "x", {(newest.ip, newest.port)})] == [99_999.0]

    # Once full, more flooding holds no more memory. (tracemalloc sees only what is
    # allocated after it starts, so the first round replaces every traced object.)
    tracemalloc.start()
    try:
        _flood(state, 100_000, 20_000, 2_000)
        full, _ = tracemalloc.get_traced_memory()
        _flood(state, 200_000, 20_000, 2_000)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(state) == 11_000
    assert full < 11_000 * 1_000, f"{full / 11_000:.0f} bytes per observation held"
    assert after - full < 200_000, f"grew by {after - full} bytes"


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="ttl"):
        StateLimits(ttl=0)
    with pytest.raises(ValueError, match="per_source"):
        StateLimits(per_source=0)


def test_closed_state_refuses_and_counts() -> None:
    state = MemoryCorrelationState()

    async def scenario() -> None:
        await state.add_observation(binding("192.0.2.1", 1, 1.0))
        await state.close()
        assert len(state) == 0
        with pytest.raises(StoreError, match="closed"):
            await state.add_observation(binding("192.0.2.1", 1, 1.0))
        with pytest.raises(StoreError, match="closed"):
            await state.observations_for("A", (), 0, 1)

    run(scenario)
    assert state.stats.refused_closed == 1
