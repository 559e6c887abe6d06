"""The user-agent enricher: parse what the client claims to be, into the evidence.

:func:`enrich_user_agent` is a :data:`~icewatch.web.context.Enricher`: at report time it
parses the user agent (``navigator.userAgent`` from the page, else the ``User-Agent``
header) with the maintained ``ua-parser`` rules (``ua-parser-builtins``, with the
``ua-parser-rs`` accelerator when installed), joins the user-agent client hints the
collector reported (``navigator.userAgentData``) and the ``Sec-CH-UA*`` headers of the
session's requests, and stores the resulting
:class:`~icewatch.core.client.ClientClaim` in ``SessionEvidence.client``. Stored there, it
travels with the evidence, so ``icewatch rescore`` re-scores with the same claim even if
the parser's rules change later.

Parsing is bounded (the string is cut at :data:`~icewatch.core.client.MAX_UA_CHARS`
before the parser sees it) and never raises: a parser failure gives an empty claim.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import replace
from functools import lru_cache

from ua_parser import parse as _ua_parse

from icewatch.core.client import (
    MAX_UA_CHARS,
    ClientClaim,
    ParsedAgent,
    build_claim,
    client_hints,
)
from icewatch.core.evidence import SessionEvidence

__all__ = ["PARSER", "claim_for", "enrich_user_agent", "parse_user_agent", "warm_up"]


def _parser_name() -> str:
    parts = []
    for dist in ("ua-parser", "ua-parser-builtins"):
        try:
            parts.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return ", ".join(parts)


#: Which parser and rules produced the claims (kept in each claim: provenance).
PARSER = _parser_name()


def _version(*parts: str | None) -> str:
    out: list[str] = []
    for part in parts:
        if not part:
            break
        out.append(part)
    return ".".join(out)


@lru_cache(maxsize=4096)
def parse_user_agent(user_agent: str) -> ParsedAgent:
    """``ua-parser``'s reading of ``user_agent`` (cut to ``MAX_UA_CHARS``); an empty
    :class:`ParsedAgent` when it recognises nothing or fails."""
    text = user_agent[:MAX_UA_CHARS]
    if not text.strip():
        return ParsedAgent()
    try:
        result = _ua_parse(text)
    except Exception:  # a third-party parser on untrusted text: never let it through
        return ParsedAgent()
    agent, os, device = result.user_agent, result.os, result.device
    return ParsedAgent(
        browser="" if agent is None or agent.family == "Other" else agent.family,
        browser_version=""
        if agent is None
        else _version(agent.major, agent.minor, agent.patch, agent.patch_minor),
        os="" if os is None or os.family == "Other" else os.family,
        os_version="" if os is None else _version(os.major, os.minor, os.patch, os.patch_minor),
        device_family="" if device is None or device.family == "Other" else device.family,
        device_brand="" if device is None else device.brand or "",
        device_model="" if device is None else device.model or "",
    )


def claim_for(evidence: SessionEvidence) -> ClientClaim:
    """The claim of this session's client, from its report and HTTP requests."""
    report = evidence.report
    http = evidence.report_http or evidence.http
    page_ua = report.user_agent if report is not None else ""
    if page_ua:
        ua, source = page_ua, "page"
    else:
        ua, source = http.user_agent, "http" if http.user_agent else ""
    headers = [*http.headers, *evidence.http.headers]
    hints = client_hints(report.ua_hints if report is not None else (), headers)
    return build_claim(
        ua,
        parse_user_agent(ua[:MAX_UA_CHARS]),
        hints=hints,
        source=source,
        http_user_agent=http.user_agent if source == "page" else None,
        parser=PARSER,
    )


async def enrich_user_agent(evidence: SessionEvidence) -> SessionEvidence:
    """The evidence with :attr:`SessionEvidence.client` filled in."""
    return replace(evidence, client=claim_for(evidence))


def warm_up() -> None:
    """Build the parser's rule set now (~0.1 s) rather than on the first visitor's report."""
    parse_user_agent("Mozilla/5.0 (X11; Linux x86_64) warm-up")
