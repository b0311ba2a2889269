"""The demo traffic engine: spawns simulated visitors at a target event rate and plays them over HTTP."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import orjson

from collector.demo import visits
from collector.demo.visits import Step, Visit
from collector.errors import UserError

MAX_RETRY_WAIT_S = 5.0
"""A refused visitor waits at most this long (Retry-After of a blocked client can be minutes)."""
SERVER_UA = "demo-shop-api/1.4 (server-side events)"


class DemoError(UserError):
    """The demo cannot run (the collector is unreachable or refuses everything); worded for the user."""


@dataclass(slots=True)
class DemoStats:
    """What the demo sent and how the collector answered, counted in events."""

    sent: int = 0
    accepted: int = 0
    throttled: int = 0
    """Refused with 429 by the collector's throttle (the scraper is meant to earn these)."""
    blocked: int = 0
    """Dropped silently (204) because the throttle blocks the client."""
    busy: int = 0
    """Refused with 503 because the collector's queue was full."""
    errors: int = 0
    """Rejected with another status, or not delivered at all (connection errors, timeouts)."""
    by_kind: Counter[str] = field(default_factory=Counter)
    """Events sent per kind of visitor: human, spike, crawler, scraper, server."""
    visits: Counter[str] = field(default_factory=Counter)
    """Visitors started per kind."""
    spikes: int = 0
    ingest: str = "off"
    """Server-side events: off (no token), on, or why they stopped."""
    last_error: str = ""
    elapsed_s: float = 0.0

    def line(self) -> str:
        """One line for a progress display."""
        kinds = " ".join(f"{k}={n}" for k, n in sorted(self.by_kind.items()))
        rate = self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (
            f"{self.elapsed_s:6.0f}s sent={self.sent} ({rate:.1f}/s) accepted={self.accepted} "
            f"throttled={self.throttled} blocked={self.blocked} busy={self.busy} errors={self.errors} | {kinds}"
        )


class VisitFactory:
    """Deterministic streams of visits (one per kind of traffic) derived from one seed."""

    def __init__(self, seed: int | None, *, server: bool) -> None:
        root = random.Random(seed)
        self.normal = random.Random(root.getrandbits(64))
        self.spike = random.Random(root.getrandbits(64))
        self.scraper = random.Random(root.getrandbits(64))
        self.schedule = random.Random(root.getrandbits(64))
        self.server = server

    def next_normal(self) -> Visit:
        """The next visitor of ordinary traffic: mostly people, some crawlers, the API's backend."""
        rng = random.Random(self.normal.getrandbits(64))
        roll = self.normal.random()
        if roll < 0.06:
            return visits.crawler_visit(rng)
        if self.server and roll < 0.135:
            return visits.server_visit(rng)
        return visits.human_visit(rng)

    def next_spike(self) -> Visit:
        """The next visitor of a traffic spike."""
        return visits.spike_visit(random.Random(self.spike.getrandbits(64)))

    def next_scraper(self, interval: float) -> Visit:
        """The next scraper run (a new address each time)."""
        return visits.scraper_visit(random.Random(self.scraper.getrandbits(64)), interval)


def scraper_interval(rate: float) -> float:
    """Seconds between the scraper's requests: steady, about a fifth of the demo's rate, 0.4–6 s."""
    return min(6.0, max(0.4, 1.0 / max(0.2 * rate, 1e-6)))


def spike_factor_at(t: float, spikes: list[tuple[float, float, float]]) -> float:
    """The rate multiplier at `t` seconds into the demo, given (start, end, factor) spike windows."""
    for start, end, factor in spikes:
        if start <= t < end:
            return factor
    return 1.0


