"""Helpers shared by the service's background tasks (housekeeping, the webhook worker):
their Prometheus metric families and stopping their task."""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["counter", "gauge", "stop_task"]


def counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    """A counter family with one unlabelled sample."""
    family = CounterMetricFamily(name, documentation)
    family.add_metric([], float(value))
    return family


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    """A gauge family with one unlabelled sample."""
    family = GaugeMetricFamily(name, documentation)
    family.add_metric([], float(value))
    return family


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
