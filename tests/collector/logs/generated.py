"""Generated access logs shaped like real traffic, with the awkward cases an import must get right."""

from __future__ import annotations

import gzip
import random
import time
from pathlib import Path

import orjson

UA_DATA = Path(__file__).parents[2] / "data" / "ua"
PROBES = ["/wp-login.php", "/.env", "/.git/config", "/phpmyadmin/", "/xmlrpc.php"]
ASSETS = ["/static/app.css", "/static/app.js", "/static/logo.svg", "/favicon.ico"]
REFERRERS = ["-", "-", "https://www.google.com/", "https://news.ycombinator.com/item?id=1", "https://t.co/x"]
DAY = 86400


def corpus(name: str) -> list[str]:
    """User-Agents of one committed corpus (tests/data/ua), comments and blanks left out."""
    lines = (UA_DATA / name).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def clf(ip: str, ts: float, method: str, target: str, status: int, ref: str, ua: str) -> str:
    """One combined-format line."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
    return f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} 512 "{ref}" "{ua}"\n'


def traffic(seed: int, start: float, hours: float) -> list[tuple[float, str, str, str, int, str, str]]:
    """Requests (ts, ip, method, target, status, referrer, UA) in time order: visits with their assets and
    pauses (under and over the session timeout), a visit across midnight, crawlers, a scanner and a scraper."""
    rng = random.Random(seed)
    browsers, crawlers = corpus("browsers.txt"), corpus("crawlers.txt")
    pages = ["/"] + [f"/blog/post-{i}" for i in range(40)] + ["/pricing", "/docs/install"]
    out: list[tuple[float, str, str, str, int, str, str]] = []
    end = start + hours * 3600
    for n in range(int(hours * 40)):
        ip = f"192.0.{rng.randint(0, 3)}.{rng.randint(1, 60)}" if n % 5 else f"2001:db8::{rng.randint(1, 40):x}"
        ua = rng.choice(browsers[:60])
        ts = start + rng.random() * hours * 3600
        ref = rng.choice(REFERRERS)
        for _ in range(1 + int(rng.expovariate(1 / 3))):
            page = rng.choice(pages)
            if ref != "-" and rng.random() < 0.2:
                page += "?utm_source=newsletter&utm_medium=email&utm_campaign=may"
            out.append((ts, ip, "GET", page, 200 if rng.random() < 0.9 else 404, ref, ua))
            for asset in rng.sample(ASSETS, rng.randint(0, 3)):
                out.append((ts + 1, ip, "GET", asset, rng.choice((200, 304)), f"https://shop.example{page}", ua))
            ref = f"https://shop.example{page}"
            ts += rng.choice((5, 40, 300, 1500, 2400))  # some pauses end the session (timeout 30 min)
    midnight = (start // DAY + 1) * DAY
    for k in range(8):  # one visit from 23:52 to 00:20: a session across midnight
        out.append((midnight - 480 + k * 240, "198.51.100.7", "GET", f"/docs/install?k={k}", 200, "-", browsers[1]))
    for _ in range(int(hours * 30)):
        out.append((start + rng.random() * hours * 3600, f"66.249.66.{rng.randint(1, 9)}", "GET",
                    rng.choice(pages + ["/robots.txt"]), 200, "-", rng.choice(crawlers[:40])))  # fmt: skip
    scan = start + rng.random() * (hours - 1) * 3600
    for k, probe in enumerate(["/", "/robots.txt", *PROBES * 3]):
        out.append((scan + k, "203.0.113.9", "GET", probe, 404, "-", "Mozilla/5.0 zgrab/0.x"))
    for k, target in enumerate(["/", "/.env", "/pricing", "/.git/config", "/"]):  # a curious human
        out.append((scan + 600 + 30 * k, "192.0.2.200", "GET", target, 200, "-", browsers[5]))
    scrape = start + rng.random() * (hours - 2) * 3600
    for k in range(70):  # a sequential walk, every 3 s: a bot by behaviour alone
        out.append((scrape + 3 * k, "203.0.113.50", "GET", f"/blog/post-{k % 40}", 200, "-", browsers[2]))
    for k in range(6):
        out.append((start + 600 * k, "203.0.113.60", "GET", "/", 200, "-", "curl/8.5.0"))
    return sorted((r for r in out if r[0] < end), key=lambda r: r[0])


def write_combined(path: Path, seed: int, start: float, hours: float, *, bad: bool = True) -> int:
    """A combined log (gzip when the name ends in .gz) with, when `bad`, malformed lines mixed in; its line count."""
    rows = traffic(seed, start, hours)
    lines = [clf(ip, ts, method, target, status, ref, ua) for ts, ip, method, target, status, ref, ua in rows]
    if bad:
        rng = random.Random(seed + 1)
        extras = [
            "this is not a log line\n",
            '192.0.2.1 - - [99/Foo/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n',
            '192.0.2.1 - - [01/May/2024:10:00:00 +0000] "GET / HTTP/1.1" 999 1 "-" "x"\n',
            "\n",
            "\x16\x03\x01\x02\x00\x01\udcfc\udcff\x03\x03\n",  # binary garbage, not even UTF-8
            '192.0.2.1 - - [01/May/2024:10:00:00 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"\n',  # TLS to the HTTP port
            "G" * (1 << 20) + "\n",  # a 1 MB line of nothing
            clf("192.0.2.99", rows[len(rows) // 2][0], "GET", "/long", 200, "https://x.example/" + "a" * (1 << 20),
                corpus("browsers.txt")[3]),  # a 1 MB referrer on a good line: cut, imported
        ]  # fmt: skip
        for extra in extras:
            lines.insert(rng.randrange(1, len(lines)), extra)
    data = "".join(lines).encode("utf-8", "surrogateescape")
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return len(lines)


def write_json(path: Path, seed: int, start: float, hours: float) -> None:
    """A JSON-lines log (nginx `escape=json` style) across two sites named by each line's host, one without."""
    rows = traffic(seed, start, hours)
    with open(path, "wb") as f:
        for i, (ts, ip, method, target, status, ref, ua) in enumerate(rows):
            host = "" if i == 7 else ("shop.example" if i % 3 else "blog.example")
            obj = {"time": ts, "remote_addr": ip, "request_method": method, "request_uri": target,
                   "status": status, "body_bytes_sent": 100, "http_referer": ref, "http_user_agent": ua,
                   "host": host, "request_time": "0.012"}  # fmt: skip
            f.write(orjson.dumps(obj) + b"\n")
        f.write(b'{"broken": \n')
