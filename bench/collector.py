"""Collector throughput and latency against a bare aiohttp handler, measured in one run on this machine.

Run from the repository root: python -m bench.collector [--quick] [--no-bots] [--profile]
Each server runs in its own process on 127.0.0.1; this process is the load generator. Prints, per server,
single-event POSTs/s with p50/p99 latency at peak (closed loop, keep-alive connections), the full pipeline's
share of the bare handler's throughput and of its CPU time per request, batched events/s (arrays of 100,
counted until the writer has committed them), and p50/p99 at half the full pipeline's peak rate (open loop,
latency measured from each request's scheduled time). --profile runs the full collector under cProfile and
prints where its per-event time goes.

The default client is a minimal keep-alive HTTP/1.1 client on asyncio streams: aiohttp's own client spends
about as much CPU per request as the server it measures, so on a 2-core machine it, not the server, would set
the pace and hide the difference between the two servers (`--client aiohttp` shows that).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGETS = {"single_ratio": 0.60, "batch_events_s": 50_000, "half_peak_p99_ms": 20.0}
UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
)
REFERRERS = ("", "", "https://www.google.com/", "https://news.ycombinator.com/item?id=1", "https://t.co/abc")
PATHS = ("/", "/pricing", "/blog/cookieless-analytics", "/docs/install", "/about", "/blog/sqlite-in-production")


def use_uvloop(wanted: bool) -> str:
    """Install uvloop's policy when asked for and installed; returns the loop's name for the report."""
    if wanted:
        try:
            import uvloop  # type: ignore[import-not-found]
        except ImportError:
            return "asyncio"
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        return "uvloop"
    return "asyncio"


# -- the servers (run in a child process) ----------------------------------------------------------------


def bare_app() -> object:
    """The yardstick: one POST route that reads the body and answers 202, nothing else."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202, body=b'{"accepted":1}', content_type="application/json")

    app = web.Application()
    app.router.add_post("/api/event", handle)
    return app


def full_app(db: str, bots: bool) -> object:
    """The real collector as `sitelens collect` builds it, trusting 127.0.0.1 to forward client addresses."""
    from collector.app import create_app
    from collector.config import Config, SiteConfig

    cfg = Config()
    if "://" in db:  # a store URL (bench/ingest_stores.py): ClickHouse spools beside the benchmark's files
        cfg.db.url = db
        cfg.db.spool_dir = tempfile.mkdtemp(prefix="sitelens-bench-spool-")
    else:
        cfg.db.path = db
    cfg.auth.admin_token = "bench"
    cfg.server.trusted_proxies = ["127.0.0.1"]
    cfg.sites = [SiteConfig("example.com"), SiteConfig("shop.example.com")]
    if not bots:
        cfg.throttle.enabled = False
        section = getattr(cfg, "bots", None)
        if section is not None and hasattr(section, "enabled"):
            section.enabled = False
    return create_app(cfg)


KNOCKOUTS = {
    "no-pipeline": "full, without Pipeline.accept",
    "no-rows": "full, without queued event rows",
}
"""--breakdown: the full collector with one stage switched off, to see what each costs where it really runs
(in-process stage timings miss what a stage costs between requests: cache misses, the flush cycle)."""


def knock_out(app: object, knockout: str) -> None:
    """Switch one stage off in a started collector: the pipeline (validation, client address and throttle
    still run) or only the queuing of event rows (sessions and fingerprints are still written)."""
    from collector import keys

    pipeline = app[keys.PIPELINE]  # type: ignore[index]
    if knockout == "no-pipeline":
        pipeline.accept = lambda hit, client, now=None: ()
    elif knockout == "no-rows":
        pipeline.writer.add_event = lambda row: None


