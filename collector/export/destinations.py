"""Where scheduled exports go: a local directory or an S3-compatible bucket, from [export]."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from collector.config import Config, ConfigError
from collector.export.files import atomic_output
from collector.export.formats import FORMATS, ExportError, require_pyarrow
from collector.export.staging import StagedRun

Sent = Callable[[int], None]
"""Called with the number of bytes just sent (for per-destination progress)."""


class DestinationError(Exception):
    """A delivery failed; the run stays pending and is retried with backoff."""


class Destination(Protocol):
    """Somewhere a staged run is delivered; `deliver` returns only once everything is confirmed stored."""

    name: str

    def deliver(self, staged: StagedRun, sent: Sent) -> None: ...


class LocalDestination:
    """A directory: the partitioned files and the manifest, each written atomically, manifest last."""

    def __init__(self, directory: str | os.PathLike[str], name: str = "") -> None:
        self.directory = Path(directory).expanduser()
        self.name = name or f"local:{self.directory}"

    def deliver(self, staged: StagedRun, sent: Sent) -> None:
        try:
            for obj in staged.objects:
                target = self.directory / obj.key
                target.parent.mkdir(parents=True, exist_ok=True)
                with atomic_output(target) as out, open(obj.path, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                if target.stat().st_size != obj.bytes:
                    raise DestinationError(f"{target}: size differs after writing")
                sent(obj.bytes)
            manifest = self.directory / staged.manifest_key
            manifest.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(manifest) as out:
                out.write(staged.manifest)
            sent(len(staged.manifest))
        except (OSError, ExportError) as exc:
            raise DestinationError(str(exc)) from None


LOCAL_KEYS = {"type", "name", "directory"}


def _local(spec: dict[str, Any], where: str) -> LocalDestination:
    unknown = set(spec) - LOCAL_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting {sorted(unknown)[0]!r} (known: {', '.join(sorted(LOCAL_KEYS))})"
        )
    directory = spec.get("directory")
    if not isinstance(directory, str) or not directory:
        raise ConfigError(f'{where}: a local destination needs directory = "PATH"')
    return LocalDestination(directory, str(spec.get("name", "")))


def build_destinations(cfg: Config) -> list[Destination]:
    """Every configured destination, checked now so a bad one stops start-up with one clear line."""
    export = cfg.export
    if export.format not in FORMATS:
        raise ConfigError(
            f"export.format: unknown format {export.format!r} (choose from {', '.join(FORMATS)})"
        )
    if export.format == "parquet":
        try:
            require_pyarrow()
        except ExportError as exc:
            raise ConfigError(f"export.format: {exc}") from None
    if export.schedule_hours < 0:
        raise ConfigError("export.schedule_hours must be 0 (off) or positive")
    found: list[Destination] = []
    if export.directory:
        found.append(LocalDestination(export.directory, "local"))
    for i, spec in enumerate(export.destinations):
        where = f"export.destinations[{i}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: expected a table")
        kind = spec.get("type")
        if kind == "local":
            found.append(_local(spec, where))
        elif kind == "s3":
            from collector.export.s3 import s3_destination

            found.append(s3_destination(spec, where))
        else:
            raise ConfigError(f'{where}: type must be "local" or "s3", got {kind!r}')
    names = [d.name for d in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"export.destinations: two destinations are named {dupes[0]!r}; give each a name")
    if export.schedule_hours > 0 and not found:
        raise ConfigError(
            "export.schedule_hours is set but there is no export.directory or [[export.destinations]]"
        )
    return found
