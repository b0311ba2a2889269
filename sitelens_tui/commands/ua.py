"""`sitelens ua`: what SiteLens makes of User-Agents (browser, OS, device, bot verdict) as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator

from collector.bots.request import assess_request
from collector.enrich.ua import os_version_label, parse_ua
from collector.errors import UserError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ua",
        help="classify User-Agents: browser, OS, device and bot verdict as JSON lines",
        epilog="Without arguments, reads one User-Agent per line on standard input.",
    )
    p.add_argument("agents", nargs="*", metavar="UA", help="User-Agent strings (quote each one)")
    p.set_defaults(func=run)


def describe_ua(ua: str) -> dict[str, object]:
    """The verdict on one User-Agent as printed: parsed fields plus the UA-only bot verdict."""
    info = parse_ua(ua)
    browser_like = info.device != "bot" and info.browser not in ("Other", "Unknown")
    # No request headers, path or network travel with a bare UA: only the UA itself can give a bot away.
    verdict = assess_request(
        ua,
        accept=None,
        accept_language=None,
        webdriver=False,
        path="",
        hosting_org=False,
        browser_like=browser_like,
        headers_known=False,
    )
    return {
        "ua": ua,
        "browser": info.browser,
        "browser_version": info.browser_version,
        "os": info.os,
        "os_version": os_version_label(info.os, info.os_version),
        "device": "bot" if verdict.is_bot else info.device,
        "is_bot": verdict.is_bot,
        "bot_name": verdict.bot_name,
        "reason": ", ".join(verdict.reasons),
    }


def _stdin_lines(stream: Iterable[str]) -> Iterator[str]:
    """Non-blank lines without their line ending."""
    for line in stream:
        line = line.rstrip("\r\n")
        if line.strip():
            yield line


def run(args: argparse.Namespace) -> int:
    if args.agents:
        agents: Iterable[str] = args.agents
    elif sys.stdin is None or sys.stdin.isatty():
        raise UserError("give User-Agents as arguments, or one per line on standard input")
    else:
        agents = _stdin_lines(sys.stdin)
    out = sys.stdout
    for ua in agents:
        # ensure_ascii keeps escape and control characters from a hostile UA out of the terminal.
        out.write(json.dumps(describe_ua(ua)) + "\n")
    out.flush()
    return 0
