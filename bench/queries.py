"""Query benchmark: load N generated events (default 10M) over 90 days, then time every view's queries for the
30-day and 90-day ranges (target: at most 100 ms each) and report the database size per million events.

    python bench/queries.py                 # 10M events
    python bench/queries.py --events 500000 # a quicker run
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.funnels import make_funnel  # noqa: E402
from db.connection import connect  # noqa: E402
from db.queries import anomalies, bots, events, funnels, overview, server  # noqa: E402
from db.queries.common import Filters, Span  # noqa: E402
from db.records import EventRecord, SessionRecord  # noqa: E402
from db.rollups import DAY, rollup_hooks  # noqa: E402
from db.writer import INSERT_EVENT, UPSERT_SESSION, Batch  # noqa: E402

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


def generate(n_events: int, now: float, seed: int = 7):
    """Yield (events, sessions) chunks until about `n_events` events were produced."""
    rng = random.Random(seed)
    start = now - DAYS * DAY
    produced = 0
    session_id = 1
    evs: list[tuple[object, ...]] = []
    sess: list[tuple[object, ...]] = []
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
        t = ts0
        paths = []
        common = dict(
            site=site,
            session_id=session_id,
            visitor_id=visitor,
            fingerprint=f"fp{visitor}",
            browser=browser,
            os=os_,
            device=device,
            country=country,
            is_bot=int(bot),
            bot_name="Googlebot" if bot and rng.random() < 0.5 else "",
        )
        n_custom = 0
        for i in range(n_pages):
            path = rng.choice(PATHS) if i or rng.random() < 0.5 else "/"
            paths.append(path)
            evs.append(
                EventRecord(
                    ts=t,
                    type="pageview" if not bot else "request",
                    path=path,
                    ref_source=source if i == 0 else "",
                    ref_medium=medium if i == 0 else "internal",
                    **common,
                ).as_row()
            )
            if not bot and rng.random() < 0.3:
                evs.append(
                    EventRecord(
                        ts=t + 20,
                        type="engagement",
                        path=path,
                        scroll=rng.choice([25, 50, 75, 100]),
                        engaged_ms=rng.randrange(60_000),
                        **common,
                    ).as_row()
                )
            if not bot and rng.random() < 0.05:
                props = {"question": rng.choice(QUESTIONS), "answered": rng.choice(["true", "false"])}
                evs.append(
                    EventRecord(
                        ts=t + 5,
                        type="event",
                        path=path,
                        name="chat_question",
                        props=json.dumps(props),
                        **common,
                    ).as_row()
                )
                n_custom += 1
            if not bot and path == "/signup" and rng.random() < 0.5:
                evs.append(
                    EventRecord(
                        ts=t + 9,
                        type="event",
                        path=path,
                        name="signup",
                        props=json.dumps({"plan": rng.choice(["free", "pro"])}),
                        **common,
                    ).as_row()
                )
                n_custom += 1
            t += rng.expovariate(1 / 40)
        if rng.random() < 0.25:  # the site's API sees this visitor too
            for _ in range(rng.randint(1, 6)):
                method, endpoint = rng.choice(ENDPOINTS)
                evs.append(
                    EventRecord(
                        ts=ts0 + rng.random() * 300,
                        site=site,
                        type="api_request",
                        method=method,
                        path=endpoint,
                        status=503 if rng.random() < 0.02 else 200,
                        latency_ms=rng.lognormvariate(3.5, 0.6),
                    ).as_row()
                )
        if rng.random() < 0.01:
            evs.append(
                EventRecord(
                    ts=ts0,
                    site=site,
                    type="auth",
                    name="login",
                    success=int(rng.random() < 0.7),
                    fingerprint=f"fp{visitor}",
                ).as_row()
            )
            evs.append(
                EventRecord(
                    ts=ts0,
                    site=site,
                    type="external_call",
                    name=rng.choice(["openai", "stripe"]),
                    cost_usd=rng.random() / 50,
                    latency_ms=rng.lognormvariate(6, 0.4),
                ).as_row()
            )
        sess.append(
            SessionRecord(
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
                bot_name=common["bot_name"],
            ).as_row()
        )  # type: ignore[arg-type]
        session_id += 1
        if len(evs) >= CHUNK_EVENTS:
            produced += len(evs)
            yield evs, sess
            evs, sess = [], []
    if evs:
        yield evs, sess


def load(path: Path, n_events: int, now: float) -> float:
    """Write the generated data like the writer does (one transaction per chunk, rollup hooks included)."""
    conn = connect(path)
    hooks = rollup_hooks()
    started = time.perf_counter()
    written = 0
    for evs, sess in generate(n_events, now):
        batch = Batch(events=evs, sessions={int(s[0]): s for s in sess})  # type: ignore[call-overload]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT_EVENT, batch.events)
        conn.executemany(UPSERT_SESSION, batch.sessions.values())
        for hook in hooks:
            hook(conn, batch)
        conn.execute("COMMIT")
        written += len(evs)
        if written // 1_000_000 != (written - len(evs)) // 1_000_000:
            print(f"  loaded {written:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - started


def views(span: Span) -> dict[str, list[tuple[str, Callable[[object], object]]]]:
    """Every view's queries for one span, as the TUI runs them (humans, first site)."""
    f = Filters(site="example.com")
    funnel = make_funnel("signup", [{"path": "/pricing"}, {"path": "/signup"}, {"event": "signup"}], 1800)
    return {
        "overview": [
            ("kpis_with_change", lambda c: overview.kpis_with_change(c, span, f)),
            ("timeseries", lambda c: overview.timeseries(c, span, f)),
            ("top pages", lambda c: overview.top(c, span, f, "path")),
            ("top entry", lambda c: overview.top(c, span, f, "entry_path")),
            ("top exit", lambda c: overview.top(c, span, f, "exit_path")),
            ("top sources", lambda c: overview.top(c, span, f, "ref_source")),
            ("top utm", lambda c: overview.top(c, span, f, "utm_campaign")),
            ("top countries", lambda c: overview.top(c, span, f, "country")),
            ("top browsers", lambda c: overview.top(c, span, f, "browser")),
            ("top os", lambda c: overview.top(c, span, f, "os")),
            ("top devices", lambda c: overview.top(c, span, f, "device")),
            ("heatmap", lambda c: overview.heatmap(c, span, f)),
            ("engagement", lambda c: overview.engagement(c, span, f, 10)),
        ],
        "events": [
            ("custom_events", lambda c: events.custom_events(c, span, f, 20)),
            (
                "property_breakdown",
                lambda c: events.property_breakdown(
                    c, span, f, "chat_question", "question", {"answered": "false"}, 10
                ),
            ),
        ],
        "bots": [
            ("top_bots", lambda c: bots.top_bots(c, span, f, 20)),
            ("top_fingerprints", lambda c: bots.top_fingerprints(c, span, 50)),
            ("drops_by_level", lambda c: bots.drops_by_level(c, span)),
            ("bot_share", lambda c: bots.bot_share(c, span, f)),
        ],
        "server": [
            ("endpoints", lambda c: server.endpoints(c, span, f, 20)),
            ("failed_logins", lambda c: server.failed_logins(c, span, f, 20)),
            ("external_costs", lambda c: server.external_costs(c, span, f)),
        ],
        "funnels": [("funnel_report", lambda c: funnels.funnel_report(c, funnel, span, f))],
        "anomalies": [("recent_anomalies", lambda c: anomalies.recent_anomalies(c, span, 100))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events to generate (default 10M)")
    parser.add_argument(
        "--db", help="database file to create (default: a temporary file, deleted afterwards)"
    )
    parser.add_argument("--reuse", action="store_true", help="query an existing --db without loading")
    parser.add_argument("--repeat", type=int, default=3, help="runs per query; the best one is reported")
    args = parser.parse_args(argv)
    tmp = None
    if args.db:
        path = Path(args.db)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="sitelens-bench-")
        path = Path(tmp.name) / "bench.db"
    now = time.time()
    try:
        if not args.reuse:
            if path.exists():
                print(f"{path} exists: pass --reuse to query it or choose another --db", file=sys.stderr)
                return 2
            print(f"loading {args.events:,} events over {DAYS} days into {path} ...", flush=True)
            seconds = load(path, args.events, now)
            print(f"loaded in {seconds:.1f} s")
        conn = connect(path, readonly=True)
        total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        last = conn.execute("SELECT max(ts) FROM events").fetchone()[0] or now
        size = path.stat().st_size
        print(
            f"{total:,} events, database {size / 1e6:.1f} MB = {size / 1e6 / max(total / 1e6, 1e-9):.1f} MB "
            "per million events"
        )
        worst = 0.0
        for label, days in (("30d", 30), ("90d", 90)):
            span = Span(last + 1 - days * DAY, last + 1)
            print(f"\n{label} range (target <= 100 ms per query)")
            for view, queries in views(span).items():
                view_ms = 0.0
                for name, fn in queries:
                    best = float("inf")
                    for _ in range(args.repeat):
                        t0 = time.perf_counter()
                        fn(conn)
                        best = min(best, (time.perf_counter() - t0) * 1000)
                    view_ms += best
                    worst = max(worst, best)
                    flag = "" if best <= 100 else "  OVER"
                    print(f"  {view:<10} {name:<20} {best:8.1f} ms{flag}")
                print(f"  {view:<10} {'(view total)':<20} {view_ms:8.1f} ms")
        print(f"\nslowest query: {worst:.1f} ms")
        conn.close()
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
