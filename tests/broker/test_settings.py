"""Which broker and how to reach it: the URL, the password's sources, `[broker]` in config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.broker.settings import BrokerError, BrokerSettings, chosen_url, parse_url, resolve, url_problem
from lfgtui.config import load_config
from lfgtui.validation import ValidationError


def test_a_url_names_the_broker_its_user_and_for_attach_a_run() -> None:
    url = parse_url("rediss://alice@broker.example:6380/0123456789ab")
    assert (url.tls, url.host, url.port, url.username, url.run) == (
        True,
        "broker.example",
        6380,
        "alice",
        "0123456789ab",
    )
    assert url.where == "rediss://alice@broker.example:6380"
    assert parse_url("redis://[::1]").where == "redis://[::1]:6379"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("redis://:hunter2@h", "may not hold a password"),
        ("redis://bob:hunter2@h", "may not hold a password"),
        ("http://h:6379", "is not a broker URL"),
        ("redis://h:99999", "the port must be a number"),
        ("redis://h?db=2", "takes no ?query"),
        ("redis://h/a/b", "at most one run id"),
        ("redis://h/RUN", "names a run"),
    ],
)
def test_a_url_that_cannot_be_used_is_refused_saying_why(text: str, problem: str) -> None:
    said = url_problem(text)
    assert said is not None and problem in said and "hunter2" not in said


def test_the_url_comes_from_the_command_line_then_the_environment_then_the_config() -> None:
    settings = BrokerSettings(url="redis://config")
    assert chosen_url("redis://flag", {"LFG_BROKER": "redis://env"}, settings) == "redis://flag"
    assert chosen_url(None, {"LFG_BROKER": "redis://env"}, settings) == "redis://env"
    assert chosen_url(None, {}, settings) == "redis://config"


def test_the_password_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    settings = BrokerSettings(password_file=secret, password_env="TEAM_REDIS")
    assert resolve("redis://h", {"TEAM_REDIS": "from-env"}, settings).password == "from-env"
    assert resolve("redis://h", {}, settings).password == "from-file"
    assert "from-file" not in repr(resolve("redis://h", {}, settings))
    assert resolve("redis://h", {}, BrokerSettings()).password is None
    with pytest.raises(BrokerError, match="cannot read the broker's password file"):
        resolve("redis://h", {}, BrokerSettings(password_file=tmp_path / "absent"))


def test_broker_settings_are_read_from_config_toml_with_paths_beside_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[broker]\nurl = "rediss://b:6380"\nusername = "lfg"\nca_file = "ca.crt"\n'
        'max_len = 5000\nmax_age_s = 3600\nprefix = "team-a"\nqueue_bytes = 1000000\n'
    )
    broker = load_config(config).broker
    assert broker == BrokerSettings(
        url="rediss://b:6380",
        username="lfg",
        ca_file=tmp_path / "ca.crt",
        max_len=5000,
        max_age_s=3600,
        prefix="team-a",
        queue_bytes=1_000_000,
    )


def test_a_password_in_config_toml_is_refused_with_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[broker]\nurl = "redis://:pw@b"\npassword = "pw"\nmax_len = 0\n')
    with pytest.raises(ValidationError) as caught:
        load_config(config)
    said = str(caught.value)
    assert (
        f"{config}:2: [broker]: url must be a redis:// or rediss:// URL of a broker, with no password" in said
    )
    assert f"{config}:3: [broker]: 'password' is not allowed" in said
    assert f"{config}:4: [broker]: max_len must be an integer of at least 1" in said
