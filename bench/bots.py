"""Bot detection accuracy and cost, measured in one run on the corpora in tests/data/ua/.

Run from the repository root: python -m bench.bots
Prints corpus sizes, recall on crawler UAs, false-positive rate on real browser UAs, microseconds per UA
verdict (cold: first sight of each UA; cached: seen before), and the per-request cost of the behavioural
score and the throttle check.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from collector.bots import request as request_mod
from collector.bots.scorer import score_session
from collector.bots.signals import Behaviour
from collector.throttle import Throttle
from tests.collector.bots.test_accuracy import is_bot, load

# The corpora and the verdict are exactly what the accuracy test uses.
verdict = is_bot


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    """Mean microseconds of `fn` over `repeat` calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1e6


def score_us(b: Behaviour) -> float:
    """Microseconds to score a session's behaviour."""
    return per_call_us(
        lambda: score_session(b, site_pages=300, fingerprint_sessions=2, browser="Chrome", browser_major=120),
        100_000,
    )


def main() -> None:
    crawlers, browsers = load("crawlers.txt"), load("browsers.txt")
    everyone = crawlers + browsers

    request_mod.cache_clear()
    start = time.perf_counter()
    caught = sum(verdict(ua) for ua in crawlers)
    flagged = sum(verdict(ua) for ua in browsers)
    cold = (time.perf_counter() - start) / len(everyone) * 1e6
    start = time.perf_counter()
    for _ in range(5):
        for ua in everyone:
            verdict(ua)
    cached = (time.perf_counter() - start) / (5 * len(everyone)) * 1e6

    bot = Behaviour()
    for i in range(200):
        bot.observe(1000.0 + i, f"/page/{i}")
    human = Behaviour()
    for i, pause in enumerate((0, 14, 48, 8, 95, 31)):
        human.observe(1000.0 + i * 20 + pause, f"/p{i}")
    counter = iter(range(10**9))
    observe = per_call_us(lambda: bot.observe(2000.0 + next(counter), "/page/x"), 100_000)
    throttle = Throttle(base_rate=10.0, burst=40.0, quiet_period_s=300.0, violations_to_escalate=3)
    clock = iter(range(10**9))

    def one_check() -> object:
        n = next(clock)  # 1000 clients taking turns, each once a second: the allowed path
        return throttle.check(f"fp{n % 1000}", "203.0.113.9", 0, n * 0.001)

    check = per_call_us(one_check, 100_000)

    recall, fp_rate = caught / len(crawlers), flagged / len(browsers)
    print(f"corpus: {len(crawlers)} crawler UAs, {len(browsers)} browser UAs")
    print(f"recall:          {recall:7.2%}  ({caught}/{len(crawlers)} crawlers caught; need ≥ 95%)")
    print(f"false positives: {fp_rate:7.2%}  ({flagged}/{len(browsers)} browsers flagged; need ≤ 0.5%)")
    print(f"request verdict: {cold:7.1f} µs/UA cold, {cached:.2f} µs/UA cached (×{cold / cached:.0f})")
    print(f"behaviour:       {observe:7.2f} µs/observe; score {score_us(human):.2f} µs (human), ", end="")
    print(f"{score_us(bot):.2f} µs (bot, 5 signals)")
    print(f"throttle check:  {check:7.2f} µs/request (1000 fingerprints)")


if __name__ == "__main__":
    main()