async def serve(kind: str, db: str, bots: bool, profile: str, knockout: str = "") -> None:
    """Serve one app on a free port, print the port, run until SIGTERM, then report CPU and writer totals."""
    import logging

    from aiohttp import web

    logging.basicConfig(level=logging.ERROR)  # the collector's warnings (anomalies the load opens) are noise here
    app = bare_app() if kind == "bare" else full_app(db, bots)
    assert isinstance(app, web.Application)

    async def cpu(request: web.Request) -> web.Response:
        """CPU seconds (every thread, and the writer's child process, so the writer's work counts) and the
        writer's totals."""
        body: dict[str, object] = {"cpu_s": time.process_time(), "loop_s": time.thread_time(), "writer_s": 0.0}
        if kind != "bare":
            from collector import keys

            writer = request.app[keys.WRITER]
            writer_s = child_cpu_s(writer.child_pid)
            body.update(
                cpu_s=time.process_time() + writer_s,
                writer_s=writer_s,
                written=writer.stats.written_events,
                queue=writer.queue_depth,
                spooled=writer.spooled_events,
                flushes=writer.stats.flushes,
            )
        return web.json_response(body)

    # CPU time of the loop thread: wall time would charge other processes' turns on a busy machine to us.
    profiler = cProfile.Profile(time.thread_time) if profile else None

    async def start_profile(request: web.Request) -> web.Response:
        """Start profiling now that the caches are warm (the first requests pay one-off costs)."""
        if profiler is not None:
            profiler.enable()
        return web.json_response({"profiling": profiler is not None})

    app.router.add_get("/_bench/cpu", cpu)
    app.router.add_get("/_bench/profile", start_profile)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    if knockout:
        knock_out(app, knockout)
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
    await stop.wait()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    await runner.cleanup()


def child_cpu_s(pid: int | None) -> float:
    """CPU seconds used so far by a child process (Linux /proc; 0 elsewhere or without a child)."""
    if not pid:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the load ---------------------------------------------------------------------------------------------


def event(rng: random.Random, site: str = "example.com") -> dict[str, object]:
    """One tracker pageview as sl.js sends it."""
    return {
        "type": "pageview",
        "site": site,
        "url": f"https://{site}{rng.choice(PATHS)}",
        "referrer": rng.choice(REFERRERS),
        "title": "A page",
        "screen": "1920x1080",
    }


def report(rng: random.Random, page: dict[str, object]) -> dict[str, object]:
    """The engagement report sl.js sends when a page is hidden or left: engaged time and scroll so far."""
    return {
        "type": "engagement",
        "site": page["site"],
        "url": page["url"],
        "engaged_ms": rng.randint(200, 120_000),
        "scroll": rng.randint(0, 100),
    }


def visit(rng: random.Random, size: int, reports: float) -> list[dict[str, object]]:
    """`size` events of one visitor: page views, a share `reports` of them followed by an engagement report."""
    out: list[dict[str, object]] = []
    while len(out) < size:
        page = event(rng)
        out.append(page)
        if len(out) < size and rng.random() < reports:
            out.append(report(rng, page))
    return out


def requests(count: int, batch: int, seed: int = 1, reports: float = 0.0) -> list[bytes]:
    """Ready-to-send HTTP/1.1 requests from `count` different visitors (address × browser); arrays of `batch`
    events when `batch` > 1, with engagement reports after a share `reports` of their page views."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        body = orjson.dumps(event(rng) if batch == 1 else visit(rng, batch, reports))
        ip = f"{rng.randint(11, 99)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        head = (
            f"POST /api/event HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {UAS[i % len(UAS)]}\r\n"
            f"Accept: */*\r\nAccept-Language: en-US,en;q=0.9\r\nOrigin: https://example.com\r\n"
            f"Content-Type: text/plain;charset=UTF-8\r\nX-Forwarded-For: {ip}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


@dataclass(slots=True)
class Load:
    """What one load phase saw."""

    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        """The q-quantile latency in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Conn:
    """One keep-alive HTTP/1.1 connection on asyncio streams, one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> int:
        """Send a request and read its response; returns the status."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


