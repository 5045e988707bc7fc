"""`lfg run --publish`, `lfg attach redis://…/RUN --json` and `lfg runs` as subprocesses against a
real redis-server, and the errors a person gets for a broker they cannot use."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from lfgtui.broker.client import explain
from lfgtui.config.broker import BrokerSettings, resolve
from tests.support.fleet import eventually, gated_import
from tests.support.lfg import CLONE, Lfg, command
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer, TlsFiles

TICKETS = """
[defaults]
provider = "sim"

[[ticket]]
id = "slow"
prompt = "go"
model = "long-answer:tokens_per_s=400"

[[ticket]]
id = "quick"
prompt = "Say hello."
model = "hello"
"""


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    return Lfg(tmp_path)


def without_times(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines but for their times: an event's `t` and an attention line's `since` are on each
    reader's own clock."""
    return [{k: v for k, v in line.items() if k not in ("t", "since")} for line in lines]


def test_a_published_run_attached_from_the_broker_prints_the_same_ndjson(
    lfg: Lfg, redis_server: RedisServer
) -> None:
    code, local, err = lfg.run(lfg.tickets(TICKETS), "--publish", redis_server.url)
    assert code == 0, err
    watch = next(line for line in err.splitlines() if "watch it with: " in line).split("watch it with: ")[1]
    run_id = watch.rsplit(" ", 1)[1]
    assert watch == f"lfg attach {redis_server.url} {run_id}" and f"recorded as run {run_id}" in err
    attached = command(lfg, "attach", redis_server.url, run_id, "--json", "--config", str(lfg.config))
    assert attached.returncode == 0, attached.stderr
    remote = [json.loads(line) for line in attached.stdout.splitlines()]
    assert without_times(remote) == without_times(local) and len(local) > 20
    listed = command(lfg, "runs", "--json", env={"LFG_BROKER": redis_server.url})
    (run,) = json.loads(listed.stdout)
    assert run["run_id"] == run_id and run["states"] == {"completed": 2} and run["ended"] is not None
    table = command(lfg, "runs", "--broker", redis_server.url).stdout.splitlines()
    assert table[0].split() == ["id", "who", "host", "started", "ended", "states", "attention", "file"]
    assert table[1].startswith(run_id) and "2 completed" in table[1] and table[1].endswith("tickets.toml")


