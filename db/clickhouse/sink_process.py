"""The ClickHouse sink in a child process, for `clickhouse://` and `clickhouses://` stores.

Building insert blocks and talking to the server then never take the collector's interpreter lock. The child
holds the whole sink (db/clickhouse/writer.py): its client, the spool and the sessions it knows; the parent only
sends batches and learns the spool's depth from each answer (db/sink_process.py). A `chdb://` store keeps the
sink in its own process: chDB's engine cannot be opened by two processes, and the collector reads from it too.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from db.batch import Batch
from db.clickhouse.client import ClickHouse, connect_client
from db.clickhouse.writer import ClickHouseSink
from db.sink_process import SinkProcess, WriterProcessDied
from db.url import StoreUrl


class _Reconnecting:
    """A client opened on first use and again after it could not be: a child started while the server is away
    still acknowledges batches into the spool, and sends them once the server answers."""

    def __init__(self, url: StoreUrl) -> None:
        self.url = url
        self._ch: ClickHouse | None = None

    def __getattr__(self, name: str) -> Any:
        if self._ch is None:
            self._ch = connect_client(self.url)  # DatabaseError while unreachable: the sink spools
        return getattr(self._ch, name)


def open_sink(url: StoreUrl, spool_dir: str, spool_max_bytes: int) -> ClickHouseSink:
    """In the child: the sink with a client and a spool of its own."""
    return ClickHouseSink(cast(ClickHouse, _Reconnecting(url)), spool_dir, spool_max_bytes)


class ClickHouseSinkProcess(SinkProcess):
    """The ClickHouse writer process, as the parent sees it."""

    def __init__(self, url: StoreUrl, spool_dir: str, spool_max_bytes: int) -> None:
        super().__init__(open_sink, (url, spool_dir, spool_max_bytes))

    def write(self, batch: Batch) -> None:
        """Write in the child; should it die meanwhile, once more in a new one under the same insert tokens, so
        what the first had stored already is not stored twice."""
        batch.token = batch.token or uuid.uuid4().hex
        try:
            super().write(batch)
        except WriterProcessDied:
            super().write(batch)
