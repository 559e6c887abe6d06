"""A real ``icewatch serve``: ``/metrics`` says how old the IP-intelligence data in use is
(``icewatch_intel_data_age_seconds``, from its build date) and which it is
(``icewatch_intel_data_info{origin,version}``)."""

from __future__ import annotations

import calendar
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from icewatch.core.intel.compiled import compile_sources

from .proc import API_KEY, env, kill_quietly, start

BUILT = "2026-11-01T00:00:00Z"


def _samples(base: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    scraped = httpx.get(f"{base}/metrics", headers={"X-API-Key": API_KEY}, timeout=5)
    assert scraped.status_code == 200, scraped.text
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(scraped.text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, float(sample.value)))
    return found


def test_the_age_of_compiled_data_comes_from_its_build_stamp(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "intel.db").write_bytes(compile_sources([], built=BUILT))
    built_at = calendar.timegm(time.strptime(BUILT, "%Y-%m-%dT%H:%M:%SZ"))
    served = start(tmp_path, "--data-dir", str(data_dir))
    try:
        before = time.time()
        samples = _samples(served.base)
        after = time.time()
        ready = httpx.get(f"{served.base}/readyz", timeout=5)
    finally:
        kill_quietly(served)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["intel"] == f"compiled {BUILT}"
    ((labels, age),) = samples["icewatch_intel_data_age_seconds"]
    assert labels == {}
    assert before - built_at - 1 <= age <= after - built_at + 1
    assert samples["icewatch_intel_data_info"] == [({"origin": "compiled", "version": BUILT}, 1.0)]


def test_the_age_of_the_embedded_default_matches_data_status(tmp_path: Path) -> None:
    data_dir = tmp_path / "empty"
    data_dir.mkdir()
    status = subprocess.run(
        [sys.executable, "-m", "icewatch", "data", "status", "--json", "--data-dir",
         str(data_dir)],
        env=env(), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    embedded = json.loads(status.stdout)["embedded"]
    assert embedded["available"], "the embedded default (the iporigin package) is installed"
    built_at = calendar.timegm(time.strptime(embedded["built"], "%Y-%m-%dT%H:%M:%SZ"))
    served = start(tmp_path, "--data-dir", str(data_dir))
    try:
        before = time.time()
        samples = _samples(served.base)
        after = time.time()
    finally:
        kill_quietly(served)
    ((_, age),) = samples["icewatch_intel_data_age_seconds"]
    assert before - built_at - 1 <= age <= after - built_at + 1
    assert samples["icewatch_intel_data_info"] == [
        ({"origin": "embedded", "version": embedded["version"]}, 1.0)
    ]
