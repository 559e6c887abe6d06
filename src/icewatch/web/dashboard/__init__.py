"""The operator dashboard: server-rendered HTML under ``/dashboard`` (overview with
charts, sessions list with filters and export, session detail), behind the operator API
key. No JavaScript and nothing from another origin (a strict Content-Security-Policy)."""

from __future__ import annotations

from icewatch.web.dashboard.routes import DASHBOARD_CSP, dashboard_router

__all__ = ["DASHBOARD_CSP", "dashboard_router"]
