"""Batch import of a chunk of parsed log lines: the stateless work once per distinct value, then the live rules.

A file's lines share few distinct values: a few thousand User-Agents, request targets and referrers for millions
of lines. Everything that depends only on such a value (the request's kind, its URL split and redacted, the
referrer's class with UTM tags, the parsed UA, the bot verdict of a UA on a path) is computed once per distinct
value, in tables kept between chunks (bounded). What depends on order (which session a hit belongs to, its
behaviour and score, the bot verdict that sticks to a session) then runs hit by hit through `Pipeline.apply`, the
code live traffic uses, so both paths give the same rows by construction rather than by a second copy of the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collector.bots.request import RequestVerdict, is_probe_path
from collector.enrich.privacy import split_redacted
from collector.enrich.ua import UAInfo, parse_ua
from collector.logs.hits import HitCounts, hit_type, line_site, log_client, log_hit, page_url
from collector.logs.parse import LogLine
from collector.pipeline import Client, Pipeline, Referral, referral
from db.records import EVENT_COLUMNS

_IS_BOT = EVENT_COLUMNS.index("is_bot")
TABLE_MAX = 2_048
"""Distinct values remembered per table between chunks; past that a table starts over (memory stays flat)."""


class ChunkImporter:
    """Imports chunks of parsed lines through one pipeline, remembering per-distinct-value work between chunks."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._targets: dict[tuple[str, str, str, int], tuple[str, bool, str, str, str, bool]] = {}
        self._refs: dict[tuple[str, str, str, str], Referral] = {}
        self._agents: dict[str, UAInfo] = {}
        self._clients: dict[tuple[str, str, str | None, str | None], Client] = {}
        self._verdicts: dict[tuple[Any, ...], RequestVerdict] = {}

    def _target(self, site: str, method: str, target: str, status: int) -> tuple[str, bool, str, str, str, bool]:
        """(kind, asset, host, path, query, probe) of a request: its type, its URL split and redacted."""
        kind, asset = hit_type(method, target, status)
        host, path, query = split_redacted(page_url(site, target))
        path = path or "/"
        # A verdict reads the path only for whether it is a scanner's probe (assess_request).
        return kind, asset, host, path, query, is_probe_path(path)

    def _bound(self) -> None:
        """Start over any table that has grown past TABLE_MAX."""
        for table in (self._targets, self._refs, self._agents, self._clients, self._verdicts):
            if len(table) > TABLE_MAX:
                table.clear()

    def run(self, lines: Sequence[LogLine], site: str, counts: HitCounts) -> float:
        """Run parsed lines (in file order, each with a site: see `line_site`) through the pipeline, counting the
        hits in `counts`; `site` "" takes each line's host. Returns the last line's time."""
        self._bound()
        last_ts = 0.0
        targets, refs, agents, clients, verdicts = (
            self._targets, self._refs, self._agents, self._clients, self._verdicts,
        )  # fmt: skip
        pipeline = self.pipeline
        by_ip = pipeline.asn is not None  # a hosting-network hint depends on the address only with an ASN database
        session_for, apply, verdict_of = pipeline.session_for, pipeline.apply, pipeline.verdict
        count = counts.count
        for rec in lines:
            rec_site = line_site(rec, site)
            key = (rec_site, rec.method, rec.target, rec.status)
            known = targets.get(key)
            if known is None:
                known = targets[key] = self._target(*key)
            kind, asset, host, path, query, probe = known
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
                client = clients[client_key] = log_client(rec)
            hit = log_hit(rec, rec_site, kind, asset)
            verdict_key = (rec.ua, rec.accept, rec.accept_language, probe, rec.ip if by_ip else "")
            verdict = verdicts.get(verdict_key)
            if verdict is None:
                verdict = verdicts[verdict_key] = verdict_of(hit, client, ua, path)
            session, is_new = session_for(hit, client, rec.ts)
            row = apply(hit, client, rec.ts, session, is_new, ua, path, ref, verdict)
            count(kind, asset, bool(row[_IS_BOT]))
            last_ts = rec.ts
        return last_ts
