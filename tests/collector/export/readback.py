"""Reading scheduled-export objects back: event ids per object, whatever the format."""

from __future__ import annotations

import csv
import gzip
import io

import orjson


def ids_in(name: str, data: bytes) -> list[int]:
    """The event ids in one exported object."""
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return [int(v) for v in pq.read_table(io.BytesIO(data)).column("id").to_pylist()]
    text = gzip.decompress(data)
    if name.endswith(".ndjson.gz"):
        return [int(orjson.loads(line)["id"]) for line in text.splitlines()]
    reader = csv.DictReader(io.StringIO(text.decode("utf-8"), newline=""))
    return [int(r["id"]) for r in reader]
