"""Collector memory on a big database: RSS of `sitelens collect` with N events stored vs bare aiohttp.

Run from the repository root:
    python -m bench.memory                                # 10M events in a temporary database, 90 s traffic
    python -m bench.memory --events 10000000 --db big.db  # build big.db once (kept) ...
    python -m bench.memory --db big.db --duration 60      # ... and measure on it again later

The database is filled directly (one transaction per million events, rollups caught up as the writer would)
with sessions of realistic events spread over the last 60 days. Then the collector runs on it while many
simulated visitors, a crawler and a server-side client send mixed traffic, and its /proc status is sampled
every 0.5 s. The same traffic goes to a bare aiohttp process for the baseline.
Target: collector RSS, its writer process included, <= 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.durability import free_port, stop_process, wait_ready
from bench.proctree import descendants
from db.records import EventRecord, SessionRecord
from db.sqlite.batch import INSERT_EVENT, UPSERT_SESSION
from db.sqlite.connection import connect
from db.sqlite.rollups import catch_up

TARGET_MB = 150.0
INGEST_TOKEN = "bench-memory-ingest-token"
SITES = ("example.com", "blog.example.org", "shop.example.net")
UAS = tuple(
    [
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 "
        "Safari/537.36"
        for v in range(100, 126)
    ]
    + [
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        f"Version/{v}.1 Safari/605.1.15"
        for v in range(14, 18)
    ]
    + [
        f"Mozilla/5.0 (iPhone; CPU iPhone OS {v}_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        f"Version/{v}.1 Mobile/15E148 Safari/604.1"
        for v in range(15, 18)
    ]
    + [
        f"Mozilla/5.0 (Linux; Android {v}; Pixel {v - 6}) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36"
        for v in range(11, 15)
    ]
    + [f"Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0" for v in range(100, 126)]
)
CRAWLER_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
REFERRERS = (
    "",
    "",
    "",
    "https://www.google.com/",
    "https://duckduckgo.com/",
    "https://news.ycombinator.com/",
    "https://t.co/abc",
    "https://www.reddit.com/r/selfhosted/",
    "https://lobste.rs/",
)
SECTIONS = ("blog", "docs", "products", "pricing", "about", "changelog", "guides", "tags")
COUNTRIES = (
    ("US", "California", "San Francisco"),
    ("DE", "Berlin", "Berlin"),
    ("GB", "England", "London"),
    ("FR", "Ile-de-France", "Paris"),
    ("IN", "Karnataka", "Bengaluru"),
    ("BR", "Sao Paulo", "Sao Paulo"),
)
BROWSERS = (
    ("Chrome", "124", "Windows", "desktop"),
    ("Safari", "17", "Mac OS X", "desktop"),
    ("Mobile Safari", "17", "iOS", "mobile"),
    ("Firefox", "125", "Linux", "desktop"),
    ("Chrome Mobile", "124", "Android", "mobile"),
)
SOURCES = (
    ("", "", "direct"),
    ("google.com", "Google", "search"),
    ("news.ycombinator.com", "Hacker News", "social"),
    ("newsletter", "newsletter", "email"),
    ("example.org/links", "example.org", "referral"),
)


def page_path(rng: random.Random) -> str:
    """A page path: a few thousand pages, the popular ones much more often (a long tail, like real sites)."""
    section = SECTIONS[min(int(rng.expovariate(0.6)), len(SECTIONS) - 1)]
    return f"/{section}/{min(int(rng.expovariate(0.01)), 3000)}"


# ------------------------------------------------------------------------------------------------- database


def session_rows(rng: random.Random, ts: float) -> tuple[tuple[object, ...], list[tuple[object, ...]]]:
    """One stored session and its events (pageviews, engagement, custom events) starting at `ts`."""
    sid = (int(ts * 1000) << 20) | rng.getrandbits(20)
    site = rng.choice(SITES)
    visitor = f"{rng.getrandbits(64):016x}"
    fingerprint = f"{rng.getrandbits(64):016x}"
    country, region, city = rng.choice(COUNTRIES)
    browser, version, os_name, device = rng.choice(BROWSERS)
    referrer, source, medium = rng.choice(SOURCES)
    is_bot = 1 if rng.random() < 0.05 else 0
    common: dict[str, Any] = dict(
        site=site,
        session_id=sid,
        visitor_id=visitor,
        fingerprint=fingerprint,
        browser=browser,
        browser_version=version,
        os=os_name,
        device=device,
        country=country,
        region=region,
        city=city,
        is_bot=is_bot,
    )
    events: list[tuple[object, ...]] = []
    pages = 1 + min(int(rng.expovariate(0.35)), 30)
    t, path, first = ts, "", ""
    for i in range(pages):
        path = page_path(rng)
        first = first or path
        events.append(
            EventRecord(
                ts=t,
                type="pageview",
                path=path,
                title=path.rsplit("/", 1)[-1].title(),
                referrer=referrer if i == 0 else "",
                ref_source=source if i == 0 else "",
                ref_medium=medium if i == 0 else "",
                screen="1920x1080",
                **common,
            ).as_row()
        )
        if rng.random() < 0.5:
            events.append(
                EventRecord(
                    ts=t + 20,
                    type="engagement",
                    path=path,
                    engaged_ms=rng.randint(500, 90_000),
                    scroll=rng.choice((25, 50, 75, 100)),
                    **common,
                ).as_row()
            )
        if rng.random() < 0.08:
            events.append(
                EventRecord(ts=t + 5, type="event", path=path, name="signup", props='{"plan":"pro"}', **common).as_row()
            )
        t += rng.uniform(5, 120)
    pageviews = pages
    record = SessionRecord(
        id=sid,
        site=site,
        visitor_id=visitor,
        fingerprint=fingerprint,
        started=ts,
        last_seen=t,
        pageviews=pageviews,
        events=len(events) - pageviews,
        entry_path=first,
        exit_path=path,
        browser=browser,
        browser_version=version,
        os=os_name,
        device=device,
        country=country,
        region=region,
        city=city,
        referrer=referrer,
        ref_source=source,
        ref_medium=medium,
        screen="1920x1080",
        ua=UAS[0],
        is_bot=is_bot,
    )
    return record.as_row(), events


def build_database(path: Path, events: int, days: float = 60, chunk: int = 1_000_000) -> float:
    """Fill `path` with about `events` events over the last `days` days; returns the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(42)
    conn = connect(path)
    conn.execute("PRAGMA synchronous=OFF")  # a throw-away build: speed over crash safety
    end = time.time() - 60
    span = days * 86400
    written = 0
    try:
        while written < events:
            event_rows: list[tuple[object, ...]] = []
            sessions: list[tuple[object, ...]] = []
            while len(event_rows) < min(chunk, events - written):
                ts = end - span * (1 - (written + len(event_rows)) / events)
                session, rows = session_rows(rng, ts)
                sessions.append(session)
                event_rows.extend(rows)
            conn.execute("BEGIN")
            conn.executemany(INSERT_EVENT, event_rows)
            conn.executemany(UPSERT_SESSION, sessions)
            conn.execute("COMMIT")
            catch_up(conn)  # keep rollups current, as the collector's writer would have
            written += len(event_rows)
            print(f"  built {written:,} / {events:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
    finally:
        conn.close()
    return time.perf_counter() - started


def count_events(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT max(id) FROM events").fetchone()[0] or 0)
    finally:
        conn.close()


# -------------------------------------------------------------------------------------------------- traffic


@dataclass(slots=True)
class Visitor:
    """A simulated browser: an address, a User-Agent, a site and the pages it will still view."""

    ip: str
    ua: str
    site: str
    pages_left: int
    referrer: str
    path: str = ""


@dataclass(slots=True)
class Request:
    method: str
    url: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def random_ip(rng: random.Random) -> str:
    """A public-looking IPv4 or IPv6 address."""
    if rng.random() < 0.15:
        return str(ipaddress.IPv6Address((0x2001_0DB8 << 96) | rng.getrandbits(96)))
    return f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def traffic(base: str, new_visitors: float = 0.25, seed: int = 7) -> Iterator[Request]:
    """An endless mix: visitors' pageviews, engagement, custom events, pixels; a crawler; server batches.

    `new_visitors` is the share of requests that come from a visitor not seen before (1.0: every request is a
    new address, like a botnet rotating IPs, and starts a session the collector keeps for 30 minutes).
    """
    rng = random.Random(seed)
    api_users = [random_ip(rng) for _ in range(1000)]  # the backend's end users: a steady population
    active: list[Visitor] = []
    crawler_ip = "66.249.66.1"
    n = 0
    while True:
        n += 1
        roll = rng.random()
        if n % 200 == 0:  # a backend reporting its API requests in batches
            batch = [
                {
                    "type": "api_request",
                    "endpoint": f"/api/items/{rng.randint(1, 10_000)}",
                    "method": rng.choice(("GET", "GET", "POST")),
                    "status": rng.choice((200, 200, 404, 500)),
                    "latency_ms": round(rng.uniform(1, 400), 1),
                    "ip": rng.choice(api_users),
                    "ua": rng.choice(UAS),
                }
                for _ in range(50)
            ]
            yield Request(
                "POST",
                f"{base}/api/ingest",
                orjson.dumps(batch),
                {"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "application/json"},
            )
            continue
        if roll < 0.03:  # a crawler walking the site fast (it gets throttled, as it should)
            site = SITES[0]
            yield Request(
                "POST",
                f"{base}/api/event",
                orjson.dumps({"site": site, "url": f"https://{site}{page_path(rng)}"}),
                {"User-Agent": CRAWLER_UA, "X-Forwarded-For": crawler_ip},
            )
            continue
        if not active or roll < new_visitors or len(active) < 50:
            visitor = Visitor(
                random_ip(rng),
                rng.choice(UAS),
                rng.choice(SITES),
                1 + int(rng.expovariate(0.3)),
                rng.choice(REFERRERS),
            )
            active.append(visitor)
        else:
            visitor = rng.choice(active)
        headers = {
            "User-Agent": visitor.ua,
            "X-Forwarded-For": visitor.ip,
            "Accept-Language": "en-US,en;q=0.9",
        }
        if visitor.path and rng.random() < 0.3:
            yield Request(
                "POST",
                f"{base}/api/event",
                orjson.dumps(
                    {
                        "site": visitor.site,
                        "type": "engagement",
                        "url": f"https://{visitor.site}{visitor.path}",
                        "engaged_ms": rng.randint(500, 60_000),
                        "scroll": rng.choice((25, 50, 75, 100)),
                    }
                ),
                headers,
            )
            continue
        if visitor.path and rng.random() < 0.08:
            yield Request(
                "POST",
                f"{base}/api/event",
                orjson.dumps(
                    {
                        "site": visitor.site,
                        "type": "event",
                        "name": rng.choice(("signup", "download", "play")),
                        "url": f"https://{visitor.site}{visitor.path}",
                        "props": {"plan": rng.choice(("free", "pro"))},
                    }
                ),
                headers,
            )
            continue
        path = page_path(rng)
        if rng.random() < 0.1:  # campaign links and one-off URLs: the long tail that fills caches
            path += f"?utm_source=news&utm_campaign=c{rng.randint(1, 50)}&ref={rng.getrandbits(32):x}"
        visitor.path = path.split("?", 1)[0]
        visitor.pages_left -= 1
        if visitor.pages_left <= 0:
            active.remove(visitor)
        url = f"https://{visitor.site}{path}"
        if rng.random() < 0.03:
            yield Request("GET", f"{base}/p.gif?site={visitor.site}&url={url.replace('&', '%26')}", b"", headers)
            continue
        yield Request(
            "POST",
            f"{base}/api/event",
            orjson.dumps(
                {
                    "site": visitor.site,
                    "url": url,
                    "referrer": visitor.referrer,
                    "title": path.rsplit("/", 1)[-1],
                    "screen": "1920x1080",
                }
            ),
            headers,
        )
        visitor.referrer = ""


@dataclass(slots=True, frozen=True)
class Load:
    """How hard the simulated clients push."""

    rate: float
    """Requests per second, all connections together."""
    connections: int
    new_visitors: float
    """Share of requests from a visitor never seen before."""


async def drive(port: int, duration_s: float, load: Load) -> dict[int, int]:
    """Send `traffic` at `load.rate` requests a second for `duration_s`; returns response counts by status."""
    requests = traffic(f"http://127.0.0.1:{port}", load.new_visitors)
    rate = load.rate
    statuses: dict[int, int] = {}
    started = time.monotonic()
    sent = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while (now := time.monotonic()) - started < duration_s:
            due = started + sent / rate
            sent += 1
            if due > now:
                await asyncio.sleep(due - now)
            req = next(requests)
            try:
                async with session.request(req.method, req.url, data=req.body or None, headers=req.headers) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
            except aiohttp.ClientError:
                statuses[0] = statuses.get(0, 0) + 1

    connector = aiohttp.TCPConnector(limit=load.connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(load.connections)))
    return statuses


# ------------------------------------------------------------------------------------------------ sampling


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon and RssFile of a process, in MB."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                values[key] = int(rest.split()[0]) / 1024
    return values


@dataclass(slots=True)
class Memory:
    """RSS figures of one process over one traffic run (MB)."""

    idle: float = 0.0
    samples: list[float] = field(default_factory=list)
    peak: float = 0.0  # VmHWM: the kernel's own high-water mark, between samples too
    anon: float = 0.0
    file: float = 0.0
    sessions_at_start: int = 0  # sessions of the last 30 minutes the collector reloaded from the database
    writer: float = 0.0  # VmHWM of its child processes (the writer process), summed

    @property
    def total_peak(self) -> float:
        """Peak of the process plus the peaks of its children: what the machine must have free for it."""
        return self.peak + self.writer

    @property
    def steady(self) -> float:
        """Median RSS over the second half of the run (after caches and sessions have filled)."""
        half = self.samples[len(self.samples) // 2 :] or [self.idle]
        return statistics.median(half)


async def sample(pid: int, memory: Memory, stop: asyncio.Event) -> None:
    """Read /proc/PID/status every 0.5 s until `stop`."""
    while not stop.is_set():
        status = proc_status(pid)
        memory.samples.append(status["VmRSS"])
        memory.peak, memory.anon, memory.file = status["VmHWM"], status["RssAnon"], status["RssFile"]
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass


async def healthz(port: int) -> dict[str, Any]:
    """The server's /healthz document ({} when it has none, like the bare server's)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
            return dict(await resp.json()) if resp.content_type == "application/json" else {}


async def measure(
    proc: subprocess.Popen[bytes], port: int, duration_s: float, load: Load
) -> tuple[Memory, dict[int, int], dict[str, Any]]:
    """Wait for the server, note its idle RSS, drive traffic while sampling, then read /healthz once more."""
    await wait_ready(port, proc)
    await asyncio.sleep(1)
    memory = Memory(idle=proc_status(proc.pid)["VmRSS"])
    memory.sessions_at_start = int((await healthz(port)).get("active_sessions", 0))
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(proc.pid, memory, stop))
    statuses = await drive(port, duration_s, load)
    await asyncio.sleep(1.5)  # the last flushes
    stop.set()
    await sampler
    final = proc_status(proc.pid)
    memory.peak, memory.anon, memory.file = final["VmHWM"], final["RssAnon"], final["RssFile"]
    memory.writer = sum(proc_status(child)["VmHWM"] for child in descendants(proc.pid))
    return memory, statuses, await healthz(port)


BARE_SERVER = """
import sys
from aiohttp import web

async def accept(request):
    await request.read()
    return web.json_response({"accepted": 1}, status=202)

async def health(request):
    return web.json_response({"status": "ok"})

app = web.Application()
app.router.add_post("/api/event", accept)
app.router.add_post("/api/ingest", accept)
app.router.add_get("/p.gif", accept)
app.router.add_get("/healthz", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def collector_config(directory: Path) -> Path:
    """A config with the simulated sites, an ingest token and 127.0.0.1 as the trusted reverse proxy."""
    lines = ["[server]", 'trusted_proxies = ["127.0.0.1"]', ""]
    for i, site in enumerate(SITES):
        lines += ["[[sites]]", f'name = "{site}"'] + ([f'ingest_token = "{INGEST_TOKEN}"'] if i == 0 else []) + [""]
    path = directory / "bench-memory.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def report(name: str, m: Memory) -> None:
    print(
        f"{name:<22}{m.idle:>9.1f}{m.steady:>9.1f}{m.peak:>9.1f}{m.anon:>9.1f}{m.file:>9.1f}"
        f"{m.writer:>9.1f}{m.total_peak:>9.1f}"
    )


async def run(db: Path, args: argparse.Namespace, workdir: Path) -> int:
    """Measure the bare baseline, then the collector on `db`; print both and the verdict."""
    load = Load(args.rate, args.connections, args.new_visitors)
    port = free_port()
    bare = subprocess.Popen(
        [sys.executable, "-c", BARE_SERVER, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        bare_mem, _, _ = await measure(bare, port, args.baseline_duration, load)
    finally:
        stop_process(bare)

    port = free_port()
    config = collector_config(workdir)
    collector = subprocess.Popen(
        [sys.executable, "-m", "sitelens_tui", "collect", "--db", str(db), "--port", str(port)],
        env={**os.environ, "SITELENS_CONFIG": str(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        mem, statuses, health = await measure(collector, port, args.duration, load)
        collector.send_signal(signal.SIGTERM)
        await asyncio.get_running_loop().run_in_executor(None, collector.wait, 60)
    finally:
        stop_process(collector)

    print(
        f"\ntraffic: {sum(statuses.values()):,} requests in {args.duration:g} s "
        f"({', '.join(f'{k}: {v:,}' for k, v in sorted(statuses.items()))}); "
        f"collector wrote {health.get('writer', {}).get('written_events', '?')} events, "
        f"{health.get('active_sessions', '?')} sessions active at the end "
        f"({mem.sessions_at_start:,} of them reloaded at start: sessions of the last 30 min already in the database)"
    )
    print(f"\n{'RSS (MB)':<22}{'idle':>9}{'steady':>9}{'peak':>9}{'anon':>9}{'file':>9}{'writer':>9}{'total':>9}")
    report("bare aiohttp", bare_mem)
    report("sitelens collect", mem)
    ok = mem.total_peak <= TARGET_MB
    sessions = int(health.get("active_sessions", 0) or 0)
    if sessions:
        per_session = (mem.steady - mem.idle) * 1024 / sessions
        print(f"\ngrowth over idle / active sessions: {per_session:.1f} KB per session (caches included)")
    print(
        f"\ncollector / bare aiohttp: steady {mem.steady / bare_mem.steady:.2f}x, peak {mem.peak / bare_mem.peak:.2f}x"
    )
    print(
        f"collector peak RSS {mem.total_peak:.1f} MB (its own {mem.peak:.1f} + writer process {mem.writer:.1f}) "
        f"with {count_events(db):,} events stored: "
        f"{'OK' if ok else 'OVER'} (target <= {TARGET_MB:g} MB)"
    )
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000, help="events to store (default 10M)")
    parser.add_argument("--db", type=Path, help="database to use: reused if it has events, else built and kept")
    parser.add_argument("--duration", type=float, default=90, help="seconds of traffic for the collector (default 90)")
    parser.add_argument("--baseline-duration", type=float, default=20, help="seconds of traffic for the bare server")
    parser.add_argument("--rate", type=float, default=300, help="requests per second (default 300)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent client connections (default 32)")
    parser.add_argument(
        "--new-visitors",
        type=float,
        default=0.25,
        help="share of requests from never-seen visitors (default 0.25; 1 = rotating-IP flood)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sitelens-memory-") as tmp:
        workdir = Path(tmp)
        db = args.db or workdir / "memory.db"
        if db.exists() and count_events(db):
            print(f"reusing {db}: {count_events(db):,} events")
        else:
            print(f"building {db} with {args.events:,} events")
            took = build_database(db, args.events)
            print(f"built in {took:.0f} s ({args.events / took:,.0f} events/s), {db.stat().st_size / 1e9:.2f} GB")
        return asyncio.run(run(db, args, workdir))


if __name__ == "__main__":
    sys.exit(main())
