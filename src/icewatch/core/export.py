"""Exporting stored sessions: one CSV row builder and one JSON Lines record, shared.

The dashboard's ``?format=csv|jsonl`` export and ``icewatch sessions export`` write the
same columns and the same records through these functions, so a spreadsheet made from
either reads the same.

* :data:`CSV_COLUMNS` / :func:`csv_row`: one flat row per session (text cells; lists are
  joined with a space). Cells that a spreadsheet would take for a formula (starting with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) and that came from the visitor
  (the user agent, names from the IP data) are prefixed with ``'`` — an exported
  session must never run code in the operator's spreadsheet.
* :func:`jsonl_record`: ``{"evidence": …, "verdict": …, "fingerprint": …}``, the
  session's stored evidence whole (the source of truth), the verdict it was answered
  with (``null`` before the report) and its fingerprint id. ``icewatch analyze`` reads
  these records back (its ``export`` form), so an export can be re-scored offline.

Pure: the caller gives the stored sessions; nothing here reads a clock or a file.
"""

from __future__ import annotations

from typing import Any

from icewatch.core.document import iso_utc
from icewatch.core.ports import StoredSession

__all__ = ["CSV_COLUMNS", "csv_row", "jsonl_record", "session_level", "session_provider"]

#: The CSV header, in column order.
CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "reported_at",
    "level",
    "score",
    "signals",
    "client_ip",
    "peer_ip",
    "observed_ips",
    "provider",
    "asn",
    "browser",
    "browser_version",
    "os",
    "user_agent",
    "fingerprint",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(text: str) -> str:
    """``text`` as a cell a spreadsheet shows and never evaluates."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def session_level(stored: StoredSession) -> str:
    """The verdict level, or ``pending`` before the page has reported."""
    return "pending" if stored.verdict is None else stored.verdict.level.value


def session_provider(stored: StoredSession) -> tuple[str, int | None]:
    """``(provider, asn)`` of the session's HTTP client address from its IP intelligence:
    the first listing's provider (a cloud, VPN, Tor…) or else the AS organisation;
    ``("", None)`` when the address was not looked up or is unknown."""
    client_ip = stored.evidence.http.client_ip
    for lookup in stored.evidence.intel.lookups:
        if lookup.ip != client_ip:
            continue
        result = lookup.result
        listed = [h for h in result.hits if str(h.kind) != "allow"]
        name = listed[0].provider if listed else (result.org or "")
        asn = result.asn if result.asn is not None else (listed[0].asn if listed else None)
        return name, asn
    return "", None


def csv_row(stored: StoredSession) -> list[str]:
    """One session as the CSV cells of :data:`CSV_COLUMNS` (same order)."""
    ev = stored.evidence
    verdict = stored.verdict
    observed = sorted({str(o.ip) for o in ev.observations}, key=lambda s: (":" in s, s))
    provider, asn = session_provider(stored)
    client = ev.client
    user_agent = (
        ev.report.user_agent if ev.report is not None and ev.report.user_agent else ""
    ) or ev.http.user_agent
    return [
        ev.session_id,
        iso_utc(ev.created_at) or "",
        iso_utc(ev.reported_at) or "",
        session_level(stored),
        "" if verdict is None else str(verdict.score),
        "" if verdict is None else " ".join(s.code for s in verdict.signals),
        str(ev.http.client_ip),
        str(ev.http.peer_ip),
        " ".join(observed),
        _safe(provider),
        "" if asn is None else f"AS{asn}",
        "" if client is None else _safe(client.browser),
        "" if client is None else _safe(client.browser_version),
        "" if client is None else _safe(client.os),
        _safe(user_agent),
        stored.fingerprint or "",
    ]


def jsonl_record(stored: StoredSession) -> dict[str, Any]:
    """One session as a JSON Lines record (``icewatch analyze`` reads it back)."""
    return {
        "evidence": stored.evidence.as_dict(),
        "verdict": None if stored.verdict is None else stored.verdict.as_dict(),
        "fingerprint": stored.fingerprint,
    }