class Demo:
    """One demo run against one collector."""

    def __init__(
        self,
        base_url: str,
        rate: float,
        *,
        seed: int | None,
        pace: float,
        ingest_token: str | None,
        spike_every_s: float,
        spike_length_s: float,
        max_visitors: int,
    ) -> None:
        if rate <= 0:
            raise DemoError(f"rate must be positive, got {rate}")
        self.base_url = base_url.rstrip("/")
        self.rate = rate
        self.pace = pace
        self.ingest_token = ingest_token or ""
        self.spike_every_s = spike_every_s
        self.spike_length_s = spike_length_s
        self.max_visitors = max_visitors
        self.factory = VisitFactory(seed, server=bool(ingest_token))
        self.stats = DemoStats(ingest="on" if ingest_token else "off")
        self.stopping = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.active: dict[str, float] = {"normal": 0.0, "spike": 0.0}
        """Expected events/s of the running visitors, per pool (normal, spike)."""
        self.http: aiohttp.ClientSession | None = None

    # -- sending -------------------------------------------------------------------------------------

    async def check(self) -> None:
        """Fail early, with one clear line, when nothing answers at the collector's address."""
        assert self.http is not None
        try:
            async with self.http.get(f"{self.base_url}/healthz") as resp:
                await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "os_error", None) or exc
            raise DemoError(f"cannot reach the collector at {self.base_url}: {reason}") from None

    async def send(self, visit: Visit, step: Step) -> tuple[int, float]:
        """Send one step; count the outcome; return the status (0 when undelivered) and Retry-After."""
        assert self.http is not None
        stats = self.stats
        stats.sent += step.events
        stats.by_kind[visit.kind] += step.events
        url = self.base_url + step.route
        try:
            if step.route == visits.PIXEL:
                request = self.http.get(url + "?" + visits.pixel_query(step.body), headers=visit.headers)
            elif step.route == visits.INGEST:
                headers = {
                    **visit.headers,
                    "Authorization": f"Bearer {self.ingest_token}",
                    "User-Agent": SERVER_UA,
                }
                request = self.http.post(url, data=orjson.dumps(step.body), headers=headers)
            else:
                request = self.http.post(url, data=orjson.dumps(step.body), headers=visit.headers)
            async with request as resp:
                status = resp.status
                body = await resp.read()
                retry = _retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            stats.errors += step.events
            stats.last_error = f"{type(exc).__name__}: {exc}"[:200]
            return 0, 1.0
        if status == 204 and step.route == visits.EVENT:
            stats.blocked += step.events  # the throttle drops a blocked client's events without a word
        elif status in (200, 202):
            accepted = _accepted(body, step.events)
            stats.accepted += accepted
            stats.errors += step.events - accepted
        elif status == 429:
            stats.throttled += step.events
        elif status == 503:
            stats.busy += step.events
        else:
            stats.errors += step.events
            stats.last_error = f"{status} from {step.route}: {body[:200].decode('utf-8', 'replace')}"
            if step.route == visits.INGEST:
                self._ingest_failed(status)
        return status, retry

    def _ingest_failed(self, status: int) -> None:
        """Stop sending server-side events when the collector has no ingest route or refuses the token."""
        if status in (404, 405):
            self.stats.ingest = "off: this collector has no /api/ingest"
        elif status in (401, 403):
            self.stats.ingest = "off: the ingest token was refused"
        else:
            return
        self.factory.server = False

    # -- visitors ------------------------------------------------------------------------------------

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless the demo stops first; False when it stopped."""
        if seconds <= 0:
            return not self.stopping.is_set()
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    async def play(self, visit: Visit) -> None:
        """Make a visitor's requests at its own pace; refused ones wait (capped) and go on, or give up."""
        self.stats.visits[visit.kind] += 1
        scale = self.pace if visit.scaled else 1.0
        for step in visit.steps:
            if not await self.sleep(step.delay * scale):
                return
            status, retry = await self.send(visit, step)
            if status in (429, 503):
                if visit.on_refusal == "give-up":
                    return
                if not await self.sleep(min(retry, MAX_RETRY_WAIT_S)):
                    return

    def start(self, visit: Visit, pool: str) -> None:
        """Run a visitor as a task; while it runs it counts towards its pool's expected event rate."""
        duration = sum(step.delay for step in visit.steps) * (self.pace if visit.scaled else 1.0)
        share = visit.events / max(1.0, duration)
        self.active[pool] += share
        task = asyncio.create_task(self.play(visit))
        self.tasks.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            self.active[pool] -= share

        task.add_done_callback(done)

    async def scraper_loop(self) -> None:
        """One scraper at a time: it walks the archive, pauses, then comes back from another address."""
        interval = scraper_interval(self.rate)
        if not await self.sleep(self.factory.scraper.uniform(0.0, 2.0) * self.pace):
            return
        while not self.stopping.is_set():
            await self.play(self.factory.next_scraper(interval))
            if not await self.sleep(self.factory.scraper.uniform(10.0, 40.0)):
                return

    async def spawn_loop(self, started: float) -> None:
        """Keep enough visitors running that events go out at `rate` per second, 5–10× that during a spike.

        Each running visitor is expected to send its events evenly over its planned duration; new ones start
        while the expected rate is below the target. New visitors' first requests are paced at twice the
        target, so a cold start fills up in a few seconds instead of one burst.
        """
        loop = asyncio.get_running_loop()
        scraper_rate = 1.0 / scraper_interval(self.rate)
        base = max(0.1 * self.rate, self.rate - scraper_rate * 0.5)  # the scraper pauses between runs
        spikes: list[tuple[float, float, float]] = []
        next_spike = self.spike_every_s / 2
        arrivals = 0.0
        last = loop.time()
        tick = 0.05
        while not self.stopping.is_set():
            now = loop.time()
            dt, last = now - last, now
            t = now - started
            if self.spike_every_s > 0 and t >= next_spike:
                factor = self.factory.schedule.uniform(5.0, 10.0)
                spikes = [*spikes[-1:], (next_spike, next_spike + self.spike_length_s, factor)]
                self.stats.spikes += 1
                next_spike += self.spike_every_s
            spike_target = (spike_factor_at(t, spikes) - 1.0) * self.rate
            ceiling = 2.0 * (base + spike_target)
            arrivals = min(arrivals + ceiling * dt, max(ceiling * tick * 2, 1.0))
            while arrivals > 0 and len(self.tasks) < self.max_visitors:
                if self.active["spike"] < spike_target:
                    self.start(self.factory.next_spike(), "spike")
                elif self.active["normal"] < base:
                    self.start(self.factory.next_normal(), "normal")
                else:
                    break
                arrivals -= 1.0
            if not await self.sleep(tick):
                return

    async def progress_loop(self, started: float, report: Callable[[DemoStats], None], every: float) -> None:
        """Call `report` with the running totals every `every` seconds."""
        while await self.sleep(every):
            self.stats.elapsed_s = time.monotonic() - started
            report(self.stats)

    # -- the whole run -------------------------------------------------------------------------------

    async def run(
        self,
        duration: float | None,
        stop: asyncio.Event | None,
        progress: Callable[[DemoStats], None] | None,
        progress_every_s: float,
    ) -> DemoStats:
        """Run until `duration` passes or `stop` is set; every visitor is stopped before returning."""
        connector = aiohttp.TCPConnector(limit=64, limit_per_host=64, keepalive_timeout=30)
        timeout = aiohttp.ClientTimeout(total=10, connect=3)
        started = time.monotonic()
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=True) as http:
            self.http = http
            await self.check()
            loop_started = asyncio.get_running_loop().time()
            workers = [
                asyncio.create_task(self.spawn_loop(loop_started), name="demo-spawn"),
                asyncio.create_task(self.scraper_loop(), name="demo-scraper"),
            ]
            if progress is not None:
                workers.append(asyncio.create_task(self.progress_loop(started, progress, progress_every_s)))
            waiters = [asyncio.create_task(self.stopping.wait())]
            if stop is not None:
                waiters.append(asyncio.create_task(stop.wait()))
            try:
                await asyncio.wait(waiters, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.stopping.set()
                pending = [*workers, *waiters, *self.tasks]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        self.stats.elapsed_s = time.monotonic() - started
        return self.stats


def _retry_after(value: str | None) -> float:
    """Seconds from a Retry-After header (1 s when absent or not a number)."""
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0


def _accepted(body: bytes, events: int) -> int:
    """How many events a 2xx answer accepted: its `accepted` count when it has one, else all of them."""
    if events == 1 or not body.startswith(b"{"):
        return events
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return events
    count = data.get("accepted") if isinstance(data, dict) else None
    return count if isinstance(count, int) and 0 <= count <= events else events


async def run_demo(
    base_url: str,
    rate: float,
    duration: float | None,
    stop: asyncio.Event | None = None,
    seed: int | None = None,
    *,
    ingest_token: str | None = None,
    pace: float = 1.0,
    spike_every_s: float = 180.0,
    spike_length_s: float = 30.0,
    max_visitors: int | None = None,
    progress: Callable[[DemoStats], None] | None = None,
    progress_every_s: float = 5.0,
) -> DemoStats:
    """Send realistic traffic to the collector at `base_url` (about `rate` events/s) until `duration`/`stop`.

    `pace` < 1 compresses people's pauses (tests); spikes of 5–10× the rate last `spike_length_s` and come
    every `spike_every_s` (the first after half of it; 0 turns them off); `max_visitors` caps the simulated
    visitors running at once (default: 100 per event/s, 200–5000). Raises DemoError when the collector is
    unreachable.
    """
    demo = Demo(
        base_url,
        rate,
        seed=seed,
        pace=pace,
        ingest_token=ingest_token,
        spike_every_s=spike_every_s,
        spike_length_s=spike_length_s,
        max_visitors=max_visitors or min(5000, max(200, int(rate * 100))),
    )
    return await demo.run(duration, stop, progress, progress_every_s)
