"""Format writers (CSV, NDJSON, Parquet) that take rows chunk by chunk and write bytes to any binary sink."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections.abc import Sequence
from typing import Any, BinaryIO, Protocol

import orjson

from collector.errors import UserError

FORMATS = ("csv", "ndjson", "parquet")
PARQUET_ROW_GROUP = 16_384
PARQUET_MISSING = "parquet export needs pyarrow: install it with  pip install 'sitelens[parquet]'"

Row = Sequence[object]


class ExportError(UserError):
    """An export that cannot be done (bad format, unwritable path, missing extra); one line for the user."""


class FormatWriter(Protocol):
    """Writes chunks of rows in one format; `close` writes any trailer but leaves the sink open."""

    def write(self, rows: Sequence[Row]) -> None: ...

    def close(self) -> None: ...


class CountingSink(io.RawIOBase):
    """A binary sink that counts (and optionally hashes) what goes through it to another binary file."""

    def __init__(self, target: BinaryIO, *, sha256: bool = False) -> None:
        super().__init__()
        self.target = target
        self.bytes = 0
        self._hash = hashlib.sha256() if sha256 else None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:  # type: ignore[override]
        view = memoryview(data)
        n = self.target.write(view)
        n = len(view) if n is None else n
        self.bytes += n
        if self._hash is not None:
            self._hash.update(view)
        return n

    def flush(self) -> None:
        self.target.flush()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest() if self._hash is not None else ""


def infer_types(columns: Sequence[str], rows: Sequence[Row]) -> list[str]:
    """Value types ("int", "float", "str") for columns of arbitrary rows, judged on a first chunk."""
    types: list[str] = []
    for i in range(len(columns)):
        seen = {type(r[i]) for r in rows if i < len(r) and r[i] is not None}
        if seen and seen <= {int, bool}:
            types.append("int")
        elif seen and seen <= {int, bool, float}:
            types.append("float")
        else:
            types.append("str")
    return types


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is a formula to a spreadsheet (OWASP's list): it gets a leading `'`."""


def _text(value: object) -> object:
    """CSV cell: None → empty, bytes → hex, text that a spreadsheet would run as a formula neutralised
    (`=HYPERLINK(…)` → `'=HYPERLINK(…)`), anything else as csv writes it (floats keep full precision)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, bytes):
        return value.hex()
    return value


class CsvWriter:
    """RFC 4180 CSV with a header row, UTF-8, \\r\\n line ends."""

    def __init__(self, sink: BinaryIO, columns: Sequence[str]) -> None:
        self._sink = sink
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf)
        self._csv.writerow(columns)
        self._drain()

    def _drain(self) -> None:
        self._sink.write(self._buf.getvalue().encode("utf-8", "surrogatepass"))
        self._buf.seek(0)
        self._buf.truncate()

    def write(self, rows: Sequence[Row]) -> None:
        self._csv.writerows([_text(v) for v in row] for row in rows)
        self._drain()

    def close(self) -> None:
        return None


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class NdjsonWriter:
    """One JSON object per line, keys in column order."""

    def __init__(self, sink: BinaryIO, columns: Sequence[str]) -> None:
        self._sink = sink
        self._columns = list(columns)

    def write(self, rows: Sequence[Row]) -> None:
        cols = self._columns
        opt = orjson.OPT_APPEND_NEWLINE
        self._sink.write(
            b"".join(
                orjson.dumps(dict(zip(cols, row, strict=False)), default=_json_default, option=opt)
                for row in rows
            )
        )

    def close(self) -> None:
        return None


def require_pyarrow() -> Any:
    """The pyarrow modules, or an ExportError naming the optional extra."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ExportError(PARQUET_MISSING) from None
    return pyarrow


class ParquetWriter:
    """Parquet with a typed schema, written in row groups so memory stays bounded."""

    def __init__(self, sink: BinaryIO, columns: Sequence[str], types: Sequence[str]) -> None:
        pa = require_pyarrow()
        import pyarrow.parquet as pq

        self._pa = pa
        kinds = {"int": pa.int64(), "float": pa.float64(), "str": pa.string()}
        self._types = list(types)
        self._schema = pa.schema([(c, kinds[t]) for c, t in zip(columns, types, strict=True)])
        self._writer = pq.ParquetWriter(sink, self._schema, compression="zstd")
        self._pending: list[Row] = []

    def write(self, rows: Sequence[Row]) -> None:
        self._pending.extend(rows)
        if len(self._pending) >= PARQUET_ROW_GROUP:
            self._flush()

    def _column(self, values: Sequence[object], kind: str, name: str) -> Any:
        pa = self._pa
        if kind == "str":
            values = [v if v is None or type(v) is str else _json_default(v) for v in values]
        try:
            return pa.array(values, type=self._schema.field(name).type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            raise ExportError(
                f"column {name!r} mixes values of different types; cannot write it as parquet"
            ) from None

    def _flush(self) -> None:
        if not self._pending:
            return
        columns = list(zip(*self._pending, strict=True))
        arrays = [
            self._column(col, kind, name)
            for col, kind, name in zip(columns, self._types, self._schema.names, strict=True)
        ]
        self._writer.write_table(self._pa.Table.from_arrays(arrays, schema=self._schema))
        self._pending = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def check_format(fmt: str, *, allowed: Sequence[str] = FORMATS) -> str:
    """The format name, or an ExportError listing the known ones (and the extra parquet needs)."""
    if fmt not in allowed:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(allowed)})")
    if fmt == "parquet":
        require_pyarrow()
    return fmt


def make_writer(fmt: str, sink: BinaryIO, columns: Sequence[str], types: Sequence[str]) -> FormatWriter:
    """A writer for `fmt` on `sink`."""
    check_format(fmt)
    if fmt == "csv":
        return CsvWriter(sink, columns)
    if fmt == "ndjson":
        return NdjsonWriter(sink, columns)
    return ParquetWriter(sink, columns, types)


def gzip_sink(sink: Any) -> gzip.GzipFile:
    """A gzip layer over a sink, reproducible byte for byte (no timestamp, no file name)."""
    return gzip.GzipFile(filename="", fileobj=sink, mode="wb", compresslevel=6, mtime=0)


def extension(fmt: str, *, compressed: bool) -> str:
    """File extension of a format: parquet compresses itself, text formats get .gz when compressed."""
    if fmt == "parquet":
        return "parquet"
    return f"{fmt}.gz" if compressed else fmt
