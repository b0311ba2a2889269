"""Batch import of a chunk of parsed log lines: the stateless work once per distinct value, then the live rules.

A chunk's lines share few distinct values: a few hundred User-Agents, request targets and referrers for thousands
of lines. Everything that depends only on such a value (the request's kind, its URL split and redacted, the
referrer's class with UTM tags, the parsed UA, the bot verdict of a UA on a path) is computed once per distinct
value in the chunk. What depends on order (which session a hit belongs to, its behaviour and score, the bot
verdict that sticks to a session) then runs hit by hit through `Pipeline.apply`, the code live traffic uses, so
both paths give the same rows by construction rather than by a second copy of the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from collector.bots.request import RequestVerdict, is_probe_path
from collector.enrich.privacy import split_redacted
from collector.enrich.ua import UAInfo, parse_ua
from collector.logs.hits import hit_type, page_url
from collector.logs.parse import LogLine
from collector.pipeline import Client, Pipeline, Referral, referral
from collector.validation import Hit
from db.records import EVENT_COLUMNS

_IS_BOT = EVENT_COLUMNS.index("is_bot")


@dataclass(slots=True)
class ChunkCounts:
    """What one chunk added, for the import's summary."""

    imported: int = 0
    pageviews: int = 0
    requests: int = 0
    assets: int = 0
    bots: int = 0
    no_site: list[int] = field(default_factory=list)
    """Indexes of the lines with no site to import into (JSON logs without a host, and no --site)."""
    last_ts: float = 0.0
    """The time of the last line imported."""


def import_chunk(pipeline: Pipeline, lines: Sequence[LogLine], site: str) -> ChunkCounts:
    """Run a chunk of parsed lines (in file order) through the pipeline; `site` "" takes each line's host."""
    counts = ChunkCounts()
    kinds: dict[tuple[str, str, int], tuple[str, bool]] = {}
    urls: dict[tuple[str, str], tuple[str, str, str]] = {}
    refs: dict[tuple[str, str, str, str], Referral] = {}
    agents: dict[str, UAInfo] = {}
    clients: dict[tuple[str, str, str | None, str | None], Client] = {}
    verdicts: dict[tuple[Any, ...], RequestVerdict] = {}
    by_ip = pipeline.asn is not None  # a hosting-network hint depends on the address only with an ASN database
    session_for, apply, verdict_of = pipeline.session_for, pipeline.apply, pipeline.verdict
    for index, rec in enumerate(lines):
        line_site = site or rec.host.lower()
        if not line_site:
            counts.no_site.append(index)
            continue
        key = (rec.method, rec.target, rec.status)
        kind_asset = kinds.get(key)
        if kind_asset is None:
            kind_asset = kinds[key] = hit_type(*key)
        kind, asset = kind_asset
        where = urls.get((line_site, rec.target))
        if where is None:
            host, path, query = split_redacted(page_url(line_site, rec.target))
            where = urls[(line_site, rec.target)] = (host, path or "/", query)
        host, path, query = where
        ref_key = (kind, rec.referrer, host, query)
        ref = refs.get(ref_key)
        if ref is None:
            ref = refs[ref_key] = referral(*ref_key)
        ua = agents.get(rec.ua)
        if ua is None:
            ua = agents[rec.ua] = parse_ua(rec.ua)
        client_key = (rec.ip, rec.ua, rec.accept, rec.accept_language)
        client = clients.get(client_key)
        if client is None:
            headers_known = rec.accept is not None or rec.accept_language is not None
            client = clients[client_key] = Client(rec.ip, rec.ua, rec.accept, rec.accept_language, headers_known)
        hit = Hit(
            site=line_site,
            type=kind,
            referrer=rec.referrer,
            method=rec.method,
            status=rec.status,
            latency_ms=rec.latency_ms,
            bytes=rec.size,
            success=rec.status < 500,
            asset=asset,
        )
        # A verdict reads the path only for whether it is a scanner's probe (assess_request).
        verdict_key = (rec.ua, rec.accept, rec.accept_language, is_probe_path(path), rec.ip if by_ip else "")
        verdict = verdicts.get(verdict_key)
        if verdict is None:
            verdict = verdicts[verdict_key] = verdict_of(hit, client, ua, path)
        session, is_new = session_for(hit, client, rec.ts)
        row = apply(hit, client, rec.ts, session, is_new, ua, path, ref, verdict)
        counts.imported += 1
        if kind == "pageview":
            counts.pageviews += 1
        else:
            counts.requests += 1
            if asset:
                counts.assets += 1
        if row[_IS_BOT]:
            counts.bots += 1
        counts.last_ts = rec.ts
    return counts
