"""A real ``icewatch serve``: ``/metrics`` counts a real STUN Binding; ``/readyz`` is ready."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .proc import API_KEY, binding_request, exchange, kill_quietly, start, udp_socket


def _value(text: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not in /metrics:\n{text}")


def test_metrics_count_a_real_stun_binding(tmp_path: Path) -> None:
    served = start(tmp_path)
    try:
        ready = httpx.get(f"{served.base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"

        assert httpx.get(f"{served.base}/metrics", timeout=5).status_code == 401
        with udp_socket() as sock:
            _, request = binding_request()
            exchange(sock, served.stun_port, request)
        scraped = httpx.get(f"{served.base}/metrics", headers={"X-API-Key": API_KEY}, timeout=5)
        assert scraped.status_code == 200, scraped.text
        assert _value(scraped.text, "icewatch_stun_datagrams_total", {"kind": "udp"}) >= 1
    finally:
        kill_quietly(served)


def test_the_banner_names_the_dashboard(tmp_path: Path) -> None:
    served = start(tmp_path)
    try:
        assert served.popen.stdout is not None
        lines: list[str] = []  # the rest of the banner, already in the pipe's buffer
        while not lines or not lines[-1].startswith("Stop with"):
            lines.append(served.popen.stdout.readline().decode().rstrip("\n"))
    finally:
        code, _, err = served.stop()
    assert code == 0, err
    assert f"  dashboard http://127.0.0.1:{served.port}/dashboard" in lines, lines
