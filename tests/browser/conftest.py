"""Fixtures for the real-browser tests: one sandbox per session, each scenario run once."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from tests.browser.drivers import BrowserRun, Harness, harness
from tests.browser.netns import missing_prerequisites
from tests.browser.scenarios import SCENARIOS


def _missing() -> list[str]:
    missing = missing_prerequisites()
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright Python package (scripts/bootstrap --test)")
    return missing


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Harness]:
    """The namespaces, guards and test server, shared by every browser test."""
    missing = _missing()
    if missing:
        pytest.skip("real-browser tests need " + "; ".join(missing))
    with harness() as h:
        yield h


class Runs:
    """Each scenario's browser run, made on first use and kept for the session."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self._runs: dict[str, BrowserRun] = {}

    def __getitem__(self, key: str) -> BrowserRun:
        if key not in self._runs:
            self._runs[key] = SCENARIOS[key].run(self.h)
        return self._runs[key]


@pytest.fixture(scope="session")
def runs(sandbox: Harness) -> Runs:
    return Runs(sandbox)