def test_a_wrong_password_and_no_password_are_said(
    lfg: Lfg, start_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = start_redis(password="right-password")
    wrong = command(lfg, "runs", "--broker", server.url, env={"LFG_BROKER_PASSWORD": "wrong"})
    assert wrong.returncode == 2
    assert "refused user 'default' with that password" in wrong.stderr and "Traceback" not in wrong.stderr
    missing = command(lfg, "runs", "--broker", server.url)
    assert missing.returncode == 2 and "needs a password: set $LFG_BROKER_PASSWORD" in missing.stderr
    (tmp_path / "password").write_text("right-password\n")
    lfg.config.write_text(f'[broker]\nurl = "{server.url}"\npassword_file = "{tmp_path / "password"}"\n')
    right = command(lfg, "runs", "--config", str(lfg.config))
    assert right.returncode == 0 and f"no runs on the broker at {server.url}" in right.stdout
    in_url = command(lfg, "runs", "--broker", f"redis://:right-password@127.0.0.1:{server.port}/0")
    assert in_url.returncode == 0 and f"no runs on the broker at {server.url}" in in_url.stdout
    assert "right-password" not in in_url.stdout + in_url.stderr


def test_a_tls_broker_asked_without_tls_says_to_use_rediss(
    lfg: Lfg, start_redis: Callable[..., RedisServer], tls_files: TlsFiles
) -> None:
    server = start_redis(tls=tls_files)
    plain = command(lfg, "runs", "--broker", f"redis://127.0.0.1:{server.port}")
    assert plain.returncode == 2 and "try rediss://" in plain.stderr, plain.stderr
    untrusted = command(lfg, "runs", "--broker", server.url)
    assert untrusted.returncode == 2 and "name its CA with [broker] ca_file" in untrusted.stderr
    lfg.config.write_text(f'[broker]\nca_file = "{tls_files.ca}"\n')
    trusted = command(lfg, "runs", "--broker", server.url, "--config", str(lfg.config))
    assert trusted.returncode == 0 and "no runs on the broker at rediss://" in trusted.stdout


def test_a_broker_that_is_not_there_stops_the_run_before_it_starts(
    lfg: Lfg, redis_server: RedisServer
) -> None:
    redis_server.stop()
    code, events, err = lfg.run(lfg.tickets(TICKETS), "--publish", redis_server.url)
    assert code == 2 and events == [] and f"cannot reach the broker at {redis_server.url}" in err
    attached = command(lfg, "attach", f"{redis_server.url}/0123456789ab", "--json")
    assert attached.returncode == 1 and "cannot reach the broker" in attached.stderr


def test_a_broker_gone_as_a_coordinator_starts_is_said_in_one_line(
    lfg: Lfg, redis_server: RedisServer, tmp_path: Path
) -> None:
    """The broker answered the coordinator's connection, then went away before it took the run's
    lease (held there by the lease's import, which waits for the test): before, a traceback."""
    gate, arrived = tmp_path / "gate", tmp_path / "arrived"
    launch = gated_import("lfgtui.broker.coordinator_lease", gate, arrived)
    launch += "from lfgtui.commands import lfg\nsys.exit(lfg())\n"
    args = lfg.args(lfg.tickets(TICKETS), "--json", "--broker", redis_server.url)
    process = subprocess.Popen(
        [sys.executable, "-c", launch, *args[3:]], env=lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        eventually(arrived.exists)
        redis_server.stop()
        gate.touch()
        out, err = process.communicate(timeout=60 * PATIENCE)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    said = err.decode()
    assert process.returncode == 2 and out == b"", said
    assert "Traceback" not in said and f"cannot reach the broker at {redis_server.url}" in said, said


def test_attach_names_a_run_the_broker_does_not_have(lfg: Lfg, redis_server: RedisServer) -> None:
    attached = command(lfg, "attach", f"{redis_server.url}/0123456789ab", "--json")
    assert attached.returncode == 1 and "has no run '0123456789ab'" in attached.stderr
    no_run = command(lfg, "attach", redis_server.url, "--json")
    assert no_run.returncode == 2 and f"lfg attach {redis_server.url} RUN" in no_run.stderr


def test_without_the_extra_the_broker_commands_say_what_to_install(lfg: Lfg) -> None:
    # As if redis-py were not installed: its import fails, as it does then.
    script = (
        "import sys; sys.modules['redis'] = None; from lfgtui.commands.main import main; "
        "sys.exit(main(['runs', '--broker', 'redis://127.0.0.1:1']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=lfg.env, capture_output=True, text=True, timeout=60 * PATIENCE
    )
    assert done.returncode == 2 and f"pip install -e '{CLONE}[broker]'" in done.stderr


def test_lfg_help_and_a_local_run_never_import_redis(lfg: Lfg) -> None:
    script = (
        "import sys, contextlib; from lfgtui.commands.main import main\n"
        "with contextlib.suppress(SystemExit): main(['--help'])\n"
        "with contextlib.suppress(SystemExit): main(['run', '--help'])\n"
        "code = main(sys.argv[1:])\n"
        "assert not [m for m in sys.modules if m == 'redis' or m.startswith('redis.')], 'redis imported'\n"
        "sys.exit(code)"
    )
    tickets = lfg.tickets(TICKETS)
    done = subprocess.run(
        [sys.executable, "-c", script, "run", str(tickets), "--json", "--config", str(lfg.config)],
        env=lfg.env,
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 0, done.stderr


def test_lfg_runs_asks_the_broker_without_importing_the_web_server(
    lfg: Lfg, redis_server: RedisServer
) -> None:
    # Issue #74: `lfg runs` imported aiohttp (the run's server, through the watcher's imports) before
    # it asked the broker anything, 2.6 s on a loaded machine; a watcher through the broker needs none.
    # Issue #77: nor does it follow a run: the attachment, the history's rows and the recorder are
    # another 0.2 s of CPU (broker/fleet_index.py reads the index). Nor a model call's retries: the
    # broker's client takes only their policy (run/retry.py), not the providers' errors and limits.
    following = ("lfgtui.broker.watch", "lfgtui.remote.attach", "lfgtui.remote.description", "httpx2")
    following += ("lfgtui.history.export", "lfgtui.history.recorder", "lfgtui.history.store")
    following += ("lfgtui.run.calls", "lfgtui.run.ratelimit", "lfgtui.providers.errors")
    script = (
        "import sys; from lfgtui.commands.main import main\n"
        "code = main(sys.argv[1:])\n"
        f"loaded = [m for m in ('aiohttp', 'lfgtui.remote.server', *{following!r}) if m in sys.modules]\n"
        "assert not loaded, f'imported {loaded}'\n"
        "assert 'lfgtui.broker.fleet_index' in sys.modules, 'the test sees imports'\n"
        "sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "runs", "--broker", redis_server.url],
        env=lfg.env,
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 0 and "no runs on the broker" in done.stdout, done.stderr


@pytest.mark.parametrize(
    ("metrics", "said"),
    [
        ("nope", "lfg worker: argument --metrics: 'nope': expected [HOST:]PORT, with a port from 0 to 65535"),
        ("0.0.0.0:0", "lfg: refusing to serve on 0.0.0.0: lfg speaks plain HTTP"),
    ],
)
def test_a_worker_refuses_metrics_it_cannot_serve_safely_before_taking_work(
    lfg: Lfg, metrics: str, said: str
) -> None:
    done = command(lfg, "worker", "--broker", "redis://127.0.0.1:1", "--metrics", metrics)
    assert done.returncode == 2 and done.stderr.startswith(said), done.stderr


def test_a_worker_without_prometheus_client_says_what_to_install(lfg: Lfg) -> None:
    script = (
        "import sys; sys.modules['prometheus_client'] = None; from lfgtui.commands.main import main; "
        "sys.exit(main(['worker', '--broker', 'redis://127.0.0.1:1', '--metrics', '0']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=lfg.env, capture_output=True, text=True, timeout=60 * PATIENCE
    )
    assert done.returncode == 2
    assert done.stderr == f"lfg: --metrics needs prometheus-client: pip install -e '{CLONE}[prometheus]'\n"


def test_one_oversize_field_in_the_run_index_is_cut_and_every_line_stays_short(
    lfg: Lfg, redis_server: RedisServer
) -> None:
    import redis

    from lfgtui.broker.layout import Layout

    client = redis.Redis(port=redis_server.port)
    layout = Layout()
    huge = "who\n\x1b[2J" + "w" * 200_000
    try:
        for run_id, who in (("a1b2c3d4e5f6", huge), ("0f1e2d3c4b5a", "bo")):
            fields = {"who": who, "host": "box", "title": "/x" * 50_000 + "/t.toml", "started": 1.0e9}
            client.hset(layout.run(run_id), mapping=fields)  # type: ignore[arg-type]
            client.zadd(layout.runs, {run_id: 1.0e9})
        said = {"host": "box", "serves": '{"providers": ["sim"]}', "error": huge, "error_at": 1.0e9}
        client.hset(layout.worker("w1"), mapping=said)  # type: ignore[arg-type]
        client.zadd(layout.workers, {"w1": 4.0e9})  # a worker's last error as any writer may put it
    finally:
        client.close()
    listed = command(lfg, "runs", "--broker", redis_server.url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 7 and max(map(len, lines)) < 300, [len(line) for line in lines]
    shown = next(line for line in lines if line.startswith("a1b2c3d4e5f6"))
    assert "who ␛[2Jwww" in shown and "w… " in shown and shown.endswith("/x/t.toml")
    worker = lines[-1]
    assert worker.startswith("w1 ") and "who ␛[2Jwww" in worker and worker.endswith("w…"), worker
    assert "\x1b" not in listed.stdout


def test_a_broker_that_asks_for_a_client_certificate_says_to_name_one(
    lfg: Lfg, start_redis: Callable[..., RedisServer], tls_files: TlsFiles, tmp_path: Path
) -> None:
    """A broker with `tls-auth-clients yes` and no certificate given: said as the files to name, not
    as the TLS alert it sent (issue #74)."""
    server = start_redis(tls=tls_files)
    client = redis.Redis(host="127.0.0.1", port=server.port, ssl=True, ssl_ca_certs=str(tls_files.ca))
    try:
        client.config_set("tls-auth-clients", "yes")  # from now on every client shows a certificate
    finally:
        client.close()
    lfg.config.write_text(f'[broker]\nca_file = "{tls_files.ca}"\n')
    missing = command(lfg, "runs", "--broker", server.url, "--config", str(lfg.config))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr, missing.stderr
    assert "asks for a client certificate" in missing.stderr, missing.stderr  # by its alert, or a reset
    assert "[broker] cert_file and key_file" in missing.stderr, missing.stderr
    stranger = TlsFiles.make(tmp_path / "stranger")  # signed by a CA the broker does not trust
    refused = command(
        lfg, "runs", "--broker", server.url, "--config", str(certified(lfg, tls_files, stranger))
    )
    assert refused.returncode == 2 and "refused this machine's client certificate" in refused.stderr
    given = command(
        lfg, "runs", "--broker", server.url, "--config", str(certified(lfg, tls_files, tls_files))
    )
    assert given.returncode == 0 and "no runs on the broker at rediss://" in given.stdout, given.stderr


def certified(lfg: Lfg, trusted: TlsFiles, mine: TlsFiles) -> Path:
    """The config naming the CA `trusted` and the client certificate of `mine`."""
    lfg.config.write_text(
        f'[broker]\nca_file = "{trusted.ca}"\ncert_file = "{mine.cert}"\nkey_file = "{mine.key}"\n'
    )
    return lfg.config


def test_a_tls_broker_that_resets_as_it_opens_is_said_as_a_client_certificate_it_asks_for(
    tls_files: TlsFiles,
) -> None:
    """Under TLS 1.3 a broker refusing the client's certificate sends its alert after the handshake;
    on a loaded CI machine the reset that follows reached the client first (redis-py's words below):
    said as the certificate to name, or the one it refused, not as a bare reset."""
    words = "Error while reading from 127.0.0.1:1 : (104, 'Connection reset by peer')"
    reset = redis.exceptions.ConnectionError(words)
    bare = resolve("rediss://127.0.0.1:1", {}, BrokerSettings(ca_file=tls_files.ca))
    said = explain(reset, bare, first=True)
    assert said is not None and "[broker] cert_file and key_file" in said and "asks for a client" in said
    mine = BrokerSettings(ca_file=tls_files.ca, cert_file=tls_files.cert, key_file=tls_files.key)
    said = explain(reset, resolve("rediss://127.0.0.1:1", {}, mine), first=True)
    assert said is not None and "refused this machine's client certificate" in said
    later = explain(reset, bare)
    assert later is not None and later.startswith("cannot reach the broker"), "a reset later is no refusal"
