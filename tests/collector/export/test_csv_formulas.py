"""CSV exports never hand a spreadsheet a formula: visitor-sent text starting with = + - @ TAB CR is quoted."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson

from collector.app import create_app
from collector.config import Config
from sitelens_tui.cli import main
from tests.conftest import BROWSER_HEADERS, flushed

AUTH = {"Authorization": "Bearer test-admin-token"}
HOSTILE = [
    '=HYPERLINK("http://evil.example/","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _titles(text: str) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return [r["title"] for r in rows if r["type"] == "pageview"]


async def test_visitor_sent_formulas_are_neutralised_in_cli_and_http_csv(
    aiohttp_client: Any, tmp_path: Path, capsys: Any
) -> None:
    cfg = Config.for_tests(tmp_path / "s.db")
    client = await aiohttp_client(create_app(cfg))
    events = [{"site": "example.com", "url": f"https://example.com/p{i}", "title": t} for i, t in enumerate(HOSTILE)]
    events.append({"site": "example.com", "url": "https://example.com/ok", "title": "Pricing - plans"})
    resp = await client.post("/api/event", data=orjson.dumps(events), headers=BROWSER_HEADERS)
    assert resp.status == 202
    await flushed(client)
    expected = sorted(["'" + t for t in HOSTILE] + ["Pricing - plans"])
    # HTTP
    resp = await client.get("/api/export?what=events&format=csv&range=all", headers=AUTH)
    assert resp.status == 200
    assert sorted(_titles(await resp.text())) == expected
    # CLI
    out = tmp_path / "e.csv"
    assert main(["export", "--db", str(cfg.db_path), "--format", "csv", "--what", "events", "-o", str(out)]) == 0
    capsys.readouterr()
    assert sorted(_titles(out.read_bytes().decode("utf-8"))) == expected
    # NDJSON is data, not a spreadsheet: it keeps the text as sent.
    resp = await client.get("/api/export?what=events&format=ndjson&range=all", headers=AUTH)
    titles = {orjson.loads(line)["title"] for line in (await resp.read()).splitlines()}
    assert set(HOSTILE) <= titles
