"""Log-import speed and memory: `sitelens import` against GoAccess on the same generated combined log.

Generates a realistic combined-format access log (humans browsing pages with their assets, with thousands of
distinct real User-Agents from the committed corpora in tests/data/ua and a fifth of them on IPv6, crawlers,
a scraper, scanners probing, API clients), then runs, in the same run on the same file:
  * `sitelens import FILE --db fresh.db --site bench.example` (a subprocess: the batch path), and with
    `--streaming` also the line-by-line path into another fresh database,
  * `goaccess FILE --log-format=COMBINED -o report.json` (skipped with a note when goaccess is missing),
and prints lines/s and peak RSS of each and the ratios. RSS is sampled over the whole process tree (the
importer writes from a child process), every 20 ms. Usage: python -m bench.import [--lines N] [--streaming] [--keep]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.proctree import run_measured

UA_CORPORA = Path(__file__).parents[1] / "tests" / "data" / "ua"
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{v2} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v2} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{v2} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel {v2}) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Mobile Safari/537.36",
]
CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "python-requests/2.31.0",
    "curl/8.5.0",
]
REFERRERS = ["-", "-", "-", "https://www.google.com/", "https://news.ycombinator.com/item?id=1",
             "https://twitter.com/", "https://duckduckgo.com/"]  # fmt: skip
ASSETS = ["/static/app.css", "/static/app.js", "/static/logo.svg", "/favicon.ico", "/static/font.woff2"]
PROBES = ["/wp-login.php", "/.env", "/.git/config", "/phpmyadmin/", "/xmlrpc.php", "/cgi-bin/luci"]


def corpus(name: str) -> list[str]:
    """The User-Agents of one committed corpus (comments and blank lines left out)."""
    lines = (UA_CORPORA / name).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def address(rng: random.Random) -> str:
    """A random public-looking client address, IPv6 one time in five."""
    if rng.random() < 0.2:
        return (
            f"2a0{rng.randint(0, 9)}:{rng.randint(0, 0xFFFF):x}:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
        )
    return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def generate(path: Path, lines: int, seed: int = 7) -> None:
    """Write `lines` combined-format lines spread over a week, in time order, shaped like real traffic.

    About 100 visits are under way at any time: a visit views a few pages (each page followed by its
    assets), returning visitors come back on later days; crawlers, a sequential scraper, scanners probing
    for admin files, and API clients are mixed in.
    """
    rng = random.Random(seed)
    pages = ["/"] + [f"/blog/post-{i}" for i in range(400)] + [f"/docs/{s}" for s in ("install", "config", "api")]
    browsers = corpus("browsers.txt") + [
        template.format(v=v, v2=v2) for template in BROWSERS for v in range(100, 126) for v2 in range(1, 9)
    ]
    people = [(address(rng), rng.choice(browsers)) for _ in range(30_000)]
    bots = CRAWLERS + corpus("crawlers.txt")
    crawlers = [(f"66.249.{rng.randint(0, 255)}.{rng.randint(1, 254)}", rng.choice(bots)) for _ in range(3_000)]
    scraper = ("203.0.113.50", BROWSERS[0].format(v=120, v2=1))
    scanner = ("198.51.100.23", BROWSERS[0].format(v=80, v2=1))
    start = datetime(2024, 5, 1, tzinfo=UTC).timestamp()
    step = 7 * 86400 / lines
    visits: list[list[object]] = []  # [ip, ua, pages left, referrer]
    ts = start
    written = 0
    scraped = 0
    out: list[str] = []

    def emit(ip: str, ua: str, method: str, target: str, status: int, ref: str) -> None:
        nonlocal written
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
        out.append(
            f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} {rng.randint(200, 60_000)} "{ref}" "{ua}"\n'
        )
        written += 1

    with open(path, "w", encoding="utf-8") as f:
        while written < lines:
            before = written
            roll = rng.random()
            if roll < 0.82:
                while len(visits) < 100:
                    ip, ua = rng.choice(people)
                    visits.append([ip, ua, 1 + int(rng.expovariate(1 / 3)), rng.choice(REFERRERS)])
                visit = visits[rng.randrange(len(visits))]
                ip, ua, left, ref = visit  # type: ignore[misc,assignment]
                page = rng.choice(pages)
                if ref != "-" and rng.random() < 0.1:
                    page += "?utm_source=newsletter&utm_medium=email"
                emit(ip, ua, "GET", page, 200 if rng.random() < 0.96 else rng.choice((404, 500)), ref)  # type: ignore[arg-type]
                for asset in rng.sample(ASSETS, rng.randint(0, 3)):
                    emit(ip, ua, "GET", asset, rng.choice((200, 304)), f"https://bench.example{page}")  # type: ignore[arg-type]
                visit[3] = f"https://bench.example{page}"
                visit[2] = left - 1  # type: ignore[operator]
                if visit[2] <= 0:  # type: ignore[operator]
                    visits.remove(visit)
            elif roll < 0.92:
                ip, ua = rng.choice(crawlers)
                emit(ip, ua, "GET", rng.choice(pages + ["/robots.txt", "/sitemap.xml"]), 200, "-")
            elif roll < 0.95:
                scraped += 1
                emit(*scraper, "GET", f"/blog/post-{scraped % 400}", 200, "-")
            elif roll < 0.97:
                emit(*scanner, "GET", rng.choice(PROBES), 404, "-")
            else:
                ip, ua = rng.choice(people[:500])
                emit(ip, ua, rng.choice(("GET", "POST")), f"/api/items/{rng.randint(1, 999)}",
                     rng.choice((200, 201, 400)), "-")  # fmt: skip
            ts += step * (written - before)
            if len(out) >= 10_000:
                f.writelines(out)
                out.clear()
        f.writelines(out)


def cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process's finished children and theirs: unlike wall time,
    barely moved by other work on a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines in the generated log (default 1M)")
    parser.add_argument("--streaming", action="store_true", help="also time the line-by-line path (--streaming)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.lines <= 0:
        parser.error("--lines must be positive")
    tmp = Path(tempfile.mkdtemp(prefix="sitelens-bench-import-"))
    try:
        log = tmp / "access.log"
        started = time.perf_counter()
        generate(log, args.lines)
        size_mb = log.stat().st_size / 1e6
        os.sync()  # the log's dirty pages are written back now, not during the first timed run's commits
        print(f"generated {args.lines:,} lines ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f}s")
        env_cmd = ["env", f"SITELENS_CONFIG={tmp / 'none.toml'}"]
        (tmp / "none.toml").write_text("")
        results: dict[str, tuple[float, float]] = {}
        for name, extra in [("sitelens import", [])] + ([("  --streaming", ["--streaming"])] if args.streaming else []):
            db = tmp / f"bench{len(results)}.db"
            sitelens = [sys.executable, "-m", "sitelens_tui", "import", str(log), "--db", str(db),
                        "--site", "bench.example", "--format", "combined", "--no-progress", *extra]  # fmt: skip
            cpu = cpu_s()
            s_sec, s_rss, s_status = run_measured(env_cmd + sitelens)
            results[name] = (s_sec, s_rss)
            print(
                f"{name + ':':<17}{args.lines / s_sec:>10,.0f} lines/s  {s_sec:6.1f}s  peak RSS {s_rss:6.0f} MB"
                f"  CPU {(cpu_s() - cpu) / args.lines * 1e6:5.1f} µs/line (all processes)"
                + ("" if s_status in (0, 1) else f"  (exit {s_status})")
            )
        s_sec, s_rss = results["sitelens import"]
        goaccess = shutil.which("goaccess")
        if goaccess is None:
            print("goaccess: not installed, no ratio")
            return 0
        cpu = cpu_s()
        g_sec, g_rss, g_status = run_measured(
            [goaccess, str(log), "--log-format=COMBINED", "-o", str(tmp / "report.json"), "--no-progress"]
        )
        print(
            f"goaccess:        {args.lines / g_sec:>10,.0f} lines/s  {g_sec:6.1f}s  peak RSS {g_rss:6.0f} MB"
            f"  CPU {(cpu_s() - cpu) / args.lines * 1e6:5.1f} µs/line"
            + ("" if g_status == 0 else f"  (exit {g_status})")
        )
        print(
            f"ratios: speed sitelens/goaccess = {g_sec / s_sec:.2f}x (>1 is faster), "
            f"memory sitelens/goaccess = {s_rss / g_rss:.2f}x (<1 is less)"
        )
        return 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
