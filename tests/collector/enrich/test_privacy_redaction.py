"""PII redaction of URLs and free-text property values."""

from __future__ import annotations

import time

import pytest

from collector.enrich.privacy import luhn_ok, redact_text, redact_url, split_redacted, split_url

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # harmless URLs are returned unchanged
        ("https://example.com/", "https://example.com/"),
        ("https://example.com/blog/post", "https://example.com/blog/post"),
        (
            "https://example.com/blog/2024-05-how-to-configure-nginx-reverse-proxy-for-websockets",
            "https://example.com/blog/2024-05-how-to-configure-nginx-reverse-proxy-for-websockets",
        ),
        (
            "https://example.com/p?utm_source=twitter&utm_medium=social&page=2",
            "https://example.com/p?utm_source=twitter&utm_medium=social&page=2",
        ),
        (
            "https://example.com/p?country_code=DE&promo=SPRING",
            "https://example.com/p?country_code=DE&promo=SPRING",
        ),
        # millisecond timestamp: 13 digits but not a card number
        ("https://example.com/a?_=1700000000123", "https://example.com/a?_=1700000000123"),
        # order UUIDs in the path identify a resource, not a person
        (
            "https://example.com/orders/123e4567-e89b-12d3-a456-426614174000",
            "https://example.com/orders/123e4567-e89b-12d3-a456-426614174000",
        ),
        ("/pricing?plan=pro", "/pricing?plan=pro"),
        # e-mails anywhere
        (
            "https://example.com/login?email=bob.smith%40gmail.com&next=/account",
            "https://example.com/login?email=redacted-email&next=/account",
        ),
        ("https://example.com/u/alice@example.org/profile", "https://example.com/u/redacted-email/profile"),
        (
            "https://example.com/unsubscribe?e=Jane.Doe+news@Mail.Example.co.uk",
            "https://example.com/unsubscribe?e=redacted-email",
        ),
        # credentials in the authority
        ("https://user:hunter2@example.com/admin", "https://example.com/admin"),
        # password-like parameters, whatever their value looks like
        (
            "https://example.com/r?token=abc&password=hunter2&Key=zzz&new_password=x&pwd=1&sid=9&code=4321&otp=123456",
            "https://example.com/r?token=redacted&password=redacted&Key=redacted&new_password=redacted"
            "&pwd=redacted&sid=redacted&code=redacted&otp=redacted",
        ),
        (
            "https://example.com/r?api_key=AIzaSyD&csrf_token=q&client_secret=s",
            "https://example.com/r?api_key=redacted&csrf_token=redacted&client_secret=redacted",
        ),
        ("https://example.com/r?password=", "https://example.com/r?password="),
        # card numbers: Luhn-valid with a card prefix only
        ("https://example.com/pay?n=4111111111111111", "https://example.com/pay?n=redacted-card"),
        ("https://example.com/pay?n=4111-1111-1111-1111", "https://example.com/pay?n=redacted-card"),
        ("https://example.com/pay?cc=5500+0000+0000+0004", "https://example.com/pay?cc=redacted"),
        ("https://example.com/orders/378282246310005", "https://example.com/orders/redacted-card"),
        ("https://example.com/pay/4111%201111%201111%201111", "https://example.com/pay/redacted-card"),
        ("https://example.com/pay?n=4111111111111112", "https://example.com/pay?n=4111111111111112"),
        ("https://example.com/pay?n=1234567890123456", "https://example.com/pay?n=1234567890123456"),
        # tokens
        (f"https://example.com/verify/{JWT}/done", "https://example.com/verify/redacted-token/done"),
        (
            f"https://example.com/cb#access_token={JWT}&token_type=bearer",
            "https://example.com/cb#access_token=redacted&token_type=bearer",
        ),
        (
            "https://example.com/confirm/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "https://example.com/confirm/redacted-token",
        ),
        (
            "https://example.com/dl?file=report&s=dGhpcyBpcyBhIHNlY3JldCB0b2tlbiB2YWx1ZTEyMw",
            "https://example.com/dl?file=report&s=redacted-token",
        ),
        (
            "https://example.com/item?id=123e4567-e89b-12d3-a456-426614174000",
            "https://example.com/item?id=redacted-token",
        ),
        (
            "https://example.com/cart;jsessionid=0A1B2C3D4E5F?x=1",
            "https://example.com/cart;jsessionid=redacted?x=1",
        ),
    ],
)
def test_redact_url_table(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    # Redaction is idempotent: stored URLs can be passed through again safely.
    assert redact_url(expected) == expected


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("378282246310005", True),
        ("4111111111111112", False),
        ("79927398713", True),
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_ok(digits) is valid


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("pro", "pro"),
        ("Plan: Pro (yearly)", "Plan: Pro (yearly)"),
        ("order 1700000000123", "order 1700000000123"),
        ("contact bob@example.com please", "contact redacted-email please"),
        ("card 4111 1111 1111 1111 exp 12/29", "card redacted-card exp 12/29"),
        ("card 4111 1111 1111 1112", "card 4111 1111 1111 1112"),
        (f"Bearer {JWT}", "Bearer redacted-token"),
    ],
)
def test_redact_text(value: str, expected: str) -> None:
    assert redact_text(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.COM:8443/Pricing?plan=pro#faq", ("example.com", "/Pricing", "plan=pro")),
        ("https://example.com", ("example.com", "/", "")),
        ("https://bob:pw@example.com/login?email=a@b.io", ("example.com", "/login", "email=redacted-email")),
        ("/docs/install?password=x", ("", "/docs/install", "password=redacted")),
        ("http://[2001:db8::1]:8080/x", ("[2001:db8::1]", "/x", "")),
    ],
)
def test_split_url(url: str, expected: tuple[str, str, str]) -> None:
    assert split_url(url) == expected
    assert split_redacted(url) == split_url(redact_url(url)) == expected


