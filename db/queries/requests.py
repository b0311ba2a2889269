"""The Requests view's questions, GoAccess's own panels over imported access-log hits (type `request`): status
codes, the most requested missing paths and bandwidth per path.

The records and rules every engine shares; the SQL is in db/sqlite/queries and db/clickhouse/queries.

Every count is of `request` events in the span matching the filters (the bots mode included: the view asks for
humans and bots together, as an access log holds both). Bandwidth is the sum of the logged response sizes
(`bytes`). SQLite reads whole days from its daily rollup and the rest raw; ClickHouse reads raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass

REQUEST_SQL = "type = 'request'"
"""Written out in every query so SQLite picks the partial index on imported hits."""
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
ROLLED_DIMS = frozenset(("status", "path"))
"""The filters a daily request rollup can answer (its own columns); any other reads raw rows."""


@dataclass(slots=True, frozen=True)
class StatusRow:
    """Hits answered with one status code."""

    status: int
    hits: int

    @property
    def status_class(self) -> str:
        """ "2xx" for 200-299 and so on; "other" for codes outside 100-599 (0: not logged)."""
        return f"{self.status // 100}xx" if 100 <= self.status <= 599 else "other"


@dataclass(slots=True, frozen=True)
class PathHits:
    """One path: hits and the bytes sent for them."""

    path: str
    hits: int
    bytes: int


def status_classes(rows: list[StatusRow]) -> dict[str, int]:
    """Hits per status class (1xx-5xx, then "other" when there is any), from `status_codes`."""
    out = dict.fromkeys(STATUS_CLASSES, 0)
    for row in rows:
        out[row.status_class] = out.get(row.status_class, 0) + row.hits
    return out


def top_paths(values: dict[str, list[int]], limit: int, *, by_bytes: bool) -> list[PathHits]:
    """A path list from path -> [hits, bytes]: by hits (the 404 list) or by bytes (bandwidth), then the path."""
    order = sorted(values.items(), key=lambda kv: (-kv[1][1 if by_bytes else 0], kv[0]))
    return [PathHits(path, hits, sent) for path, (hits, sent) in order if hits][:limit]
