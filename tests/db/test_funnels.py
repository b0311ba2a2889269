"""Funnels: step matching, window, per-step numbers against a hand count, and stored definitions."""

from __future__ import annotations

import pytest

from collector.config import FunnelConfig
from db.funnels import FunnelError, Step, make_funnel, match_journey
from db.queries.common import Filters, Span
from db.rules import DAY
from db.sqlite.queries.funnels import delete_funnel, funnel_report, list_funnels, save_funnel
from tests.factories import SITE, T0, new_db, visit, write_visits

FUNNEL = make_funnel(
    "signup",
    [{"path": "/pricing*"}, {"path": "/signup"}, {"event": "signup", "props": {"plan": "pro"}}],
    window_s=600,
)


def hit(ts, path="", type_="pageview", name="", props=None):
    return (ts, type_, path, name, props or {})


def test_steps_match_globs_events_and_properties():
    assert Step("path", "/blog/*").matches("pageview", "/blog/a/b", "", {})
    assert not Step("path", "/blog/*").matches("event", "/blog/a", "x", {})
    step = Step("event", "signup", (("plan", "pro"),))
    assert step.matches("event", "/", "signup", {"plan": "pro"})
    assert not step.matches("event", "/", "signup", {"plan": "free"})


def test_journey_takes_the_deepest_attempt_within_the_window():
    hits = [
        hit(0, "/pricing"),
        hit(1000, "/pricing?x"),
        hit(1100, "/signup"),
        hit(1200, "/", "event", "signup", {"plan": "pro"}),
    ]
    assert match_journey(FUNNEL, hits) == [1000, 1100, 1200]
    assert match_journey(FUNNEL, [hit(0, "/pricing"), hit(700, "/signup")]) == [0]  # outside the window
    assert match_journey(FUNNEL, [hit(0, "/signup"), hit(5, "/pricing")]) == [5]  # order matters


def test_invalid_funnels_are_refused_with_a_reason():
    with pytest.raises(FunnelError, match="2 to 20 steps"):
        make_funnel("x", [{"path": "/"}])
    with pytest.raises(FunnelError, match="needs `path`"):
        make_funnel("x", [{"path": "/"}, {"url": "/"}])


def test_report_matches_a_hand_count(tmp_path):
    conn = new_db(tmp_path / "f.db")
    pro = {"plan": "pro"}
    write_visits(
        conn,
        [
            # a: completes in 60 + 120 s
            visit(T0 + 100, [(0, "/pricing"), (60, "/signup")], visitor="a", custom=[(180, "signup", pro)]),
            # b: reaches signup after 30 s, signs up for another plan
            visit(
                T0 + 200,
                [(0, "/pricing/team"), (30, "/signup")],
                visitor="b",
                custom=[(40, "signup", {"plan": "free"})],
            ),
            # c: pricing only
            visit(T0 + 300, [(0, "/pricing")], visitor="c"),
            # d: completes in 90 + 60 s
            visit(
                T0 + 400,
                [(0, "/"), (10, "/pricing"), (100, "/signup")],
                visitor="d",
                custom=[(160, "signup", pro)],
            ),
            # e: never saw pricing
            visit(T0 + 500, [(0, "/signup")], visitor="e", custom=[(5, "signup", pro)]),
            # a bot doing everything is not counted
            visit(
                T0 + 600,
                [(0, "/pricing"), (1, "/signup")],
                visitor="bot",
                is_bot=1,
                custom=[(2, "signup", pro)],
            ),
        ],
    )
    steps = funnel_report(conn, FUNNEL, Span(T0, T0 + DAY), Filters(site=SITE))
    assert [(s.entered, s.converted) for s in steps] == [(4, 3), (3, 2), (2, 2)]
    assert [s.conversion_pct for s in steps] == [75.0, 66.67, 100.0]
    assert [s.dropoff_pct for s in steps] == [25.0, 33.33, 0.0]
    assert [s.median_s_to_next for s in steps] == [60.0, 90.0, None]  # (60, 30, 90) and (120, 60)


def test_funnels_from_config_and_database(tmp_path):
    conn = new_db(tmp_path / "f.db")
    save_funnel(conn, FUNNEL)
    save_funnel(conn, make_funnel("docs", [{"path": "/docs"}, {"path": "/docs/*"}], site=SITE))
    cfg = [FunnelConfig(name="signup", steps=[{"path": "/"}, {"path": "/signup"}])]
    funnels = list_funnels(conn, cfg)
    assert [f.name for f in funnels] == ["signup", "docs"]
    assert funnels[0].steps[0].match == "/"  # the config's definition wins
    assert list_funnels(conn)[1] == FUNNEL
    assert delete_funnel(conn, "docs") and not delete_funnel(conn, "docs")


def test_mask_matching_agrees_with_matching_events():
    import random

    from db.funnels import match_masks, step_mask

    rng = random.Random(3)
    kinds = [
        hit(0, "/pricing"),
        hit(0, "/pricing/x"),
        hit(0, "/signup"),
        hit(0, "/", "event", "signup", {"plan": "pro"}),
    ]
    for _ in range(300):
        journey = sorted(
            (hit(rng.uniform(0, 2000), *k[1:3], k[3], k[4]) for k in rng.choices(kinds, k=rng.randint(0, 8))),
            key=lambda h: h[0],
        )
        masks = [step_mask(FUNNEL, h[1], h[2], h[3], h[4]) for h in journey]
        times = [h[0] for h in journey]
        assert match_masks(len(FUNNEL.steps), FUNNEL.window_s, times, masks) == match_journey(FUNNEL, journey)
