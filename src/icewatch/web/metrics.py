"""Prometheus metrics for ``GET /metrics``, on a registry of their own (not the global one).

The service builds one :class:`Metrics`, hands it to the web app (``WebContext.metrics``)
and registers callbacks for what other adapters count (the listener's stats are read at
scrape time through :meth:`Metrics.add_listener_stats`), so adapters never import each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_VERDICT_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class _ListenerCollector(Collector):
    """Reads the STUN/TURN listener's counters (``ListenerStats.as_dict()``) at scrape time."""

    def __init__(self, snapshot: Callable[[], Mapping[str, Any]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._snapshot()
        datagrams = CounterMetricFamily(
            "icewatch_stun_datagrams",
            "STUN/TURN messages the listener received, by transport kind",
            labels=["kind"],
        )
        datagrams.add_metric(["udp"], float(stats.get("datagrams", 0)))
        datagrams.add_metric(["tcp_frame"], float(stats.get("frames", 0)))
        yield datagrams
        dropped = CounterMetricFamily(
            "icewatch_stun_dropped",
            "STUN/TURN messages the listener dropped, by reason",
            labels=["reason"],
        )
        for reason, count in sorted(dict(stats.get("drops", {})).items()):
            dropped.add_metric([str(reason)], float(count))
        yield dropped
        observations = CounterMetricFamily(
            "icewatch_stun_observations", "Observations the listener tied to a session"
        )
        observations.add_metric([], float(stats.get("observations", 0)))
        yield observations


class _IntelDataCollector(Collector):
    """The age and version of the IP-intelligence data in use, read at scrape time from
    ``snapshot() -> (built_at or None, origin, version)`` (the runtime may be reloaded)."""

    def __init__(
        self,
        snapshot: Callable[[], tuple[float | None, str, str]],
        clock: Callable[[], float],
    ) -> None:
        self._snapshot = snapshot
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        built_at, origin, version = self._snapshot()
        info = GaugeMetricFamily(
            "icewatch_intel_data_info",
            "The IP-intelligence data in use (origin: compiled, embedded or none), always 1",
            labels=["origin", "version"],
        )
        info.add_metric([origin, version], 1.0)
        yield info
        if built_at is not None:
            age = GaugeMetricFamily(
                "icewatch_intel_data_age_seconds",
                "Age of the IP-intelligence data in use, from its build date",
            )
            age.add_metric([], max(0.0, self._clock() - built_at))
            yield age


class Metrics:
    """The web app's metrics and the registry ``/metrics`` renders.

    ``public`` opens ``/metrics`` without the operator API key (for scrapers that cannot
    send one); by default it needs the key like the operator endpoints."""

    def __init__(self, *, public: bool = False) -> None:
        self.public = public
        #: ``(built_at, origin, version)`` of the IP-intelligence data (``add_intel_data``).
        self.intel_data: Callable[[], tuple[float | None, str, str]] | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self.sessions = Counter(
            "icewatch_sessions",
            "Sessions scored (reports answered), by verdict level",
            ["level"],
            registry=self.registry,
        )
        self.signals = Counter(
            "icewatch_signals",
            "Signals raised in scored sessions, by code",
            ["code"],
            registry=self.registry,
        )
        self.report_latency = Histogram(
            "icewatch_report_latency_seconds",
            "Time to handle a report (join, enrich, score, store)",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "icewatch_rate_limited",
            "Requests refused by a per-client rate limit (429), by route: sessions or login",
            ["route"],
            registry=self.registry,
        )
        for route in ("sessions", "login"):
            self.rate_limited.labels(route=route)  # both series from the start, at 0
        self.time_to_verdict = Histogram(
            "icewatch_time_to_verdict_seconds",
            "Time from session creation to its verdict",
            buckets=_VERDICT_BUCKETS,
            registry=self.registry,
        )

    def add_listener_stats(self, snapshot: Callable[[], Mapping[str, Any]]) -> None:
        """Expose the listener's counters, read from ``snapshot()`` at every scrape."""
        self.registry.register(_ListenerCollector(snapshot))

    def add_intel_data(
        self,
        snapshot: Callable[[], tuple[float | None, str, str]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Expose ``icewatch_intel_data_age_seconds`` (absent when there is no data) and
        ``icewatch_intel_data_info{origin,version}``, read from ``snapshot()`` at every
        scrape: ``(built_at, origin, version)`` of the IP-intelligence data in use."""
        self.intel_data = snapshot
        self.registry.register(_IntelDataCollector(snapshot, clock))

    def observe_verdict(self, level: str, codes: list[str], since_created: float) -> None:
        """Count one scored session (its level and signal codes) and its time to verdict."""
        self.sessions.labels(level=level).inc()
        for code in codes:
            self.signals.labels(code=code).inc()
        self.time_to_verdict.observe(max(0.0, since_created))

    def render(self) -> bytes:
        """The Prometheus text exposition of everything registered."""
        return generate_latest(self.registry)
