"""`sitelens demo`: send realistic synthetic traffic to a running collector over HTTP."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collector.config import Config
    from collector.demo import DemoStats

DEMO_SITES = ("example.com", "shop.example.com")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="send realistic demo traffic (people, crawlers, a scraper, spikes) to a running collector",
    )
    p.add_argument("--url", help="collector base URL (default: http://HOST:PORT from config)")
    p.add_argument("--rate", type=_positive, default=20.0, help="average events per second (default 20)")
    p.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--seed", type=int, help="random seed, for the same traffic every run")
    p.add_argument(
        "--ingest-token",
        metavar="TOKEN",
        help="bearer token for server-side events on /api/ingest (default: the shop.example.com "
        "site's ingest_token from config, if any)",
    )
    p.add_argument(
        "--progress",
        type=_positive,
        default=5.0,
        metavar="S",
        help="seconds between progress lines (default 5)",
    )
    p.set_defaults(func=run)


def _positive(text: str) -> float:
    """An argparse type: a number greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def default_url(cfg: Config) -> str:
    """The configured collector's address, reachable from this machine."""
    host = cfg.server.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{cfg.server.port}"


def default_ingest_token(cfg: Config) -> str | None:
    """The ingest token of a configured demo site, so server-side events work without a flag."""
    for site in cfg.sites:
        if site.name in DEMO_SITES and site.ingest_token:
            return site.ingest_token
    return None


def site_warning(cfg: Config) -> str:
    """A hint when the configured sites would make the collector refuse the demo's events."""
    if not cfg.sites:
        return ""
    missing = [s for s in DEMO_SITES if s not in cfg.site_names]
    if not missing:
        return ""
    return (
        f"note: the demo sends events for {' and '.join(DEMO_SITES)}; a collector configured with other "
        f'sites refuses them (add [[sites]] name = "{missing[0]}" or use a collector without sites)'
    )


class Reporter:
    """Prints the progress lines, and the collector's reason once when it starts refusing events."""

    def __init__(self) -> None:
        self.warned = False

    def __call__(self, stats: DemoStats) -> None:
        print(stats.line(), flush=True)
        if stats.errors and stats.last_error and not self.warned:
            self.warned = True
            print(f"  collector refused some events: {stats.last_error}", flush=True)


async def _main(args: argparse.Namespace, url: str, token: str | None) -> DemoStats:
    from collector.demo import run_demo

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await run_demo(
            url,
            args.rate,
            args.duration,
            stop,
            args.seed,
            ingest_token=token,
            progress=Reporter(),
            progress_every_s=args.progress,
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def summary(stats: DemoStats) -> str:
    """The closing lines: totals, per kind, and what the collector did with them."""
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(stats.by_kind.items(), key=lambda kv: -kv[1])) or "none"
    visitors = ", ".join(f"{k} {n}" for k, n in sorted(stats.visits.items(), key=lambda kv: -kv[1])) or "none"
    rate = stats.sent / stats.elapsed_s if stats.elapsed_s else 0.0
    lines = [
        f"demo finished after {stats.elapsed_s:.1f}s: {stats.sent} events sent ({rate:.1f}/s), "
        f"{stats.accepted} accepted, {stats.throttled} throttled (429), {stats.blocked} blocked, "
        f"{stats.busy} busy (503), "
        f"{stats.errors} failed",
        f"  events by kind: {kinds}",
        f"  visitors: {visitors}; traffic spikes: {stats.spikes}; server-side events: {stats.ingest}",
    ]
    if stats.last_error:
        lines.append(f"  last error: {stats.last_error}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from collector.demo import DemoError  # here, not at the top: the demo brings aiohttp's client

    cfg: Config = args.config_obj
    url = (args.url or default_url(cfg)).rstrip("/")
    if not url.startswith(("http://", "https://")):
        print(f"sitelens: error: --url must start with http:// or https://, got {url!r}", file=sys.stderr)
        return 2
    token = args.ingest_token or default_ingest_token(cfg)
    if warning := site_warning(cfg):
        print(warning, file=sys.stderr)
    until = f" for {args.duration:g}s" if args.duration else " (Ctrl-C to stop)"
    print(f"sending demo traffic to {url} at about {args.rate:g} events/s{until}", flush=True)
    try:
        stats = asyncio.run(_main(args, url, token))
    except DemoError as exc:
        print(f"sitelens: error: {exc}", file=sys.stderr)
        return 2
    print(summary(stats), flush=True)
    return 0
