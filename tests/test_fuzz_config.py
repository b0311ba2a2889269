"""Property tests for the config loader: any TOML document or SITELENS_* variable is a Config or a ConfigError."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.config import Config, ConfigError, apply_env, config_from_mapping, load_config, validate

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
SECTIONS = ["server", "db", "privacy", "geoip", "auth", "throttle", "retention", "anomalies", "export", "sites",
            "funnels", "bogus"]
KEYS = ["host", "port", "trusted_proxies", "max_body_bytes", "path", "flush_interval_s", "flush_count", "queue_max",
        "store_ip", "session_timeout_s", "admin_token", "enabled", "base_rate", "burst", "raw_days", "rules",
        "metric", "window_s", "warning", "name", "origins", "ingest_token", "steps", "schedule_hours", "x"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=20),
                    st.sampled_from(["10.0.0.0/8", "not-an-ip", "example.com", "pageviews"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)), max_leaves=10)
documents = st.dictionaries(st.sampled_from(SECTIONS), values, max_size=5)


def builds_or_says_why(data: dict[str, object]) -> None:
    try:
        cfg = config_from_mapping(data, source="fuzz.toml")
        validate(cfg)
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(cfg, Config)


@FUZZ
@given(data=documents)
@example(data={"anomalies": 5})
@example(data={"anomalies": {"rules": 5}})
@example(data={"sites": 7})
@example(data={"funnels": "abc"})
@example(data={"db": {"flush_interval_s": math.nan}})
@example(data={"server": {"port": 2**40}})
@example(data={"sites": [{"name": "a"}, {"name": "a"}]})
def test_any_parsed_document_is_a_config_or_a_config_error(data: dict[str, object]) -> None:
    builds_or_says_why(data)


toml_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.tuples(st.sampled_from(SECTIONS), st.sampled_from(KEYS), st.sampled_from(
        ['1', '"x"', "true", "[1, 2]", "nan", "inf", "-1", "1e999", "{ a = 1 }", "[[1]]", "'10.0.0.0/8'"])), max_size=6)
    .map(lambda rows: "\n".join(f"[{s}]\n{k} = {v}" for s, k, v in rows)),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
)


@FUZZ
@given(text=toml_text)
@example(text="[[sites]]\nname = 5\n")
@example(text="[server]\nport = nan\n")
def test_any_config_file_loads_or_fails_with_a_config_error(tmp_path_factory, text: str) -> None:
    path = Path(tmp_path_factory.mktemp("cfg")) / "sitelens.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        cfg = load_config(path, env={})
    except ConfigError as exc:
        assert str(exc)
        return
    assert isinstance(cfg, Config)


@FUZZ
@given(env=st.dictionaries(
    st.one_of(st.sampled_from(["SITELENS_DB", "SITELENS_PORT", "SITELENS_STORE_IP", "SITELENS_SERVER__PORT",
                               "SITELENS_THROTTLE__BURST", "SITELENS_NOPE__X", "SITELENS_SERVER__NOPE",
                               "SITELENS_DB__QUEUE_MAX", "SITELENS_SERVER__TRUSTED_PROXIES", "SITELENS___"]),
              st.text(max_size=20).map(lambda s: "SITELENS_" + s)),
    st.text(max_size=20), max_size=4))
def test_any_environment_is_applied_or_refused_with_a_config_error(env: dict[str, str]) -> None:
    try:
        cfg = apply_env(Config(), env)
        validate(cfg)
    except ConfigError as exc:
        assert str(exc)
