"""How `sitelens run --demo` sets up its embedded collector, so demo visitors look like people from many places."""

from __future__ import annotations

from typing import Final

from collector.config import Config
from collector.demo.geo import use_demo_geoip

LOOPBACK: Final = ("127.0.0.1", "::1")


def prepare_demo_config(cfg: Config) -> None:
    """Believe X-Forwarded-For from this machine and give the collector the demo's country database.

    The demo sends each visitor's address in X-Forwarded-For over loopback; without trusting it every visitor
    would be 127.0.0.1: one fingerprint per browser, no countries, and the throttle treating them as one client.
    """
    for address in LOOPBACK:
        if address not in cfg.server.trusted_proxies:
            cfg.server.trusted_proxies.append(address)
    use_demo_geoip(cfg)
