"""The client IP: the socket peer unless that peer is a trusted proxy."""

from __future__ import annotations

from collector.client_ip import client_ip, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


def test_untrusted_peer_headers_are_ignored():
    assert client_ip("198.51.100.1", {"X-Forwarded-For": "1.2.3.4"}, PROXIES) == "198.51.100.1"
    assert client_ip("198.51.100.1", {"X-Forwarded-For": "1.2.3.4"}, parse_networks([])) == "198.51.100.1"


def test_trusted_proxy_forwarded_for_rightmost_untrusted_hop():
    headers = {"X-Forwarded-For": "6.6.6.6, 203.0.113.5, 10.1.2.3"}
    assert client_ip("127.0.0.1", headers, PROXIES) == "203.0.113.5"


def test_trusted_proxy_real_ip_and_garbage():
    assert client_ip("10.0.0.2", {"X-Real-IP": "2001:db8::1"}, PROXIES) == "2001:db8::1"
    assert client_ip("10.0.0.2", {"X-Forwarded-For": "not-an-ip"}, PROXIES) == "10.0.0.2"
    assert client_ip("10.0.0.2", {"X-Forwarded-For": "203.0.113.9:4711"}, PROXIES) == "203.0.113.9"


def test_proxies_given_by_address_match_every_way_the_address_can_be_written():
    proxies = parse_networks(["::1", "fe80::1", "192.0.2.7"])
    forwarded = {"X-Forwarded-For": "203.0.113.5"}
    for peer in ("::1", "0:0:0:0:0:0:0:1", "fe80::1%eth0", "192.0.2.7"):
        assert client_ip(peer, forwarded, proxies) == "203.0.113.5", peer
    assert client_ip("192.0.2.8", forwarded, proxies) == "192.0.2.8"
    assert client_ip("::2", forwarded, proxies) == "::2"


def test_one_forwarded_hop_with_spaces_or_nothing_in_it():
    assert client_ip("127.0.0.1", {"X-Forwarded-For": "  198.51.100.2 "}, PROXIES) == "198.51.100.2"
    assert client_ip("127.0.0.1", {"X-Forwarded-For": " ", "X-Real-IP": "198.51.100.3"}, PROXIES) == "198.51.100.3"
    assert client_ip("127.0.0.1", {"X-Forwarded-For": " "}, PROXIES) == "127.0.0.1"
