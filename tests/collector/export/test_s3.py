"""Scheduled export to S3-compatible buckets, against a real S3 server (moto) on 127.0.0.1."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from moto.server import ThreadedMotoServer

from collector.config import Config, ExportConfig
from collector.export.destinations import build_destinations
from collector.export.scheduled import export_tick
from collector.export.status import ExportState
from tests.collector.export.readback import ids_in
from tests.collector.export.seed import T0, Seeded

NOW = T0 + 86400
KEYS = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3Server:
    """A moto S3 server that a test can stop and start again on the same port (the data survives)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )


@pytest.fixture
def s3() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    # moto keeps its buckets in the process, across servers: start every test from nothing
    urllib.request.urlopen(
        urllib.request.Request(f"{server.url}/moto-api/reset", method="POST"), timeout=5
    ).close()
    for bucket in ("one", "two"):
        server.client().create_bucket(Bucket=bucket)
    yield server
    server.stop()


def s3_config(cfg: Config, server: S3Server, *buckets: str, fmt: str = "ndjson", **extra: object) -> Config:
    cfg.export = ExportConfig(
        schedule_hours=1,
        format=fmt,
        destinations=[
            {
                "type": "s3",
                "endpoint_url": server.url,
                "bucket": b,
                "prefix": "exports/sitelens",
                **KEYS,
                **extra,
            }
            for b in buckets
        ],
    )
    return cfg


def bucket_contents(server: S3Server, bucket: str) -> dict[str, bytes]:
    client = server.client()
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}


def data_ids(objects: dict[str, bytes]) -> list[int]:
    return sorted(i for k, v in objects.items() if k.split("/")[-2] != "manifests" for i in ids_in(k, v))


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_objects_keys_and_manifests_are_exact(s3: S3Server, seeded: Seeded, fmt: str) -> None:
    cfg = s3_config(seeded.cfg, s3, "one", fmt=fmt)
    report = export_tick(cfg, now=NOW, destinations=build_destinations(cfg))
    run_id = report.planned[0]
    assert report.completed == [run_id]
    objects = bucket_contents(s3, "one")
    manifest = orjson.loads(objects.pop(f"exports/sitelens/manifests/run={run_id}.json"))
    ext = "ndjson.gz" if fmt == "ndjson" else "parquet"
    assert sorted(objects) == sorted(f"exports/sitelens/{o['key']}" for o in manifest["objects"])
    assert all(
        k.endswith(f"/events-{run_id}.{ext}") and "/site=" in k and "/date=" in k and "/hour=" in k
        for k in objects
    )
    assert manifest["rows"] == 300 and data_ids(objects) == seeded.ids()
    for o in manifest["objects"]:
        body = objects[f"exports/sitelens/{o['key']}"]
        assert len(body) == o["bytes"] and len(ids_in(o["key"], body)) == o["rows"]
        import hashlib

        assert hashlib.sha256(body).hexdigest() == o["sha256"]
        head = s3.client().head_object(Bucket="one", Key=f"exports/sitelens/{o['key']}")
        assert head["Metadata"]["sha256"] == o["sha256"]


def test_multipart_upload_above_the_threshold(s3: S3Server, seeded: Seeded) -> None:
    cfg = s3_config(seeded.cfg, s3, "one", multipart_threshold_mb=0.001)
    export_tick(cfg, now=NOW)
    client = s3.client()
    keys = [
        o["Key"]
        for o in client.list_objects_v2(Bucket="one")["Contents"]
        if "/manifests/" not in o["Key"] and o["Size"] >= 1024 * 1024 * 0.001
    ]
    etags = [client.head_object(Bucket="one", Key=k)["ETag"] for k in keys]
    assert etags and all(e.strip('"').endswith("-1") for e in etags)  # multipart ETags end in -<parts>


def test_server_down_for_a_while_recovers_without_duplicates_or_gaps(s3: S3Server, seeded: Seeded) -> None:
    cfg = s3_config(seeded.cfg, s3, "one", "two")
    state = ExportState()
    dests = build_destinations(cfg)
    first = export_tick(cfg, now=NOW, destinations=dests, state=state)
    assert len(first.completed) == 1
    s3.stop()
    seeded.add(300, 50, start=T0 + 30_000)
    down = export_tick(cfg, now=NOW + 3600, destinations=dests, state=state)
    assert len(down.planned) == 1 and down.completed == [] and len(down.failed) == 2
    assert state.health is not None and state.health.pending_runs == 1
    assert {f["destination"] for f in state.summary()["failing"]} == {d.name for d in dests}
    seeded.add(350, 50, start=T0 + 40_000)
    assert (
        len(export_tick(cfg, now=NOW + 7200, destinations=dests, state=state).planned) == 1
    )  # still planned
    s3.start()  # back, same data
    # a "restart" of the collector: new destinations and state
    dests = build_destinations(cfg)
    up = export_tick(cfg, now=NOW + 7200 + 3600, destinations=dests, state=ExportState())
    assert len(up.completed) == 2 and up.failed == []
    for bucket in ("one", "two"):
        objects = bucket_contents(s3, bucket)
        ids = data_ids(objects)
        assert ids == seeded.ids() and len(ids) == len(set(ids)) == 400
        manifests = [orjson.loads(v) for k, v in objects.items() if "/manifests/" in k]
        assert sorted(m["rows"] for m in manifests) == [50, 50, 300]


def test_wrong_bucket_is_reported_then_retried(s3: S3Server, seeded: Seeded) -> None:
    cfg = s3_config(seeded.cfg, s3, "three")
    state = ExportState()
    report = export_tick(cfg, now=NOW, state=state)
    assert report.failed and "NoSuchBucket" in report.failed[0][2]
    s3.client().create_bucket(Bucket="three")
    later = export_tick(cfg, now=NOW + 31, state=state)
    assert later.completed == report.planned
    assert data_ids(bucket_contents(s3, "three")) == seeded.ids()


def test_retry_command_delivers_now(
    tmp_path: Path, s3: S3Server, seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    from sitelens_tui.cli import main

    db = seeded.cfg.db
    store = f'url = "{db.url}"\nspool_dir = "{db.spool_dir}"' if db.url else f'path = "{db.path}"'
    toml = tmp_path / "c.toml"
    toml.write_text(
        f'[db]\n{store}\n[export]\nschedule_hours = 1\n[[export.destinations]]\ntype = "s3"\n'
        f'endpoint_url = "{s3.url}"\nbucket = "four"\naccess_key_id = "testing"\n'
        'secret_access_key = "testing"\n'
        'region = "us-east-1"\n'
    )
    cfg = seeded.cfg
    cfg.export = ExportConfig(
        schedule_hours=1, destinations=[{"type": "s3", "endpoint_url": s3.url, "bucket": "four", **KEYS}]
    )
    report = export_tick(cfg, now=NOW)
    assert main(["export-runs", "--config", str(toml)]) == 0
    listing = capsys.readouterr().out
    assert "failing" in listing and "NoSuchBucket" in listing
    assert f"{report.planned[0]}  pending        300 rows" in listing
    s3.client().create_bucket(Bucket="four")
    assert main(["export-runs", "--config", str(toml), "retry"]) == 0
    assert "delivered" in capsys.readouterr().out
    assert data_ids(bucket_contents(s3, "four")) == seeded.ids()
    assert main(["export-runs", "--config", str(toml)]) == 0
    assert f"{report.planned[0]}  done" in capsys.readouterr().out
