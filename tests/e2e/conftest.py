"""Fixtures for the end-to-end tests: one sandbox with the real ``icewatch serve`` per
session; each browser visit is made once, on first use, and shared by the tests."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator

import pytest

from tests.browser.netns import missing_prerequisites
from tests.e2e.harness import E2E, Visit, e2e


def _missing() -> list[str]:
    missing = missing_prerequisites()
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright Python package (scripts/bootstrap --test)")
    return missing


@pytest.fixture(scope="session")
def sandbox() -> Iterator[E2E]:
    """Namespaces, egress guards, icewatch serve, the HTTP proxy and DNS stubs."""
    missing = _missing()
    if missing:
        pytest.skip("end-to-end browser tests need " + "; ".join(missing))
    with e2e() as env:
        yield env


class Visits:
    """Each scenario's visit, made on first use and kept for the session."""

    def __init__(self, env: E2E, scenarios: dict[str, Callable[[E2E], Visit]]) -> None:
        self.env = env
        self.scenarios = scenarios
        self._done: dict[str, Visit] = {}

    def __getitem__(self, key: str) -> Visit:
        if key not in self._done:
            self._done[key] = self.scenarios[key](self.env)
        return self._done[key]