class AiohttpConn:
    """The same interface over an aiohttp ClientSession (for comparing load generators)."""

    def __init__(self, session: object, url: str) -> None:
        self.session, self.url = session, url

    @classmethod
    async def open(cls, port: int, session: object) -> AiohttpConn:
        return cls(session, f"http://127.0.0.1:{port}/api/event")

    async def send(self, request: bytes) -> int:
        head, _, body = request.partition(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1)
            for line in head.decode().split("\r\n")[1:]
            if not line.startswith(("Host", "Content-Length"))
        )
        async with self.session.post(self.url, data=body, headers=headers) as resp:  # type: ignore[attr-defined]
            await resp.read()
            return resp.status

    def close(self) -> None:
        pass


async def run_load(
    port: int,
    reqs: list[bytes],
    seconds: float,
    concurrency: int,
    rate: float | None,
    client: str,
) -> Load:
    """Closed loop (every connection sends as fast as answered) or, with `rate`, open loop at that rate."""
    load = Load()
    session = None
    if client == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))
        conns: list[Conn | AiohttpConn] = [await AiohttpConn.open(port, session) for _ in range(concurrency)]
    else:
        conns = [await Conn.open(port) for _ in range(concurrency)]
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    deadline = start + seconds
    slot = iter(range(10**12))

    async def worker(conn: Conn | AiohttpConn, offset: int) -> None:
        i = offset
        while True:
            if rate is None:
                t0 = loop.time()
                if t0 >= deadline:
                    return
            else:
                t0 = start + next(slot) / rate
                if t0 >= deadline:
                    return
                wait = t0 - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            status = await conn.send(reqs[i % len(reqs)])
            load.latencies.append(loop.time() - t0)
            load.statuses[status] += 1
            load.requests += 1
            i += concurrency

    if rate is None:
        await asyncio.sleep(max(0.0, start - loop.time()))
    began = loop.time()
    await asyncio.gather(*(worker(c, n) for n, c in enumerate(conns)))
    load.seconds = loop.time() - began
    for c in conns:
        c.close()
    if session is not None:
        await session.close()  # type: ignore[attr-defined]
    return load


# -- orchestration ---------------------------------------------------------------------------------------


