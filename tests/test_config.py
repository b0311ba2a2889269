"""Configuration: defaults, TOML file, SITELENS_* environment and flags, in that order of precedence."""

from __future__ import annotations

import pytest

from collector.config import ConfigError, load_config


def test_defaults_work_without_any_file(tmp_path):
    cfg = load_config(env={})
    assert (cfg.server.host, cfg.server.port) == ("127.0.0.1", 8765)
    assert cfg.db_path.name == "sitelens.db"
    assert cfg.retention.raw_days == 90 and cfg.db.flush_interval_s == 1.0


def test_file_then_env_then_flags(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n[db]\npath = "file.db"\n[[sites]]\nname = "example.com"\n')
    cfg = load_config(f, env={"SITELENS_PORT": "9100", "SITELENS_THROTTLE__BASE_RATE": "2.5"},
                      overrides={"db.path": "flag.db"})
    assert cfg.server.host == "0.0.0.0" and cfg.server.port == 9100
    assert cfg.throttle.base_rate == 2.5 and cfg.db.path == "flag.db"
    assert cfg.site_names == {"example.com"}


def test_config_path_from_environment(tmp_path):
    f = tmp_path / "env.toml"
    f.write_text("[privacy]\nstore_ip = true\n")
    assert load_config(env={"SITELENS_CONFIG": str(f)}).privacy.store_ip is True


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[server]\nprot = 1\n", {}, "server: unknown setting 'prot'"),
        ("[nope]\n", {}, "unknown section [nope]"),
        ("[server\n", {}, "not valid TOML"),
        ("[db]\nflush_count = 0\n", {}, "must be positive"),
        ("", {"SITELENS_PORT": "http"}, "SITELENS_PORT: expected an integer"),
        ("", {"SITELENS_NOPE__X": "1"}, "SITELENS_NOPE__X: no setting nope.x"),
        ("[server]\ntrusted_proxies = ['nope']\n", {}, "is not an IP address or CIDR"),
    ],
)
def test_bad_configuration_is_a_clear_error(tmp_path, text, env, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_config(f, env=env)
    assert message in str(err.value)


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml", env={})


def test_float_settings_take_fractions_and_ints_from_file_and_environment(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text("[export]\nschedule_hours = 0.5\ndirectory = 'out'\n[throttle]\nbase_rate = 3\n")
    cfg = load_config(f, env={})
    assert cfg.export.schedule_hours == 0.5 and cfg.throttle.base_rate == 3
    assert load_config(env={"SITELENS_EXPORT__SCHEDULE_HOURS": "0.25"}).export.schedule_hours == 0.25
    f.write_text("[export]\nschedule_hours = 'often'\n")
    with pytest.raises(ConfigError, match=r"export.schedule_hours: expected float, got str 'often'"):
        load_config(f, env={})
