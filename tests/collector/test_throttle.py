"""Progressive throttle: token buckets per level, escalation, decay, overrides, drops, and storage."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from collector.throttle import Level, Override, Throttle, level_for_score, override_from_row
from db.queries.throttle import OverrideError
from db.sqlite.connection import connect
from db.sqlite.queries.throttle import active_overrides, clear_override, set_override

FP = "fp-1"
IP = "203.0.113.7"


def make(**kw: float) -> Throttle:
    args = {"base_rate": 10.0, "burst": 20.0, "quiet_period_s": 60.0, "violations_to_escalate": 3}
    args.update(kw)
    return Throttle(
        args["base_rate"], args["burst"], args["quiet_period_s"], int(args["violations_to_escalate"])
    )


def allowed_in_burst(t: Throttle, now: float, fp: str = FP, n: int = 100) -> int:
    return sum(t.check(fp, IP, 0, now).allowed for _ in range(n))


def test_levels_have_names_and_multipliers() -> None:
    assert [lv.label for lv in Level] == ["normal", "warning", "severe", "blocked"]
    assert [lv.multiplier for lv in Level] == [1.0, 0.5, 0.25, 0.0]
    assert Level.parse(" Severe ") is Level.SEVERE
    with pytest.raises(ValueError, match="normal, warning"):
        Level.parse("nuke")


def test_normal_client_gets_its_burst_then_429_with_retry_after() -> None:
    t = make()
    assert allowed_in_burst(t, 100.0, n=20) == 20
    d = t.check(FP, IP, 0, 100.0)
    assert (d.allowed, d.reason, d.level) == (False, "rate", Level.NORMAL)
    assert 0 < d.retry_after <= 0.1 + 1e-9  # one token at 10/s
    assert t.check(FP, IP, 0, 100.2).allowed  # refilled


def test_one_burst_is_one_violation_and_does_not_escalate() -> None:
    t = make()
    assert allowed_in_burst(t, 100.0, n=500) == 20
    assert t.level_of(FP, 100.0) is Level.NORMAL


def test_steady_client_within_rate_is_never_refused() -> None:
    t = make()
    assert all(t.check(FP, IP, 0, 100 + i * 0.11).allowed for i in range(1000))
    assert t.level_of(FP, 300.0) is Level.NORMAL


def test_repeated_violations_escalate_one_level_at_a_time_down_to_blocked() -> None:
    t = make()
    now = 100.0
    seen = []
    for _ in range(2000):  # 100 requests a second for 20 s
        d = t.check(FP, IP, 0, now)
        seen.append(d.level)
        now += 0.01
    assert seen[0] is Level.NORMAL and seen[-1] is Level.BLOCKED
    order = list(dict.fromkeys(seen))
    assert order == [Level.NORMAL, Level.WARNING, Level.SEVERE, Level.BLOCKED]
    d = t.check(FP, IP, 0, now)
    assert (d.allowed, d.reason) == (False, "blocked")


def test_lower_levels_refill_at_a_fraction_of_the_base_rate() -> None:
    t = make()
    t.check(FP, IP, 70, 0.0)
    t.check(FP, IP, 70, 0.0)  # severe: 2.5/s, bucket of 5
    assert t.level_of(FP, 0.0) is Level.SEVERE
    assert allowed_in_burst(t, 0.0, n=10) == 4  # the bucket shrank to 5, one spent
    assert allowed_in_burst(t, 2.0, n=10) == 5  # 2 s × 2.5/s


def test_bot_score_sets_a_floor() -> None:
    assert [level_for_score(s) for s in (0, 49, 50, 69, 70, 89, 90, 100)] == [
        Level.NORMAL, Level.NORMAL, Level.WARNING, Level.WARNING, Level.SEVERE, Level.SEVERE,
        Level.BLOCKED, Level.BLOCKED,
    ]  # fmt: skip
    t = make()
    assert t.check(FP, IP, 55, 0.0).level is Level.WARNING
    assert t.check(FP, IP, 55, 0.0).level is Level.WARNING  # the floor, not a ladder
    climb = [t.check(FP, IP, 95, 0.1) for _ in range(3)]
    assert [d.level for d in climb] == [Level.SEVERE, Level.BLOCKED, Level.BLOCKED]
    assert climb[-1].reason == "blocked"


def test_levels_decay_one_step_per_quiet_period() -> None:
    t = make(quiet_period_s=60)
    for _ in range(3):
        t.check(FP, IP, 95, 0.0)
    assert t.level_of(FP, 59.0) is Level.BLOCKED
    assert t.level_of(FP, 60.0) is Level.SEVERE
    assert t.level_of(FP, 130.0) is Level.WARNING
    assert t.level_of(FP, 181.0) is Level.NORMAL
    assert t.take_level_changes() == {FP: Level.NORMAL}


def test_violations_keep_a_client_from_decaying() -> None:
    t = make(quiet_period_s=60, violations_to_escalate=1000)
    t.check(FP, IP, 50, 0.0)
    for second in range(0, 301, 30):
        allowed_in_burst(t, float(second), n=30)  # keeps exceeding its Warning bucket
    assert t.level_of(FP, 330.0) is Level.WARNING
    assert t.level_of(FP, 360.0) is Level.NORMAL


def test_fingerprints_are_independent() -> None:
    t = make()
    for _ in range(3):
        t.check(FP, IP, 95, 0.0)
    assert t.level_of(FP, 0.0) is Level.BLOCKED
    assert t.check("someone-else", IP, 0, 0.0).allowed


def test_override_wins_over_automatic_level_and_expires_on_time() -> None:
    t = make()
    t.set_overrides([Override(1, "fingerprint", FP, Level.BLOCKED, "scraper", expires=50.0)])
    d = t.check(FP, IP, 0, 10.0)
    assert (d.allowed, d.level, d.reason) == (False, Level.BLOCKED, "blocked")
    assert d.retry_after == pytest.approx(40.0)
    assert t.check(FP, IP, 0, 50.0).allowed
    t.set_overrides([Override(2, "fingerprint", FP, Level.NORMAL, "our monitor", expires=None)])
    assert t.check(FP, IP, 100, 60.0).allowed  # a high score does not beat a manual Normal


def test_ip_and_cidr_overrides_match_the_client_address() -> None:
    t = make()
    t.set_overrides(
        [
            Override(1, "cidr", "198.51.100.0/24", Level.BLOCKED, "bad net", None),
            Override(2, "ip", "198.51.100.9", Level.NORMAL, "our box", None),
            Override(3, "cidr", "2001:db8::/32", Level.SEVERE, "v6 net", None),
            Override(4, "cidr", "not a net", Level.BLOCKED, "ignored", None),
        ]
    )
    assert t.check("a", "198.51.100.20", 0, 0.0).reason == "blocked"
    assert t.check("b", "::ffff:198.51.100.21", 0, 0.0).reason == "blocked"
    assert t.check("c", "198.51.100.9", 0, 0.0).allowed
    assert t.check("d", "2001:db8::1", 0, 0.0).level is Level.SEVERE
    assert t.check("e", "192.0.2.1", 0, 0.0).level is Level.NORMAL
    assert t.check("f", "garbage", 0, 0.0).level is Level.NORMAL


def test_drops_are_counted_per_level_and_reason_and_reset_when_taken() -> None:
    t = make()
    allowed_in_burst(t, 0.0, n=30)
    for now in (0.0, 0.1, 0.2, 0.3):  # warning, severe, blocked, blocked
        t.check("bot", IP, 95, now)
    t.set_overrides([Override(1, "ip", "192.0.2.5", Level.BLOCKED, "", None)])
    t.check("x", "192.0.2.5", 0, 0.0)
    assert t.take_drops() == {("normal", "rate"): 10, ("blocked", "blocked"): 2, ("blocked", "override"): 1}
    assert not t.take_drops()


def test_memory_is_bounded() -> None:
    t = make()
    t.max_tracked = 1000
    for i in range(5000):
        t.check(f"fp{i}", IP, 95, i * 0.001)  # all escalated: nothing may be forgotten early
    assert t.tracked() == 1000


def test_idle_normal_clients_are_forgotten_and_escalated_ones_kept() -> None:
    t = make()
    for _ in range(3):
        t.check("scraper", IP, 95, 0.0)
    for i in range(100):
        t.check(f"visitor{i}", IP, 0, i * 1.0)  # one request a second, each from someone new
    assert t.tracked() < 10
    assert t.level_of("scraper", 100.0) is Level.SEVERE  # remembered (one quiet period of decay)


# -- storage of overrides ------------------------------------------------------------------------


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    c = connect(tmp_path / "t.db")
    yield c
    c.close()


def test_override_crud(conn: sqlite3.Connection) -> None:
    a = set_override(conn, "ip", "2001:0db8:0000::0001", "blocked", "flood", 200.0, now=100.0)
    b = set_override(conn, "cidr", "198.51.100.77/24", "severe", "net", None, now=100.0)
    rows = active_overrides(conn, 150.0)
    assert [(r.id, r.target, r.level) for r in rows] == [
        (a, "2001:db8::1", "blocked"),
        (b, "198.51.100.0/24", "severe"),
    ]
    assert [r.id for r in active_overrides(conn, 200.0)] == [b]  # expired
    assert clear_override(conn, "198.51.100.0/24", now=160.0) == 1
    assert clear_override(conn, b, now=161.0) == 0  # already cleared
    assert active_overrides(conn, 150.0)[0].id == a


def test_all_digit_fingerprints_are_targets_not_ids(conn: sqlite3.Connection) -> None:
    first = set_override(conn, "fingerprint", "1234567890123456", "blocked", "", None, now=1.0)
    assert clear_override(conn, "1", now=2.0) == 0
    assert clear_override(conn, "1234567890123456", now=2.0) == 1
    assert first == 1


def test_setting_a_target_again_replaces_the_active_override(conn: sqlite3.Connection) -> None:
    set_override(conn, "fingerprint", "abc", "warning", "", None, now=1.0)
    new = set_override(conn, "fingerprint", "abc", "blocked", "worse", None, now=2.0)
    assert [(r.id, r.level) for r in active_overrides(conn, 3.0)] == [(new, "blocked")]


def test_bad_overrides_are_refused_with_a_clear_message(conn: sqlite3.Connection) -> None:
    for args, msg in [
        (("ip", "10.0.0.300", "blocked"), "not an IP"),
        (("cidr", "nonsense", "blocked"), "not a network"),
        (("host", "x", "blocked"), "unknown override kind"),
        (("fingerprint", "x", "banned"), "unknown throttle level"),
        (("fingerprint", "", "blocked"), "invalid"),
    ]:
        with pytest.raises(OverrideError, match=msg):
            set_override(conn, *args, reason="", expires=None)
    with pytest.raises(OverrideError, match="expired"):
        set_override(conn, "ip", "192.0.2.1", "blocked", "", expires=5.0, now=10.0)
    assert active_overrides(conn, 0.0) == []


def test_stored_rows_become_throttle_overrides(conn: sqlite3.Connection) -> None:
    set_override(conn, "cidr", "192.0.2.0/28", "blocked", "x", None, now=1.0)
    t = make()
    t.set_overrides([o for o in map(override_from_row, active_overrides(conn, 2.0)) if o])
    assert t.check("fp", "192.0.2.3", 0, 2.0).reason == "blocked"
