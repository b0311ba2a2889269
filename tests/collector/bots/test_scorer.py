"""Behavioural score: the 7 weighted signals, their minimum evidence, and their measured values."""

from __future__ import annotations

import random

from collector.bots.scorer import describe, score_session
from collector.bots.signals import INTERVAL_WINDOW, Behaviour, is_sequential_step


def score(
    b: Behaviour, *, site_pages: int = 0, sessions: int = 1, browser: str = "Firefox", major: int = 125
):
    return score_session(
        b, site_pages=site_pages, fingerprint_sessions=sessions, browser=browser, browser_major=major
    )


def names(b: Behaviour, **kw: object) -> dict[str, float]:
    return {s.name: s.value for s in score(b, **kw).signals}  # type: ignore[arg-type]


def walk(n: int, *, every: float = 1.0, start: float = 1000.0) -> Behaviour:
    b = Behaviour()
    for i in range(1, n + 1):
        b.observe(start + i * every, f"/page/{i}")
    return b


def human() -> Behaviour:
    b = Behaviour()
    t = 1000.0
    for path, pause in [
        ("/", 0),
        ("/pricing", 14.2),
        ("/docs", 47.9),
        ("/docs/install", 8.1),
        ("/blog", 95.3),
    ]:
        t += pause
        b.observe(t, path)
    return b


def test_human_reading_five_pages_scores_zero_with_no_signals() -> None:
    s = score(human(), site_pages=40)
    assert (s.score, s.signals, s.is_bot) == (0, (), False)


def test_steady_scraper_crosses_50_as_it_grows_and_keeps_its_reasons() -> None:
    b = Behaviour()
    scores = []
    for i in range(1, 201):
        b.observe(1000.0 + i * 0.5, f"/page/{i}")
        scores.append(score(b, site_pages=220).score)
    assert scores[4] < 50  # a handful of requests proves nothing
    assert max(scores) >= 50
    first_bot = next(i for i, s in enumerate(scores) if s >= 50)
    assert first_bot < 60
    assert scores == sorted(scores)  # only grows while the scraper keeps going
    final = score(b, site_pages=220)
    got = {s.name: s.value for s in final.signals}
    assert final.is_bot and final.score == 100
    assert got["request_count"] == 200
    assert got["sequential"] == 1.0
    assert got["regular_timing"] < 0.001
    assert got["pages_per_minute"] > 100
    assert got["page_coverage"] > 0.9


def test_request_count_fires_above_50() -> None:
    assert "request_count" not in names(walk(50, every=37.0))
    assert names(walk(51, every=37.0))["request_count"] == 51


def test_page_coverage_needs_a_site_of_10_pages_and_more_than_60_percent() -> None:
    b = walk(7, every=30)
    assert "page_coverage" not in names(b, site_pages=9)
    assert names(b, site_pages=10)["page_coverage"] == 0.7
    assert "page_coverage" not in names(b, site_pages=12)


def test_sequential_navigation_needs_ten_requests() -> None:
    assert "sequential" not in names(walk(9, every=40))
    assert names(walk(10, every=40))["sequential"] == 1.0


def test_sorted_order_walk_counts_as_sequential_and_back_and_forth_does_not() -> None:
    b = Behaviour()
    for i, p in enumerate(
        sorted(f"/docs/{w}" for w in "alpha beta gamma delta epsilon zeta eta theta iota kappa".split())
    ):
        b.observe(1000 + i * 30.0 + (i % 3) * 11, p)
    assert "sequential" in names(b)
    b = Behaviour()
    for i in range(12):
        b.observe(1000 + i * 30.0, "/" if i % 2 else f"/post/{i}")
    assert "sequential" not in names(b)
    assert is_sequential_step("/page/9", "/page/10")
    assert not is_sequential_step("/page/10", "/page/9")


def test_repeated_events_on_one_page_are_not_navigation_steps() -> None:
    b = Behaviour()
    for i in range(20):
        b.observe(1000 + i * 3.7 * (i % 4 + 1), "/article")
    assert b.steps == 0


def test_many_sessions_per_fingerprint_fires_above_5() -> None:
    assert "fingerprint_sessions" not in names(human(), sessions=5)
    assert names(human(), sessions=6)["fingerprint_sessions"] == 6


def test_regular_timing_needs_five_intervals_and_is_scale_free() -> None:
    assert "regular_timing" not in names(walk(5, every=20.0))  # 4 intervals
    slow = names(walk(6, every=20.0))
    assert slow["regular_timing"] == 0.0
    rng = random.Random(7)
    b = Behaviour()
    t = 1000.0
    for i in range(30):
        t += 10.0 + rng.uniform(-1, 1)  # a steady 10 s rhythm with a little jitter
        b.observe(t, f"/x{i % 7}")
    assert 0 < names(b)["regular_timing"] < 0.1
    b = Behaviour()
    t = 1000.0
    for i in range(30):
        t += rng.expovariate(1 / 30)  # a reader's pauses
        b.observe(t, f"/x{i % 7}")
    assert "regular_timing" not in names(b)


def test_pages_per_minute_fires_above_5_with_enough_requests() -> None:
    assert "pages_per_minute" not in names(walk(5, every=0.1))  # a burst of five is not a rate
    assert names(walk(12, every=6.0))["pages_per_minute"] > 5  # 12 in 66 s
    assert "pages_per_minute" not in names(walk(12, every=15.0))


def test_outdated_browser() -> None:
    assert names(human(), browser="Chrome", major=89)["outdated_browser"] == 89
    assert "outdated_browser" not in names(human(), browser="Chrome", major=90)
    assert names(human(), browser="Firefox", major=87)["outdated_browser"] == 87
    assert "outdated_browser" not in names(human(), browser="Firefox", major=88)
    assert "outdated_browser" not in names(human(), browser="Safari", major=12)
    assert "outdated_browser" not in names(human(), browser="Chrome", major=None)


def test_weights_add_up_and_50_marks_a_bot() -> None:
    s = score(walk(10, every=40), sessions=6)  # sequential 20 + sessions 20 + regular 15
    assert s.score == 55 and s.is_bot
    assert {x.name: x.weight for x in s.signals} == {
        "sequential": 20,
        "fingerprint_sessions": 20,
        "regular_timing": 15,
    }
    s = score(walk(10, every=40), browser="Chrome", major=80)  # 20 + 15 + 10
    assert s.score == 45 and not s.is_bot


def test_history_is_bounded() -> None:
    b = walk(10_000, every=0.01)
    assert b.interval_count == INTERVAL_WINDOW
    assert b.requests == 10_000


def test_descriptions_read_well() -> None:
    sig = {s.name: s for s in score(walk(60, every=0.5), site_pages=80).signals}
    assert describe(sig["regular_timing"]) == "regular timing: variance 0"
    assert describe(sig["page_coverage"]) == "high page coverage: 75% of pages"
    assert describe(sig["request_count"]) == "high request count: 60 requests"
