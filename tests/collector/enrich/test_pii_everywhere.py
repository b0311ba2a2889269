"""Property: personal data of the listed shapes, sent through any ingest path, is in no stored or exported string.

Shapes: US SSNs, card numbers passing Luhn (13-19 digits, IIN 2-6, plain or in groups of four), e-mail addresses,
JWTs, long hex secrets (>= 32 hex digits) and long base64url secrets (>= 32 characters with a 16+ character run
mixing letters and digits: random keys, not words); plus any value under a secret-named key (password, token,
ssn, card, cvv ...). The paths: the tracker (/api/event), server-side ingest (/api/ingest), access-log import and
`import-json`, each carrying the value in paths, query strings, referrers, titles, property values, event names,
user ids and User-Agents.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import re
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

import orjson
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from collector.app import create_app
from collector.config import Config, SiteConfig, ThrottleConfig
from collector.export import export_table
from collector.logs.importer import Importer
from db.sqlite.connection import connect
from sitelens_tui.commands.import_json import import_file as import_json
from tests.engines import sqlite_store

SITE = "example.com"
TOKEN = "ingest-token-for-example"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"


def _luhn_complete(body: str) -> str:
    """`body` plus the check digit that makes it pass Luhn."""
    for check in "0123456789":
        digits = body + check
        total = 0
        for i, ch in enumerate(reversed(digits)):
            v = int(ch) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


@st.composite
def cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    body = draw(st.sampled_from("23456")) + draw(st.text("0123456789", min_size=length - 2, max_size=length - 2))
    digits = _luhn_complete(body)
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


ssns = st.builds(
    lambda a, b, c: f"{a:03d}-{b:02d}-{c:04d}", st.integers(100, 899), st.integers(10, 99), st.integers(1000, 9999)
)
emails = st.builds(
    lambda local, dom, tld: f"{local}@{dom}.{tld}",
    st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,5})?", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
    st.from_regex(r"[a-z]{2,6}", fullmatch=True),
)
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
jwts = st.builds(
    lambda a, b, c: f"eyJ{a}.{b}.{c}",
    st.text(_B64URL, min_size=8, max_size=40),
    st.text(_B64URL, min_size=8, max_size=60),
    st.text(_B64URL, min_size=8, max_size=43),
)
hexes = st.binary(min_size=16, max_size=40).map(lambda b: b.hex())
_MIXED_RUN = re.compile(r"[A-Za-z0-9]{16,}")


def _random_looking(s: str) -> bool:
    return any(not (run.isalpha() or run.isdigit()) for run in _MIXED_RUN.findall(s))


base64s = (
    st.binary(min_size=24, max_size=48).map(lambda b: base64.urlsafe_b64encode(b).decode()).filter(_random_looking)
)
pii_values = st.one_of(ssns, cards(), emails, jwts, hexes, base64s)
secret_keys = st.sampled_from(["password", "passwd", "pwd", "secret", "token", "api_key", "ssn", "card", "cc", "cvv"])
plain_secrets = st.from_regex(r"pw[a-z]{6,12}", fullmatch=True)
"""Harmless-looking values (hunter2-like) that are secret only because of the key they are sent under."""


def _forms(value: str) -> set[str]:
    """How a value could show up in storage: as sent, URL-encoded, and (cards, SSNs) as bare digits."""
    forms = {value, quote(value, safe="")}
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) >= 9 and re.fullmatch(r"[0-9 \-]+", value):
        forms.add(digits)
    return forms


def _cfg(tmp: Path) -> Config:
    cfg = Config.for_tests(tmp / "sitelens.db")
    cfg.server.trusted_proxies = ["127.0.0.1"]
    cfg.throttle = ThrottleConfig(enabled=False)
    cfg.sites = [SiteConfig(name=SITE, ingest_token=TOKEN)]
    return cfg


async def _send_live(cfg: Config, values: list[str], secrets: list[tuple[str, str]]) -> None:
    """The tracker and server-side ingest, over HTTP to the real collector."""
    client = TestClient(TestServer(create_app(cfg), host="127.0.0.1"))
    await client.start_server()
    try:
        for i, v in enumerate(values):
            enc = quote(v, safe="@")
            key, secret = secrets[i % len(secrets)]
            headers = {"User-Agent": f"{CHROME} {v}", "Accept": "*/*", "Accept-Language": "en",
                       "X-Forwarded-For": f"198.51.100.{i + 1}", "Content-Type": "text/plain"}
            events = [
                {"site": SITE, "type": "pageview", "url": f"https://{SITE}/u/{enc}/x?q={enc}&{key}={secret}",
                 "title": f"Profile of {v} now", "referrer": f"https://ref.example/from/{enc}?e={enc}"},
                {"site": SITE, "type": "event", "name": f"clicked {v}", "url": f"https://{SITE}/",
                 "props": {"note": f"see {v} here", key: secret, "plain": v}},
            ]
            resp = await client.post("/api/event", data=orjson.dumps(events), headers=headers)
            assert resp.status == 202, await resp.text()
            server = [
                {"type": "api_request", "method": "GET", "endpoint": f"/v1/users/{enc}", "status": 200,
                 "user_id": v, "ip": f"192.0.2.{i + 1}", "ua": f"client {v}"},
                {"type": "auth", "action": "login_failed", "user_id": v, "ip": f"192.0.2.{i + 1}"},
                {"type": "custom", "name": "order", "props": {"card_number": secret, "memo": f"for {v}"},
                 "user_id": v},
            ]
            resp = await client.post(
                "/api/ingest", data=orjson.dumps(server), headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert resp.status == 202, await resp.text()
    finally:
        await client.close()


async def _import_log(cfg: Config, tmp: Path, values: list[str], secrets: list[tuple[str, str]]) -> None:
    log = tmp / "access.log"
    with log.open("w") as f:
        for i, v in enumerate(values):
            enc = quote(v, safe="@")
            key, secret = secrets[i % len(secrets)]
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(time.time() - 60 + i))
            f.write(
                f'10.1.0.{i + 1} - - [{stamp}] "GET /account/{enc}?{key}={secret}&m={enc} HTTP/1.1" 200 512 '
                f'"https://ref.example/{enc}" "{CHROME} {v}"\n'
            )
    async with Importer(cfg, site=SITE, fmt="combined") as importer:
        await importer.import_file(log)


async def _import_json(cfg: Config, tmp: Path, values: list[str], secrets: list[tuple[str, str]]) -> None:
    lines = []
    for i, v in enumerate(values):
        key, secret = secrets[i % len(secrets)]
        lines.append({"ts": time.time() - 30, "site": SITE, "type": "event", "session_id": 900 + i,
                      "path": f"/from/{v}", "title": f"t {v}", "name": f"n {v}", "user_id": v,
                      "referrer": f"https://r.example/{v}", "props": orjson.dumps({key: secret, "x": v}).decode()})
        lines.append({"id": 900 + i, "site": SITE, "visitor_id": "vj", "fingerprint": "fj", "started": time.time(),
                      "last_seen": time.time(), "entry_path": f"/e/{v}", "exit_path": f"/x/{v}", "ua": f"UA {v}",
                      "referrer": f"https://r.example/{v}"})
    path = tmp / "in.ndjson"
    path.write_bytes(b"".join(orjson.dumps(obj) + b"\n" for obj in lines))
    result = await import_json(path, sqlite_store(cfg.db_path))
    assert result.bad == 0 and result.events == len(values)


def _stored_strings(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = []
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                out.extend(v for v in row if isinstance(v, str))
        return out
    finally:
        conn.close()


def _exported_strings(db: Path, tmp: Path) -> list[str]:
    conn = connect(db)
    out: list[str] = []
    try:
        for what in ("events", "sessions"):
            for fmt in ("csv", "ndjson"):
                path = tmp / f"{what}.{fmt}"
                export_table(sqlite_store(conn), what, fmt, path)
                text = path.read_text(encoding="utf-8")
                if fmt == "csv":
                    out.extend(cell for row in csv.reader(io.StringIO(text)) for cell in row)
                else:
                    out.extend(str(v) for line in text.splitlines() for v in orjson.loads(line).values())
    finally:
        conn.close()
    return out


# Each example runs every ingest path on a fresh collector (~1.5 s): few examples, each carrying several values,
# and no shrinking (minutes per failure on this scale; the failing values are printed as found).
@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    values=st.lists(pii_values, min_size=3, max_size=6, unique=True),
    secrets=st.lists(st.tuples(secret_keys, plain_secrets), min_size=1, max_size=3),
)
def test_no_ingest_path_stores_or_exports_personal_data(tmp_path_factory, values, secrets) -> None:
    tmp = tmp_path_factory.mktemp("pii")
    cfg = _cfg(tmp)

    async def scenario() -> None:
        await _send_live(cfg, values, secrets)
        await _import_log(cfg, tmp, values, secrets)
        await _import_json(cfg, tmp, values, secrets)

    asyncio.run(scenario())
    strings = _stored_strings(cfg.db_path) + _exported_strings(cfg.db_path, tmp)
    assert len(strings) > 100  # everything arrived: the property is about real rows
    blob = "\n".join(strings)
    for value in values:
        for form in _forms(value):
            assert form not in blob, f"{form!r} stored or exported"
    for _key, secret in secrets:
        assert secret not in blob, f"{secret!r} (sent under a secret key) stored or exported"
