"""Query benchmark: load N generated events (default 10M) over 90 days into a store, then time every view's
queries through the storage contract for the 30-day and 90-day ranges (targets: at most 100 ms each on SQLite,
50 ms on ClickHouse) and report the store's size per million events.

Loading inserts the rows in big batches while a second process generates the next ones. On SQLite the rollups are
then computed once (`db.sqlite.rollups.rebuild`), as a bulk import would; on ClickHouse each chunk is rolled up
as the writer does it (`db.clickhouse.rollups.roll_up`) and its funnel steps inserted beside it. `--scale K` then
copies the loaded events K-1 more times inside ClickHouse (new ids and visitors, same days, the rollups' sums K
times, the funnel steps copied from the events again), to show the engine at K times the volume without
generating it in Python.

    python bench/queries.py                                        # 10M events on SQLite
    python bench/queries.py --store chdb:///tmp/bench-ch           # the same on ClickHouse (chDB)
    python bench/queries.py --store chdb:///tmp/bench-ch --reuse --scale 10   # then at 100M
    python bench/queries.py --events 2000000                       # a quicker run
    python bench/queries.py --db x.db --reuse                      # query a SQLite database loaded before
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.admin import TOP_LISTS as API_TOP_LISTS  # noqa: E402
from db.funnels import make_funnel  # noqa: E402
from db.queries.common import Filters, Span, span_for  # noqa: E402
from db.records import EVENT_COLUMNS, SESSION_COLUMNS, EventRecord, SessionRecord  # noqa: E402
from db.rules import DAY
from db.sqlite.batch import INSERT_EVENT, UPSERT_SESSION  # noqa: E402
from db.sqlite.connection import connect  # noqa: E402
from db.sqlite.rollups import rebuild  # noqa: E402
from db.store import Store, open_store  # noqa: E402
from db.url import StoreUrl, parse_store_url, sqlite_url  # noqa: E402

DAYS = 90
SITES = ["example.com"] * 6 + ["blog.example.org"] * 3 + ["shop.example.net"]
PATHS = (
    [f"/docs/{i}" for i in range(120)]
    + [f"/blog/post-{i}" for i in range(60)]
    + ["/", "/pricing", "/signup", "/login", "/about", "/contact", "/features", "/changelog"]
)
COUNTRIES = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "NL", "CA", "ES", "IT", "PL", "SE", ""]
BROWSERS = ["Chrome", "Firefox", "Safari", "Edge", "Opera", "Samsung Internet"]
OSES = ["Windows", "macOS", "Linux", "Android", "iOS"]
SOURCES = [
    ("", "direct"),
    ("Google", "search"),
    ("Bing", "search"),
    ("DuckDuckGo", "search"),
    ("Twitter", "social"),
    ("Reddit", "social"),
    ("news.ycombinator.com", "referral"),
    ("Newsletter", "email"),
]
QUESTIONS = [f"question {i}?" for i in range(40)]
ENDPOINTS = [("GET", f"/v1/items/{i}") for i in range(10)] + [("POST", "/v1/orders"), ("GET", "/v1/search")]
CHUNK_EVENTS = 40_000
BOT_SIGNALS = json.dumps([{"name": "high_request_count", "weight": 30, "value": 60}])


_E = {name: i for i, name in enumerate(EVENT_COLUMNS)}
_BLANK_EVENT = list(EventRecord(ts=0.0, site="", type="").as_row())
_S = {name: i for i, name in enumerate(SESSION_COLUMNS)}
_BLANK_SESSION = list(SessionRecord(id=0, site="", visitor_id="", fingerprint="", started=0.0, last_seen=0.0).as_row())
(TS, TYPE, PATH, NAME, PROPS, SCROLL, ENGAGED, REF_SOURCE, REF_MEDIUM) = (
    _E[c] for c in ("ts", "type", "path", "name", "props", "scroll", "engaged_ms", "ref_source", "ref_medium")
)


def _event(base: list[object], ts: float, type_: str, path: str) -> list[object]:
    row = base.copy()
    row[TS], row[TYPE], row[PATH] = ts, type_, path
    return row


def _fields(blank: list[object], index: dict[str, int], **values: object) -> list[object]:
    row = blank.copy()
    for name, value in values.items():
        row[index[name]] = value
    return row


def generate(n_events: int, now: float, seed: int = 7) -> Iterator[tuple[list[list[object]], list[list[object]]]]:
    """Yield (event rows, session rows) chunks in column order until about `n_events` events were produced.

    Rows are built from per-session templates rather than records: generating 10M events is most of the load."""
    rng = random.Random(seed)
    start = now - DAYS * DAY
    produced = 0
    session_id = 1
    evs: list[list[object]] = []
    sess: list[list[object]] = []
    gap = DAYS * DAY / max(n_events / 6.0, 1.0)  # about six events per session; sessions arrive in time order
    ts0 = start
    while produced < n_events:
        ts0 = min(ts0 + rng.expovariate(1 / gap), now - 60)
        site = rng.choice(SITES)
        bot = rng.random() < 0.1
        visitor = f"{int(ts0 // DAY)}-{rng.randrange(40_000):x}"
        source, medium = rng.choice(SOURCES)
        country, browser, os_ = rng.choice(COUNTRIES), rng.choice(BROWSERS), rng.choice(OSES)
        device = "mobile" if os_ in ("Android", "iOS") else "desktop"
        n_pages = rng.randint(1, 30 if bot else 8)
        bot_name = "Googlebot" if bot and rng.random() < 0.5 else ""
        base = _fields(
            _BLANK_EVENT,
            _E,
            site=site,
            session_id=session_id,
            visitor_id=visitor,
            fingerprint=f"fp{visitor}",
            browser=browser,
            os=os_,
            device=device,
            country=country,
            is_bot=int(bot),
            bot_name=bot_name,
            ref_medium="internal",
        )
        t = ts0
        paths = []
        n_custom = 0
        for i in range(n_pages):
            path = rng.choice(PATHS) if i or rng.random() < 0.5 else "/"
            paths.append(path)
            row = _event(base, t, "request" if bot else "pageview", path)
            if i == 0:
                row[REF_SOURCE], row[REF_MEDIUM] = source, medium
            evs.append(row)
            if not bot and rng.random() < 0.3:
                row = _event(base, t + 20, "engagement", path)
                row[SCROLL], row[ENGAGED] = rng.choice([25, 50, 75, 100]), rng.randrange(60_000)
                evs.append(row)
            if not bot and rng.random() < 0.05:
                props = {"question": rng.choice(QUESTIONS), "answered": rng.choice(["true", "false"])}
                row = _event(base, t + 5, "event", path)
                row[NAME], row[PROPS] = "chat_question", json.dumps(props)
                evs.append(row)
                n_custom += 1
            if not bot and path == "/signup" and rng.random() < 0.5:
                row = _event(base, t + 9, "event", path)
                row[NAME], row[PROPS] = "signup", json.dumps({"plan": rng.choice(["free", "pro"])})
                evs.append(row)
                n_custom += 1
            t += rng.expovariate(1 / 40)
        if rng.random() < 0.25:  # the site's API sees this visitor too
            for _ in range(rng.randint(1, 6)):
                method, endpoint = rng.choice(ENDPOINTS)
                evs.append(
                    _fields(
                        _BLANK_EVENT,
                        _E,
                        ts=ts0 + rng.random() * 300,
                        site=site,
                        type="api_request",
                        method=method,
                        path=endpoint,
                        status=503 if rng.random() < 0.02 else 200,
                        latency_ms=rng.lognormvariate(3.5, 0.6),
                    )
                )
        if rng.random() < 0.01:
            evs.append(
                _fields(
                    _BLANK_EVENT,
                    _E,
                    ts=ts0,
                    site=site,
                    type="auth",
                    name="login",
                    success=int(rng.random() < 0.7),
                    fingerprint=f"fp{visitor}",
                )
            )
            evs.append(
                _fields(
                    _BLANK_EVENT,
                    _E,
                    ts=ts0,
                    site=site,
                    type="external_call",
                    name=rng.choice(["openai", "stripe"]),
                    cost_usd=rng.random() / 50,
                    latency_ms=rng.lognormvariate(6, 0.4),
                )
            )
        sess.append(
            _fields(
                _BLANK_SESSION,
                _S,
                id=session_id,
                site=site,
                visitor_id=visitor,
                fingerprint=f"fp{visitor}",
                started=ts0,
                last_seen=t,
                new_visitor=int(rng.random() < 0.8),
                pageviews=0 if bot else n_pages,
                requests=n_pages if bot else 0,
                events=n_custom,
                entry_path=paths[0],
                exit_path=paths[-1],
                browser=browser,
                os=os_,
                device=device,
                country=country,
                ref_source=source,
                ref_medium=medium,
                utm_campaign=rng.choice(["", "", "", "launch", "spring"]),
                is_bot=int(bot),
                bot_name=bot_name,
                bot_score=rng.randint(50, 95) if bot else rng.choice((0, 0, 0, 10, 15, 25)),
                bot_signals=BOT_SIGNALS if bot else "[]",
            )
        )
        session_id += 1
        if len(evs) >= CHUNK_EVENTS:
            produced += len(evs)
            yield evs, sess
            evs, sess = [], []
    if evs:
        yield evs, sess


def _produce(n_events: int, now: float, out: Connection) -> None:
    """Child process: generate chunks and send them to the loader (generation and inserts use both cores)."""
    for chunk in generate(n_events, now):
        out.send(chunk)
    out.send(None)
    out.close()


def _chunks(n_events: int, now: float) -> Iterator[tuple[list[list[object]], list[list[object]]]]:
    """The generated chunks, produced by a child process while the caller inserts the previous ones."""
    receiver, sender = mp.Pipe(duplex=False)
    child = mp.Process(target=_produce, args=(n_events, now, sender), daemon=True)
    child.start()
    sender.close()
    try:
        while (chunk := receiver.recv()) is not None:
            yield chunk
    finally:
        receiver.close()
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()


def load_clickhouse(url: StoreUrl, n_events: int, now: float) -> tuple[float, float]:
    """Insert the generated rows as the ClickHouse writer would (ids, session versions, rollups), one insert per
    chunk."""
    from db.clickhouse import funnel_steps, rank, rollups
    from db.clickhouse.ids import new_id

    store = open_store(url, create=True)
    ch = store.ch  # type: ignore[attr-defined]
    started = time.perf_counter()
    written = 0
    memo = rollups.Memo(since=-math.inf)  # every generated session is new: none is looked up
    for n, (evs, sess) in enumerate(_chunks(n_events, now)):
        rows = [(new_id(float(e[0])), *e) for e in evs]  # type: ignore[arg-type]
        sessions = [(*r, 1) for r in sess]
        rolled = rollups.roll_up_batch(ch, rows, sessions, f"bench:{n}", memo)
        ch.insert("events", rows, ("id", *EVENT_COLUMNS))
        funnel_steps.insert(ch, rows)
        ch.insert("sessions", sessions, (*SESSION_COLUMNS, "version"))
        memo.remember(*rolled)
        written += len(evs)
        if written // 1_000_000 != (written - len(evs)) // 1_000_000:
            print(f"  inserted {written:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
    ch.command(
        "INSERT INTO fingerprint_news SELECT fingerprint, max(last_seen), count(), sum(pageviews + requests + events), "
        "max(bot_score), if(max(bot_score) >= 50, 'warning', 'normal'), '', max(bot_name), '[]' FROM sessions "
        "GROUP BY fingerprint"
    )
    rank.rank_all(ch)  # as the writer ranks the fingerprints of the news it inserts
    store.close()
    return time.perf_counter() - started, 0.0


def scale_clickhouse(store: Store, times: int) -> None:
    """Add `times - 1` copies of every stored event and session inside ClickHouse (ids shifted, visitors renamed),
    in one pass each (ARRAY JOIN over the copy numbers); the funnel steps are copied from the events again."""
    from db.clickhouse import funnel_steps

    ch = store.ch  # type: ignore[attr-defined]
    changed = {"id": "id + k", "session_id": "session_id + k", "visitor_id": "concat(visitor_id, '-', toString(k))"}
    for table, columns in (("events", ("id", *EVENT_COLUMNS)), ("sessions", (*SESSION_COLUMNS, "version"))):
        started = time.perf_counter()
        select = ", ".join(changed.get(c, c) for c in columns)
        ch.command(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {table} "
            f"ARRAY JOIN range(1, {int(times)}) AS k"
        )
        print(f"  {table} x{times}: {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    ch.command("TRUNCATE TABLE funnel_steps")
    funnel_steps.backfill(ch)
    print(f"  funnel_steps from the events: {time.perf_counter() - started:.0f} s", flush=True)
    # The copies' visits are their originals' (session ids shift together), so every rollup sum grows K times.
    ch.command(
        "INSERT INTO rollup_events SELECT site, grain, bucket, is_bot, kind, key, props, hits * ?, visits * ?, "
        "scroll * ?, engaged_ms * ?, bounces * ?, duration_ms * ? FROM rollup_events FINAL",
        [times - 1] * 6,
    )


def load(path: Path, n_events: int, now: float) -> tuple[float, float]:
    """Insert the generated rows in big transactions (executemany, as the writer does), then compute every
    rollup once with `db.sqlite.rollups.rebuild`; returns (insert seconds, rollup seconds)."""
    conn = connect(path)
    conn.execute("PRAGMA synchronous=OFF")  # a benchmark database: a crash only loses the benchmark
    conn.execute("PRAGMA cache_size=-262144")
    started = time.perf_counter()
    written = 0
    conn.execute("BEGIN IMMEDIATE")
    for evs, sess in _chunks(n_events, now):
        conn.executemany(INSERT_EVENT, evs)
        conn.executemany(UPSERT_SESSION, sess)
        written += len(evs)
        if written // 1_000_000 != (written - len(evs)) // 1_000_000:
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            print(f"  inserted {written:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
    fill_fingerprints(conn)
    conn.execute("COMMIT")
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    rebuild(conn)
    rolled = time.perf_counter() - started
    print(f"  rollups computed in {rolled:.0f} s", flush=True)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return inserted, rolled


def fill_fingerprints(conn: sqlite3.Connection) -> None:
    """One reputation row per fingerprint, as the writer keeps them, so the Bots view has real work."""
    conn.execute(
        "INSERT OR IGNORE INTO fingerprints (fingerprint, first_seen, last_seen, sessions, requests, max_score, "
        "level, bot_name) SELECT fingerprint, min(started), max(last_seen), count(*), "
        "sum(pageviews + requests + events), max(bot_score), CASE WHEN max(bot_score) >= 50 THEN 'warning' "
        "ELSE 'normal' END, max(bot_name) FROM sessions GROUP BY fingerprint"
    )


def table_sizes(conn: sqlite3.Connection) -> list[tuple[str, float]]:
    """(table or index, MB) largest first, when SQLite was built with the dbstat table."""
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    except sqlite3.Error:
        return []
    return [(str(r[0]), r[1] / 1e6) for r in rows if r[1] >= 1e6]


def views(span: Span) -> dict[str, list[tuple[str, Callable[[Store], object]]]]:
    """Every view's queries for one span, as the TUI runs them (humans, first site), through the contract."""
    f = Filters(site="example.com")
    funnel = make_funnel("signup", [{"path": "/pricing"}, {"path": "/signup"}, {"event": "signup"}], 1800)
    # Inexact steps: a glob every blog reader's visit matches (most visitors enter) and a property to check.
    glob = make_funnel(
        "blog", [{"path": "/blog/*"}, {"path": "/pricing"}, {"event": "signup", "props": {"plan": "pro"}}]
    )
    return {
        # What the Overview tab loads (sitelens_tui/views/overview.py) ...
        "overview": [
            ("overview (one call)", lambda c: c.overview(span, f, ["path", "ref_source", "country", "device"], 10)),
        ],
        "engagement": [("engagement", lambda c: c.engagement(span, f, 50))],  # sitelens_tui/views/engagement.py
        # Not a view: the other top lists and the engagement /api/stats gives (collector/admin.py).
        "api lists": [
            ("top lists", lambda c: c.tops(span, f, list(API_TOP_LISTS.values()), 10)),
            ("engagement", lambda c: c.engagement(span, f, 10)),
        ],
        "events": [  # the first event's properties, every key (sitelens_tui/views/events.py)
            ("custom_events", lambda c: c.custom_events(span, f, 50)),
            ("breakdown per key", lambda c: c.property_breakdowns(span, f, "chat_question", limit=20)),
        ],
        "bots": [
            ("top_bots", lambda c: c.top_bots(span, f, 20)),
            ("top_fingerprints", lambda c: c.top_fingerprints(span, 50)),
            ("drops_by_level", lambda c: c.drops_by_level(span)),
        ],
        "server": [
            ("endpoints", lambda c: c.endpoints(span, f, 20)),
            ("failed_logins", lambda c: c.failed_logins(span, f, 20)),
            ("external_costs", lambda c: c.external_costs(span, f)),
            ("users", lambda c: c.users(span, f, 20)),
            ("daily_active_users", lambda c: c.daily_active_users(span, f)),
        ],
        "requests": [
            ("status_codes", lambda c: c.status_codes(span, Filters(f.site, (), "all"))),
            ("not_found", lambda c: c.not_found(span, Filters(f.site, (), "all"), 20)),
            ("bandwidth", lambda c: c.bandwidth(span, Filters(f.site, (), "all"), 20)),
        ],
        "funnels": [("funnel_report", lambda c: c.funnel_report(funnel, span, f))],
        # The view shows one funnel at a time: one with inexact steps (globs, properties) on its own.
        "funnel glob": [("funnel_report glob", lambda c: c.funnel_report(glob, span, f))],
        "anomalies": [("recent_anomalies", lambda c: c.recent_anomalies(span, 100))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events to generate (default 10M)")
    parser.add_argument("--db", help="SQLite file to create (default: a temporary file, deleted afterwards)")
    parser.add_argument("--store", help="a store URL instead of --db (chdb:///PATH, clickhouse://...)")
    parser.add_argument("--reuse", action="store_true", help="query a store loaded before without loading")
    parser.add_argument("--scale", type=int, default=1, help="ClickHouse: copy the events to K times as many")
    parser.add_argument("--repeat", type=int, default=3, help="runs per query; the best one is reported")
    parser.add_argument(
        "--ranges", default="30d,90d", help="comma-separated ranges to time (default 30d,90d; also 24h, 7d)"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated views or query names to time (default: every query)"
    )
    args = parser.parse_args(argv)
    tmp = None
    if args.store:
        url = parse_store_url(args.store)
    elif args.db:
        url = sqlite_url(args.db)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="sitelens-bench-")
        url = sqlite_url(Path(tmp.name) / "bench.db")
    target = 50 if url.engine == "clickhouse" else 100
    now = time.time()
    try:
        if not args.reuse:
            if url.engine == "sqlite" and Path(url.path).exists():
                print(f"{url.path} exists: pass --reuse to query it or choose another --db", file=sys.stderr)
                return 2
            print(f"loading {args.events:,} events over {DAYS} days into {url.display()} ...", flush=True)
            if url.engine == "sqlite":
                inserted, rolled = load(Path(url.path), args.events, now)
            else:
                inserted, rolled = load_clickhouse(url, args.events, now)
            print(f"loaded in {inserted + rolled:.1f} s (inserts {inserted:.1f} s, rollups {rolled:.1f} s)")
        if args.reuse:  # a store loaded by an older version gets the newer schema (and its backfills) first
            started = time.perf_counter()
            open_store(url).close()
            print(f"schema brought up to date in {time.perf_counter() - started:.1f} s", flush=True)
        store = open_store(url, readonly=True, create=False)
        if args.scale > 1:
            scale_clickhouse(store, args.scale)
        stats = store.storage_stats()
        total = stats.rows.get("events", 0)
        last = store.latest_events(0, limit=1)
        end = max((e.ts for e in last), default=now)
        size = store.size_bytes()
        print(
            f"{total:,} events, store {size / 1e6:.1f} MB = {size / 1e6 / max(total / 1e6, 1e-9):.1f} MB "
            "per million events"
        )
        if url.engine == "sqlite":
            conn = connect(url.path, readonly=True)
            for name, mb in table_sizes(conn):
                print(f"  {name:<24} {mb:8.1f} MB")
            conn.close()
        worst = worst_view = 0.0
        only = {w.strip() for w in args.only.split(",") if w.strip()}
        for label in args.ranges.split(","):
            span = span_for(label.strip(), end + 1)
            print(f"\n{label} range (target <= {target} ms per query)        first      best")
            for view, queries in views(span).items():
                queries = [(n, fn) for n, fn in queries if not only or view in only or n in only]
                if not queries:
                    continue
                view_ms = 0.0
                for name, fn in queries:
                    times = []
                    for _ in range(max(args.repeat, 1)):
                        t0 = time.perf_counter()
                        fn(store)
                        times.append((time.perf_counter() - t0) * 1000)
                    best = min(times)
                    view_ms += best
                    worst = max(worst, best)
                    flag = "" if best <= target else "  OVER"
                    print(f"  {view:<10} {name:<20} {times[0]:8.1f} ms {best:8.1f} ms{flag}")
                worst_view = max(worst_view, view_ms)
                flag = "" if view_ms <= target else "  OVER"
                print(f"  {view:<10} {'(view total)':<20} {'':11} {view_ms:8.1f} ms{flag}")
        print(f"\nslowest query: {worst:.1f} ms, slowest view (all its queries): {worst_view:.1f} ms")
        store.close()
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
