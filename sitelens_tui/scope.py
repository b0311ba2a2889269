"""What every view is asked about: a range resolved at a given now, a site and dimension filters. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from db.queries.common import RANGES, Filters, Span, span_for

RANGE_NAMES: tuple[str, ...] = RANGES


@dataclass(slots=True, frozen=True)
class Scope:
    """The range, the time it is resolved at, the selected site (None = all) and the filters (dimension, value)."""

    range_name: str = "24h"
    now: float = 0.0
    site: str | None = None
    dims: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def span(self) -> Span:
        return span_for(self.range_name, self.now)

    def filters(self, bots: str = "humans") -> Filters:
        """The storage layer's filters for this scope (humans only unless a view asks for bots)."""
        return Filters(site=self.site, dims=self.dims, bots=bots)

    def without_now(self) -> Scope:
        """The same question at no particular time (to tell a scope change from the clock moving)."""
        return Scope(self.range_name, 0.0, self.site, self.dims)

    def with_dim(self, dimension: str, value: str) -> Scope:
        """This scope with one more filter (a filter on the same dimension is replaced)."""
        dims = tuple(d for d in self.dims if d[0] != dimension) + ((dimension, value),)
        return Scope(self.range_name, self.now, self.site, dims)

    def without_dim(self, dimension: str, value: str | None = None) -> Scope:
        """This scope without the filters on `dimension` (only the one with `value` when given)."""
        dims = tuple(d for d in self.dims if not (d[0] == dimension and (value is None or d[1] == value)))
        return Scope(self.range_name, self.now, self.site, dims)


def label_for_range(name: str) -> str:
    """How a range is named in the UI."""
    return {"live": "live (30 min)", "all": "all time"}.get(name, f"last {name}")
