"""Funnels as pure logic: steps, matching a journey against them, per-step results (shared by every engine)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from db.rules import PAGE_TYPES

STEP_KINDS = ("path", "event")
MAX_STEPS = 20
MAX_NAME = 100


class FunnelError(ValueError):
    """A funnel definition that cannot work, worded for the user."""


@dataclass(slots=True, frozen=True)
class Step:
    """One funnel step: a page path glob (`/blog/*`) or a custom event name, optionally with properties."""

    kind: str
    match: str
    props: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """How the step reads in a table."""
        extra = "".join(f" {k}={v}" for k, v in self.props)
        return f"{'page' if self.kind == 'path' else 'event'} {self.match}{extra}"

    def matches(self, type_: str, path: str, name: str, props: Mapping[str, Any]) -> bool:
        """Whether one event completes this step."""
        if self.kind == "path":
            if type_ not in PAGE_TYPES or not fnmatchcase(path, self.match):
                return False
        elif type_ != "event" or name != self.match:
            return False
        return all(str(props.get(k)) == v for k, v in self.props)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "match": self.match, "props": dict(self.props)}


@dataclass(slots=True, frozen=True)
class Funnel:
    """Ordered steps a visitor must complete within `window_s` seconds of the first one."""

    name: str
    steps: tuple[Step, ...]
    window_s: int = 1800
    site: str = ""


@dataclass(slots=True, frozen=True)
class StepResult:
    """How many visitors reached a step, how many went on to the next, and how long that took (median s)."""

    step: Step
    entered: int
    converted: int
    conversion_pct: float
    dropoff_pct: float
    median_s_to_next: float | None


def step_from_dict(data: Mapping[str, Any]) -> Step:
    """A step from config/JSON: {"path": "/pricing"}, {"event": "signup", "props": {...}} or kind/match."""
    if not isinstance(data, Mapping):
        raise FunnelError('a funnel step must be a table like {path = "/pricing"} or {event = "signup"}')
    if "kind" in data:
        kind, match = str(data["kind"]), data.get("match")
    elif "path" in data:
        kind, match = "path", data["path"]
    elif "event" in data:
        kind, match = "event", data["event"]
    else:
        raise FunnelError("a funnel step needs `path` (a glob like /blog/*) or `event` (a custom event name)")
    if kind not in STEP_KINDS:
        raise FunnelError(f"unknown step kind {kind[:20]!r} (path or event)")
    if not isinstance(match, str) or not match.strip() or len(match) > 500:
        raise FunnelError(f"a {kind} step needs a non-empty {kind} (at most 500 characters)")
    props = data.get("props") or {}
    if not isinstance(props, Mapping):
        raise FunnelError("step props must be a table of name = value")
    return Step(kind, match.strip(), tuple(sorted((str(k), str(v)) for k, v in props.items())))


def make_funnel(name: str, steps: Iterable[Mapping[str, Any] | Step], window_s: int = 1800, site: str = "") -> Funnel:
    """A validated funnel: a name, 2 to 20 steps, a positive window."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise FunnelError(f"a funnel needs a printable name of at most {MAX_NAME} characters")
    parsed = tuple(s if isinstance(s, Step) else step_from_dict(s) for s in steps)
    if not 2 <= len(parsed) <= MAX_STEPS:
        raise FunnelError(f"funnel {name!r}: needs 2 to {MAX_STEPS} steps, got {len(parsed)}")
    if not isinstance(window_s, int) or window_s <= 0:
        raise FunnelError(f"funnel {name!r}: window_s must be a positive number of seconds")
    return Funnel(name, parsed, window_s, site or "")


def funnel_from_config(cfg: Any) -> Funnel:
    """A funnel from a config entry (name, steps, window_s, site)."""
    return make_funnel(cfg.name, cfg.steps, cfg.window_s, cfg.site)


Hit = tuple[float, str, str, str, Mapping[str, Any]]
"""(ts, type, path, name, props) of one event of a visitor, in time order."""


def match_journey(funnel: Funnel, hits: Sequence[Hit]) -> list[float]:
    """Times at which the visitor reached each step in order (the deepest attempt within the window)."""
    best: list[float] = []
    first = funnel.steps[0]
    for i, hit in enumerate(hits):
        if not first.matches(hit[1], hit[2], hit[3], hit[4]):
            continue
        reached = [hit[0]]
        deadline = hit[0] + funnel.window_s
        for later in hits[i + 1 :]:
            if len(reached) == len(funnel.steps) or later[0] > deadline:
                break
            if funnel.steps[len(reached)].matches(later[1], later[2], later[3], later[4]):
                reached.append(later[0])
        if len(reached) > len(best):
            best = reached
            if len(best) == len(funnel.steps):
                break
    return best


def step_mask(funnel: Funnel, type_: str, path: str, name: str, props: Mapping[str, Any]) -> int:
    """Which steps one event completes, as bits (bit i: step i), so each event is matched once."""
    mask = 0
    for i, step in enumerate(funnel.steps):
        if step.matches(type_, path, name, props):
            mask |= 1 << i
    return mask


def match_masks(n_steps: int, window_s: float, times: Sequence[float], masks: Sequence[int]) -> list[float]:
    """`match_journey` over precomputed step masks (times in order): the same deepest attempt, found faster."""
    best: list[float] = []
    count = len(times)
    if count == 1:  # most journeys: one hit
        return [times[0]] if masks[0] & 1 else []
    for i in range(count):
        if not masks[i] & 1:
            continue
        reached = [times[i]]
        deadline = times[i] + window_s
        for j in range(i + 1, count):
            if len(reached) == n_steps or times[j] > deadline:
                break
            if masks[j] >> len(reached) & 1:
                reached.append(times[j])
        if len(reached) > len(best):
            best = reached
            if len(best) == n_steps:
                break
    return best


def summarise(funnel: Funnel, journeys: Iterable[Sequence[float]], first_only: int = 0) -> list[StepResult]:
    """Per step: visitors who entered, who went on to the next step, conversion/drop-off %, median time
    (`first_only`: more visitors who reached the first step only, counted rather than listed)."""
    n = len(funnel.steps)
    entered = [first_only] + [0] * (n - 1)
    gaps: list[list[float]] = [[] for _ in range(n)]
    for times in journeys:
        for i in range(len(times)):
            entered[i] += 1
            if i + 1 < len(times):
                gaps[i].append(times[i + 1] - times[i])
    results = []
    for i, step in enumerate(funnel.steps):
        converted = entered[i + 1] if i + 1 < n else entered[i]
        pct = round(100.0 * converted / entered[i], 2) if entered[i] else 0.0
        results.append(
            StepResult(
                step=step,
                entered=entered[i],
                converted=converted,
                conversion_pct=pct,
                dropoff_pct=round(100.0 - pct, 2) if entered[i] else 0.0,
                median_s_to_next=round(statistics.median(gaps[i]), 2) if gaps[i] else None,
            )
        )
    return results