def test_split_redacted_of_a_long_url_is_redacted_too() -> None:
    url = "https://example.com/" + "a" * 3000 + "?email=bob@example.com&token=" + "x" * 40
    assert split_redacted(url) == split_url(redact_url(url))
    assert "bob@example.com" not in split_redacted(url)[2]


def test_lone_surrogates_become_storable() -> None:
    assert redact_url("https://example.com/caf\udce9") == "https://example.com/caf\ufffd"
    assert split_url("https://example.com/caf\udce9?q=\udcff") == ("example.com", "/caf\ufffd", "q=\ufffd")
    assert redact_text("caf\udce9 ☕") == "caf\ufffd ☕"
    assert redact_text("naïve ☕") == "naïve ☕"


def test_hostile_long_inputs_stay_linear() -> None:
    start = time.perf_counter()
    redact_url("https://example.com/?" + "a" * 200_000 + "@")
    redact_url("https://example.com/" + "1" * 200_000)
    redact_text("x." * 100_000 + "@")
    assert time.perf_counter() - start < 1.0


def test_the_reported_props_and_path_are_redacted_by_key_and_by_shape() -> None:
    from collector.enrich.privacy import redact_props

    assert redact_props({"password": "hunter2", "note": "ssn 123-45-6789", "plan": "pro"}) == {
        "password": "redacted",
        "note": "ssn redacted-ssn",
        "plan": "pro",
    }
    assert redact_url("https://example.com/u/123-45-6789") == "https://example.com/u/redacted-ssn"
    assert redact_text("Chrome/124.0.0.0 4111 1111 1111 1111") == "Chrome/124.0.0.0 redacted-card"
    assert redact_text("key " + "0f" * 20) == "key redacted-token"
    assert redact_text("order 2024-05-01, 3 items, call 555-0100") == "order 2024-05-01, 3 items, call 555-0100"
