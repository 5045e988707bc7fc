"""Which broker and how to reach it: the URL, the password's sources, `[broker]` in config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.config.broker import BrokerError, BrokerSettings, chosen_url, parse_url, resolve, url_problem
from lfgtui.config.load import load_config
from lfgtui.config.validation import ValidationError


def test_a_url_names_the_broker_its_user_and_for_attach_a_run() -> None:
    url = parse_url("rediss://alice@broker.example:6380/0123456789ab")
    assert (url.tls, url.host, url.port, url.username, url.db, url.run) == (
        True,
        "broker.example",
        6380,
        "alice",
        0,
        "0123456789ab",
    )
    assert url.where == "rediss://alice@broker.example:6380"
    assert parse_url("redis://[::1]").where == "redis://[::1]:6379"


@pytest.mark.parametrize(
    ("text", "db", "run"),
    [
        ("redis://h:6379/0", 0, ""),
        ("redis://h:6379/", 0, ""),
        ("redis://h/3", 3, ""),
        ("redis://h/3#0123456789ab", 3, "0123456789ab"),
        ("redis://h#0123456789ab", 0, "0123456789ab"),
        ("redis://h/0123456789ab", 0, "0123456789ab"),
        ("redis://h/012345678901", 0, "012345678901"),  # a run id of digits only is still a run
    ],
)
def test_a_url_path_of_digits_is_the_database_and_the_run_is_its_fragment_or_any_other_path(
    text: str, db: int, run: str
) -> None:
    url = parse_url(text)
    assert (url.db, url.run) == (db, run)
    assert url_problem(text) is None if not run else "names a run" in (url_problem(text) or "")


def test_a_password_in_the_url_is_used_and_never_shown() -> None:
    url = parse_url("rediss://bob:hun%40ter2@h:6380/2")
    assert (url.username, url.password, url.db) == ("bob", "hun@ter2", 2)
    assert url.where == "rediss://bob@h:6380/2" and "hun" not in repr(url)
    broker = resolve("redis://:hunter2@h", {"LFG_BROKER_PASSWORD": "other"}, BrokerSettings())
    assert broker.password == "hunter2" and broker.username is None, "the URL's password wins"
    assert "hunter2" not in repr(broker) and "hunter2" not in broker.where


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("http://bob:hunter2@h:6379", "is not a broker URL"),
        ("redis://bob:hunter2@h:99999", "the port must be a number"),
        ("redis://:hunter2@:6379", "names no host"),
        ("redis://h?password=hunter2", "takes no ?query"),
        ("redis://h/0?password=hunter2#r", "takes no ?query"),
        ("redis://:hunter2@h/a/b", "at most a database number"),
        ("redis://bob:hunter2@h/RUN", "names a run"),
        ("redis://bob:hunter2@h/3#RUN", "names a run"),
        ("redis://h/RUN#OTHER", "names two runs"),
        ("redis://bob:hun/ter2@h", "an @ after the host"),
        ("redis://bob:hun#ter2@h", "an @ after the host"),
        ("redis://:hunter2?x@h", "an @ after the host"),
    ],
)
def test_a_url_that_cannot_be_used_is_refused_saying_why(text: str, problem: str) -> None:
    said = url_problem(text)
    assert said is not None and problem in said and "hunter2" not in said and "ter2" not in said


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
    config.write_text('[broker]\nurl = "redis://:pw@b/RUN"\npassword = "pw"\nmax_len = 0\n')
    with pytest.raises(ValidationError) as caught:
        load_config(config)
    said = str(caught.value)
    assert f"{config}:2: [broker]: url 'redis://:***@b/RUN' names a run (RUN)" in said
    assert f"{config}:3: [broker]: 'password' is not allowed" in said
    assert f"{config}:4: [broker]: max_len must be an integer of at least 1" in said
    assert ":pw@" not in said