class Server:
    """A server child process: started on a free port, stopped with SIGTERM (the collector flushes)."""

    def __init__(
        self, kind: str, db: str, *, bots: bool = True, loop: str = "asyncio", profile: str = "", knockout: str = ""
    ) -> None:
        args = [sys.executable, "-m", "bench.collector", "--serve", kind, "--db", db, "--loop", loop]
        if not bots:
            args.append("--no-bots")
        if knockout:
            args += ["--knockout", knockout]
        if profile:
            args += ["--profile-out", profile]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"bench: the {kind} server did not start")
        self.port = int(json.loads(line)["port"])
        self.kind = kind

    async def info(self, what: str = "cpu") -> dict[str, float]:
        """CPU seconds used so far and, for the collector, the writer's counters (or start the profiler)."""
        conn = await Conn.open(self.port)
        try:
            conn.writer.write(f"GET /_bench/{what} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode())
            head = await conn.reader.readuntil(b"\r\n\r\n")
            length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:"))[15:])
            return json.loads(await conn.reader.readexactly(length))  # type: ignore[no-any-return]
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass(slots=True)
class Peak:
    """A server's best closed-loop round: throughput, latency and server CPU per request."""

    load: Load
    cpu_us: float
    loop_us: float
    writer_us: float

    def cpu(self) -> str:
        """Server CPU per request, split into the event-loop thread, the other threads and the writer process."""
        other = self.cpu_us - self.loop_us - self.writer_us
        return (
            f"   server CPU {self.cpu_us:5.0f} µs/req"
            f" (loop {self.loop_us:.0f}, threads {other:.0f}, writer {self.writer_us:.0f})"
        )


async def peak(server: Server, reqs: list[bytes], seconds: float, concurrency: int, client: str) -> Peak:
    """One closed-loop round with the server's CPU time measured around it."""
    before = await server.info()
    load = await run_load(server.port, reqs, seconds, concurrency, None, client)
    after = await server.info()
    per = 1e6 / max(1, load.requests)
    return Peak(load, *((after[k] - before[k]) * per for k in ("cpu_s", "loop_s", "writer_s")))


async def drain(server: Server, timeout: float = 120.0) -> float:
    """Wait until the collector's writer has committed everything queued; returns when it did."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        info = await server.info()
        if info.get("queue", 0) == 0:
            return loop.time()
        await asyncio.sleep(0.01)
    raise SystemExit("bench: the writer did not drain its queue in time")


def row(label: str, load: Load, extra: str = "") -> str:
    """One printed line of figures."""
    ok = load.statuses.get(202, 0)
    other = {s: n for s, n in load.statuses.items() if s != 202}
    return (
        f"  {label:<34} {load.rps:>9,.0f} req/s   p50 {load.pct(0.50):6.2f} ms   p99 {load.pct(0.99):6.2f} ms"
        f"   202: {ok}{'  other: ' + str(other) if other else ''}{extra}"
    )


async def bench(args: argparse.Namespace) -> int:
    """Run every phase and print the figures; exit status 1 when a target is missed."""
    seconds = 1.5 if args.quick else args.seconds
    rounds = 1 if args.quick else args.rounds
    loop_name = "asyncio" if args.no_uvloop else use_uvloop(True)
    results: dict[str, Peak] = {}
    tmp = tempfile.mkdtemp(prefix="sitelens-bench-")
    kinds = ["bare", "full"] + (["full-no-bots"] if args.no_bots else []) + (list(KNOCKOUTS) if args.breakdown else [])
    servers = {
        kind: Server(
            "bare" if kind == "bare" else "full",
            os.path.join(tmp, f"{kind}.db"),
            bots=kind != "full-no-bots",
            loop=loop_name,
            knockout=kind if kind in KNOCKOUTS else "",
        )
        for kind in kinds
    }
    print(
        f"collector bench: {os.cpu_count()} CPUs, {loop_name} loop, {args.client} client, "
        f"{args.concurrency} connections, {rounds} × {seconds:g}s rounds per server (best kept)"
    )
    try:
        singles = requests(5000, 1)
        for server in servers.values():  # warm-up: caches, sessions, first flushes
            await run_load(server.port, singles, 0.5, args.concurrency, None, args.client)
        for _ in range(rounds):  # interleaved, so a noisy neighbour hurts every server alike
            for kind, server in servers.items():
                result = await peak(server, singles, seconds, args.concurrency, args.client)
                if kind not in results or result.load.rps > results[kind].load.rps:
                    results[kind] = result

        print("\nsingle-event POST /api/event at peak (closed loop)")
        for kind, result in results.items():
            print(row(KNOCKOUTS.get(kind, kind), result.load, result.cpu()))
        bare, full = results["bare"], results["full"]
        ratio = full.load.rps / bare.load.rps
        cpu_ratio = bare.cpu_us / full.cpu_us
        print(
            f"  full / bare throughput: {ratio:.2f} (target ≥ {TARGETS['single_ratio']:.2f})"
            f"   bare / full CPU per request: {cpu_ratio:.2f}"
        )
        if "full-no-bots" in results:
            nb = results["full-no-bots"]
            print(
                f"  full / full-no-bots throughput: {full.load.rps / nb.load.rps:.2f}"
                f"   (detection + throttling cost {full.cpu_us - nb.cpu_us:.0f} µs/req of server CPU)"
            )
        for kind in KNOCKOUTS:
            if kind in results:
                print(f"  {KNOCKOUTS[kind]} / bare throughput: {results[kind].load.rps / bare.load.rps:.2f}")

        full_server = servers["full"]
        half = full.load.rps / 2
        print(f"\nsingle-event POSTs at half of the full pipeline's peak ({half:,.0f} req/s, open loop)")
        await drain(full_server)
        half_load = await run_load(full_server.port, singles, seconds * 2, args.concurrency, half, args.client)
        print(row("full @ half peak", half_load))
        p99 = half_load.pct(0.99)
        print(f"  p99 {p99:.2f} ms (target < {TARGETS['half_peak_p99_ms']:.0f} ms)")

        print(
            "\nbatched POST /api/event, arrays of 100 events, until the writer has committed them "
            f"({args.reports:.0%} of page views followed by an engagement report)"
        )
        batches = requests(300, 100, seed=2, reports=args.reports)
        await drain(full_server)
        before_batch = await full_server.info()
        began = asyncio.get_running_loop().time()
        batch_load = await run_load(full_server.port, batches, seconds * 2, 8, None, args.client)
        done = await drain(full_server)
        after_batch = await full_server.info()
        written = after_batch["written"] - before_batch["written"]
        events_s = written / (done - began)
        writer_us = (after_batch["writer_s"] - before_batch["writer_s"]) / max(written, 1) * 1e6
        print(row("full, 100 events per request", batch_load))
        print(
            f"  {written:,} events committed in {done - began:.2f}s: {events_s:,.0f} events/s "
            f"(target ≥ {TARGETS['batch_events_s']:,});  writer process CPU {writer_us:.1f} µs/event"
        )
    finally:
        for server in servers.values():
            server.stop()

    try:
        if args.profile:
            await stages(tmp)
            await profile(args, tmp, singles, loop_name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the servers' databases (each run writes a few hundred MB)

    missed = []
    if ratio < TARGETS["single_ratio"]:
        missed.append("single-event ratio")
    if events_s < TARGETS["batch_events_s"]:
        missed.append("batched events/s")
    if not p99 < TARGETS["half_peak_p99_ms"]:
        missed.append("p99 at half peak")
    print(f"\nresult: {'all targets met' if not missed else 'missed: ' + ', '.join(missed)}")
    return 1 if missed else 0


async def profile(args: argparse.Namespace, tmp: str, singles: list[bytes], loop_name: str) -> None:
    """Run the full collector under cProfile for one closed-loop round; print the top functions per event."""
    out = os.path.join(tmp, "collector.prof")
    server = Server("full", os.path.join(tmp, "profiled.db"), loop=loop_name, profile=out)
    try:
        await run_load(server.port, singles, 1.0, args.concurrency, None, args.client)
        await server.info("profile")
        load = await run_load(
            server.port, singles, 1.5 if args.quick else args.seconds, args.concurrency, None, args.client
        )
    finally:
        server.stop()
    stats = pstats.Stats(out)
    n = max(1, load.statuses.get(202, 0))
    entries = stats.stats  # type: ignore[attr-defined]
    print(
        f"\nwhere the collector's time goes (cProfile, CPU time of the event-loop thread, {n:,} events; "
        f"the profiler itself inflates every figure)"
    )
    print(f"  {'own µs/ev':>9} {'cum µs/ev':>9}  function")
    ranked = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[: args.top]
    for (file, line, name), (_cc, _nc, tottime, cumtime, _callers) in ranked:
        where = file.replace(str(ROOT) + os.sep, "") if file != "~" else "builtin"
        print(f"  {tottime / n * 1e6:9.1f} {cumtime / n * 1e6:9.1f}  {name} ({Path(where).name}:{line})")
    print(f"  {'':>9} {'':>9}  --- by cumulative time ---")
    ranked = sorted(entries.items(), key=lambda kv: kv[1][3], reverse=True)
    shown = 0
    for (file, line, name), (_cc, _nc, tottime, cumtime, _callers) in ranked:
        if "collector" not in file and "db" + os.sep not in file:
            continue
        print(f"  {tottime / n * 1e6:9.1f} {cumtime / n * 1e6:9.1f}  {name} ({Path(file).name}:{line})")
        shown += 1
        if shown >= args.top:
            break


async def stages(tmp: str, n: int = 20_000) -> None:
    """Per-event cost of each collector stage without a profiler: validation, client address, pipeline, writer."""
    from aiohttp.test_utils import TestServer

    from collector import keys
    from collector.app import create_app
    from collector.client_ip import client_ip, parse_networks
    from collector.config import Config, SiteConfig
    from collector.pipeline import Client
    from collector.validation import parse_tracker_event

    cfg = Config()
    cfg.db.path = os.path.join(tmp, "stages.db")
    cfg.auth.admin_token = "bench"
    cfg.sites = [SiteConfig("example.com")]
    cfg.db.flush_interval_s, cfg.db.flush_count, cfg.db.queue_max = 3600.0, 10**9, 10**7  # flush only when told
    cfg.anomalies.enabled = False
    server = TestServer(create_app(cfg))
    await server.start_server()
    try:
        app = server.app
        pipeline, writer = app[keys.PIPELINE], app[keys.WRITER]
        rng = random.Random(3)
        events = [event(rng) for _ in range(5000)]
        bodies = [orjson.dumps(e) for e in events]
        ips = [
            f"{rng.randint(11, 99)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            for _ in range(5000)
        ]
        clients = [Client(ip, UAS[i % len(UAS)], "*/*", "en-US,en;q=0.9") for i, ip in enumerate(ips)]
        hits = [parse_tracker_event(e) for e in events]
        networks = parse_networks(["127.0.0.1"])
        now = time.time()

        def per_event(fn: object) -> float:
            started = time.perf_counter()
            for i in range(n):
                fn(i)  # type: ignore[operator]
            return (time.perf_counter() - started) / n * 1e6

        rows = [
            ("orjson.loads of the body", per_event(lambda i: orjson.loads(bodies[i % 5000]))),
            ("parse_tracker_event", per_event(lambda i: parse_tracker_event(events[i % 5000]))),
            (
                "client_ip (X-Forwarded-For)",
                per_event(lambda i: client_ip("127.0.0.1", {"X-Forwarded-For": ips[i % 5000]}, networks)),
            ),
            ("pipeline.admit (throttle)", per_event(lambda i: pipeline.admit(clients[i % 5000], now))),
            (
                "pipeline.process (new sessions)",
                per_event(lambda i: pipeline.process(hits[i % 5000], clients[i % 5000], now + i * 0.05)),
            ),
        ]
        started = time.perf_counter()
        await writer.flush()
        rows.append(("writer flush (new sessions)", (time.perf_counter() - started) / n * 1e6))
        rows.append(
            (
                "pipeline.process (ongoing sessions)",
                per_event(lambda i: pipeline.process(hits[i % 5000], clients[i % 5000], now + 1000 + i * 0.05)),
            )
        )
        started = time.perf_counter()
        await writer.flush()
        rows.append(("writer flush (ongoing sessions)", (time.perf_counter() - started) / n * 1e6))
    finally:
        await server.close()
    print(f"\ncollector stages in-process, no profiler ({n:,} events each; µs per event)")
    for label, us in rows:
        print(f"  {us:8.1f}  {label}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short rounds (about 20 s in all)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per round (default 4)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per server, best kept (default 2)")
    parser.add_argument("--concurrency", type=int, default=48, help="keep-alive connections (default 48)")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw", help="load generator")
    parser.add_argument(
        "--no-bots", action="store_true", help="also measure the collector without detection and throttling"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also measure the collector with the pipeline, or its rows, off"
    )
    parser.add_argument(
        "--reports",
        type=float,
        default=0.3,
        help="share of the batched page views followed by an engagement report (default 0.3)",
    )
    parser.add_argument("--profile", action="store_true", help="also profile the collector with cProfile")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio even when uvloop is installed")
    # Internal: the server side of the bench.
    parser.add_argument("--serve", choices=("bare", "full"), help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", default="", help=argparse.SUPPRESS)
    parser.add_argument("--knockout", default="", choices=("", *KNOCKOUTS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        use_uvloop(args.loop == "uvloop")
        asyncio.run(serve(args.serve, args.db or "", not args.no_bots, args.profile_out, args.knockout))
        return 0
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
