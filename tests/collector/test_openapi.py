"""GET /api/openapi.json describes the real routes, and schemathesis finds no 5xx and no answer off the schema."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from collector.app import create_app
from collector.config import Config, SiteConfig
from tests.collector.live import LiveCollector, live_collector

INGEST_TOKEN = "openapi-ingest-token"
CASES_PER_OPERATION = 20
"""Examples schemathesis tries per operation: ~10 operations, a few seconds in all."""
CASES: Counter[str] = Counter()
"""Requests schemathesis sent per operation; printed when the module's collector stops (`pytest -s`)."""


async def test_the_document_lists_exactly_the_routes_the_collector_serves(aiohttp_client, cfg):
    client = await aiohttp_client(create_app(cfg))
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    served = {
        (route.method, route.resource.canonical)
        for route in client.server.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert documented == served
    for path in ("/sl.js", "/api/event", "/p.gif", "/api/ingest", "/api/stats", "/api/export", "/api/anomalies",
                 "/healthz", "/api/openapi.json"):
        assert path in doc["paths"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCollector]:
    """A collector with one site and an ingest token, throttling off (it is tested on its own)."""
    cfg = Config.for_tests(Path(tmp_path_factory.mktemp("openapi")) / "sitelens.db")
    cfg.sites = [SiteConfig(name="example.com", ingest_token=INGEST_TOKEN)]
    cfg.throttle.enabled = False
    with live_collector(cfg) as collector:
        yield collector
    print("\nschemathesis cases per operation:", ", ".join(f"{op} {n}" for op, n in sorted(CASES.items())))


@pytest.fixture(scope="module")
def api_schema(live: LiveCollector) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live.url}/api/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=CASES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_conforms_to_its_document(case: schemathesis.Case, live: LiveCollector) -> None:
    CASES[f"{case.method} {case.path}"] += 1
    token = INGEST_TOKEN if case.path == "/api/ingest" else live.cfg.auth.admin_token
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
