"""Sentinels and a primary that ask for passwords, as teams run them: the primary's and replica's
`requirepass` with an ACL user for lfg on both, and the sentinels' own `requirepass` (given to lfg
as `$LFG_SENTINEL_PASSWORD`). Real processes: a primary, a replica, three sentinels."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lfgtui.broker.client import connect
from lfgtui.config.broker import BrokerError, BrokerSettings, resolve
from tests.support.fleet import until
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.topologies import Locks, SentinelSet

ADMIN_PASSWORD = "adm1n-Secret-4e7"
USER_PASSWORD = "us3r-Secret-8b2"
SENTINEL_PASSWORD = "s3ntinel-Secret-9f1"
WATCHER_PASSWORD = "w4tcher-Secret-2d6"
SECRETS = (ADMIN_PASSWORD, USER_PASSWORD, SENTINEL_PASSWORD, WATCHER_PASSWORD)
LOCKS = Locks(
    password=ADMIN_PASSWORD,
    user=("lfg", USER_PASSWORD),
    sentinel_password=SENTINEL_PASSWORD,
    sentinel_user=("watcher", WATCHER_PASSWORD),
)
PASSWORDS = {"LFG_BROKER_PASSWORD": USER_PASSWORD, "LFG_SENTINEL_PASSWORD": SENTINEL_PASSWORD}


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[SentinelSet]:
    found = SentinelSet.start(tmp_path / "sentinel", LOCKS)
    yield found
    found.stop()


def test_the_sentinels_password_comes_from_its_variable_or_file_never_from_the_url(tmp_path: Path) -> None:
    url = "redis+sentinel://lfg:primary@s1,s2/mymaster"
    from_env = resolve(url, {"LFG_SENTINEL_PASSWORD": "sentinels"}, BrokerSettings())
    assert (from_env.password, from_env.sentinel_password) == ("primary", "sentinels")
    (tmp_path / "sentinel.pw").write_text("from-file\n")
    settings = BrokerSettings(sentinel_password_env="OURS", sentinel_password_file=tmp_path / "sentinel.pw")
    assert resolve(url, {"LFG_SENTINEL_PASSWORD": "ignored"}, settings).sentinel_password == "from-file"
    assert resolve(url, {"OURS": "named"}, settings).sentinel_password == "named"
    assert resolve("redis://h", {"LFG_SENTINEL_PASSWORD": "x"}, BrokerSettings()).sentinel_password is None
    with pytest.raises(BrokerError) as refused:
        resolve(url + "?sentinel_password=" + SENTINEL_PASSWORD, {}, BrokerSettings())
    assert "$LFG_SENTINEL_PASSWORD or [broker] sentinel_password_file" in str(refused.value)
    assert SENTINEL_PASSWORD not in str(refused.value) and "primary" not in str(refused.value)


def as_lfg(sentinels: SentinelSet) -> str:
    """The set's URL with lfg's ACL user in it (its password comes from the environment)."""
    return sentinels.url.replace("://", "://lfg@", 1)


async def test_an_acl_user_reaches_the_primary_behind_locked_sentinels_and_follows_their_switch(
    locked: SentinelSet,
) -> None:
    """The sentinels are asked as their own ACL user with its password (the primary's user and
    password would be refused there), and so is the `+switch-master` listener: after `SENTINEL
    FAILOVER` of a primary that stays up, the client's connection to it is closed at the sentinels'
    word."""
    old = locked.admin(locked.primary.port)
    old.execute_command("ACL", "SETUSER", "default", "-replicaof", "-slaveof")
    watcher = BrokerSettings(sentinel_username="watcher")
    broker = resolve(as_lfg(locked), PASSWORDS | {"LFG_SENTINEL_PASSWORD": WATCHER_PASSWORD}, watcher)
    client = await connect(broker)
    new = locked.admin(locked.replica.port)
    try:
        assert await client.acl_whoami() == "lfg"
        await client.set("lfg:before", "1")
        # replicated before the switch: a write the replica had not had yet is lost in a failover (a CI
        # run's was), which is Redis's to answer for, not lfg's
        await until(lambda: new.get("lfg:before") == "1")
        locked.promote()
        await until(lambda: not [c for c in old.client_list() if c["name"] == "lfg"])
        watchers = [c for sentinel in locked.sentinels for c in sentinel.clients()]
        assert {c["user"] for c in watchers if c["name"] == "lfg"} == {"watcher"}, (
            "asked as the sentinels' user"
        )
        await client.set("lfg:after", "2")
    finally:
        await client.aclose()
    try:
        assert (new.get("lfg:before"), new.get("lfg:after"), old.get("lfg:after")) == ("1", "2", None)
    finally:
        new.close()
        old.close()


def lfg_runs(lfg: Lfg, url: str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lfgtui", "runs", "--broker", url, "--config", str(lfg.config), *extra],
        env=lfg.env | env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60 * PATIENCE,
    )


def test_a_refused_password_is_one_line_naming_the_side_that_refused_and_never_the_password(
    tmp_path: Path, locked: SentinelSet
) -> None:
    lfg = Lfg(tmp_path)
    url = as_lfg(locked)
    where = url  # its password is not in it: the environment gives it
    cases = {
        "no sentinel password": (
            {"LFG_BROKER_PASSWORD": USER_PASSWORD},
            re.escape(f"the sentinels at {where} need a password of their own: set $LFG_SENTINEL_PASSWORD"),
        ),
        "a wrong sentinel password": (
            PASSWORDS | {"LFG_SENTINEL_PASSWORD": USER_PASSWORD},
            rf"the sentinel at 127\.0\.0\.1:({'|'.join(str(one.port) for one in locked.sentinels)}) "
            rf"\(of {re.escape(where)}\) refused user 'default' with the sentinels' password from "
            r"\$LFG_SENTINEL_PASSWORD",
        ),
        "a wrong password of the primary's user": (
            PASSWORDS | {"LFG_BROKER_PASSWORD": SENTINEL_PASSWORD},
            re.escape(f"the primary 'mymaster' that the sentinels at {where} name refused user 'lfg' ")
            + "with that password",
        ),
    }
    for case, (env, said) in cases.items():
        done = lfg_runs(lfg, url, env)
        assert done.returncode == 2, f"{case}: {done.stderr}"
        assert re.match(f"lfg: {said}", done.stderr), f"{case}: {done.stderr}"
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, f"{case}: {done.stderr}"
        for secret in SECRETS:
            assert secret not in done.stdout + done.stderr, f"{case} printed a password"
    tickets = lfg.tickets('[[ticket]]\nid = "hi"\nprovider = "sim"\nprompt = "x"\nmodel = "hello"\n')
    env, said = cases["a wrong sentinel password"]
    stopped = subprocess.run(
        lfg.args(tickets, "--json", "--publish", url),
        env=lfg.env | env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert stopped.returncode != 0 and re.match(f"lfg: {said}", stopped.stderr), stopped.stderr
    assert "Traceback" not in stopped.stderr, stopped.stderr
    assert stopped.stdout == "", f"the run stopped before it started: {stopped.stdout}"


@pytest.mark.timeout(120)
def test_a_run_published_through_locked_sentinels_is_listed_and_watched_and_no_password_is_anywhere(
    tmp_path: Path, locked: SentinelSet
) -> None:
    lfg = Lfg(tmp_path)
    url = as_lfg(locked)
    tickets = lfg.tickets('[[ticket]]\nid = "hi"\nprovider = "sim"\nprompt = "x"\nmodel = "hello"\n')
    published = subprocess.run(
        lfg.args(tickets, "--json", "--publish", url),
        env=lfg.env | PASSWORDS,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert published.returncode == 0, published.stderr
    told = re.search(r"watch it with: lfg attach \S+ ([0-9a-f]{12})", published.stderr)
    assert told is not None, published.stderr
    run_id = told[1]
    listed = lfg_runs(lfg, url, PASSWORDS, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [run["run_id"] for run in json.loads(listed.stdout)] == [run_id]
    table = lfg_runs(lfg, url, PASSWORDS)
    assert run_id in table.stdout, table.stderr
    watched = subprocess.run(
        [sys.executable, "-m", "lfgtui", "attach", url, run_id, "--json", "--config", str(lfg.config)],
        env=lfg.env | PASSWORDS,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert watched.returncode == 0, watched.stderr
    assert any(json.loads(line)["type"] == "attempt_ended" for line in watched.stdout.splitlines())
    said = [done.stdout + done.stderr for done in (published, listed, table, watched)]
    files = [path for path in lfg.home.rglob("*") if path.is_file()]
    assert any(path.suffix == ".sqlite3" or "history" in path.name for path in files), files
    for secret in SECRETS:
        assert not [text for text in said if secret in text], "a password was printed"
        assert not [path for path in files if secret.encode() in path.read_bytes()], "a password was stored"
