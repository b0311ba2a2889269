"""Detection accuracy on corpora from maintained public lists: crawlers caught, real browsers left alone."""

from __future__ import annotations

from pathlib import Path

from collector.bots.request import assess_request

DATA = Path(__file__).resolve().parents[2] / "data" / "ua"


def load(name: str) -> list[str]:
    return [line for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def is_bot(ua: str) -> bool:
    """The verdict for a tracker request with ordinary browser headers: only the UA can give a bot away."""
    return assess_request(
        ua,
        accept="*/*",
        accept_language="en-US,en;q=0.9",
        webdriver=False,
        path="/",
        hosting_org=False,
        browser_like=True,
    ).is_bot


def test_corpora_are_real_and_sizeable() -> None:
    crawlers, browsers = load("crawlers.txt"), load("browsers.txt")
    assert len(crawlers) >= 1500 and len(browsers) >= 900
    assert not set(crawlers) & set(browsers)


def test_recall_on_known_crawlers_is_at_least_95_percent() -> None:
    crawlers = load("crawlers.txt")
    missed = [ua for ua in crawlers if not is_bot(ua)]
    recall = 1 - len(missed) / len(crawlers)
    assert recall >= 0.95, f"recall {recall:.2%}; first misses: {missed[:5]}"


def test_false_positives_on_real_browsers_are_at_most_half_a_percent() -> None:
    browsers = load("browsers.txt")
    flagged = [ua for ua in browsers if is_bot(ua)]
    rate = len(flagged) / len(browsers)
    assert rate <= 0.005, f"false positives {rate:.2%}: {flagged[:5]}"
