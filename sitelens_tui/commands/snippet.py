"""`sitelens snippet`: print the HTML to paste into a site's pages."""

from __future__ import annotations

import argparse

from collector.snippet import snippet_html


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snippet", help="print the tracker script tag and noscript pixel for a site")
    p.add_argument("--site", required=True, help="site id, usually the domain (example.com)")
    p.add_argument("--url", metavar="BASE", help="public URL of the collector (default: http://HOST:PORT from config)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = args.config_obj
    base = args.url or f"http://{cfg.server.host}:{cfg.server.port}"
    print(snippet_html(args.site, base))
    return 0
