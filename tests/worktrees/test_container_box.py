"""`sandbox = "docker"` and `"podman"`: a ticket's commands run in a container that writes in its
worktree and nowhere else, reads no hidden secret and holds no capability, and that ends with them.

Real engines: podman as it is installed, and a private dockerd of this module's own (its own data
and exec folders, no bridge, no iptables), stopped by its pid. Skipped only where an engine is not
installed and CI is unset; under CI a missing engine fails."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.events import (
    AgentStarted,
    AttemptEnded,
    ErrorKind,
    Event,
    Outcome,
    SessionOpened,
    Status,
    TextDelta,
    ToolResult,
)
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS, containers
from tests.support.agents import sim_agent
from tests.support.engines import ENDED_WAIT_S
from tests.support.git import repository
from tests.support.patience import PATIENCE
from tests.support.streams import one_command
from tests.support.worktree_runs import run_in, tickets

START_WAIT_S = 60.0


async def test_a_boxed_command_writes_in_its_worktree_and_nowhere_else(
    engine: str, sim: SimServer, tmp_path: Path, scenario_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's command writes in its worktree; the home stays as it was (no marker), its SSH
    key reads empty, and root inside holds no capability."""
    home = Path("/var/tmp") / f"lfg-home-{secrets.token_hex(6)}"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE-KEY\n")
    (home / ".notes").write_text("NOTES\n")
    monkeypatch.setenv("HOME", str(home))
    command = (
        f"echo inside > inside.txt; echo marked > {home}/marker; cat {home}/.notes; "
        f"cat {home}/.ssh/id_ed25519; grep CapEff /proc/self/status; echo gitdir: {home} > .git; "
        "ls /etc/ssl/private; echo read"
    )
    model = one_command(scenario_dir, "boxed", command)
    try:
        defaults = f'sandbox = "{engine}"\nsetup = "echo set > .setup-ran"\n'
        events, outcomes, run_id = await run_in(
            sim, tmp_path, repository(tmp_path / "repo"), tmp_path / "h.db", defaults, model
        )
        marked = (home / "marker").exists()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}, events
    assert not marked, "the home was written"
    for ticket in ("one", "two"):
        tree = tmp_path / "trees" / run_id / ticket
        assert (tree / "inside.txt").read_text() == "inside\n"
        assert (tree / ".git").read_text().startswith(f"gitdir: {tmp_path / 'repo'}"), (
            "lfg's git is not led elsewhere"
        )
        assert (tree / ".setup-ran").read_text() == "set\n", "setup ran in the box, in the worktree"
        (result,) = [e for e in events if isinstance(e, ToolResult) and e.ticket == ticket]
        assert "Read-only file system" in result.output
        assert "NOTES" in result.output and "PRIVATE-KEY" not in result.output, result.output
        assert "CapEff:\t0000000000000000" in result.output, result.output
        assert "ls: cannot access '/etc/ssl/private'" in result.output, "no root-only file in the image"
        said = [e.message for e in events if type(e) is Status and e.ticket == ticket]
        assert any(m.startswith(f"sandbox {engine}: writes only in {tree}") for m in said), said


async def test_a_cancelled_boxed_ticket_leaves_no_container(
    engine: str, sim: SimServer, tmp_path: Path, scenario_dir: Path
) -> None:
    """Cancelled mid-command (its client killed), the ticket's container is gone too."""
    model = one_command(scenario_dir, "sleeper", "sleep 300")
    path = tickets(tmp_path, repository(tmp_path / "repo"), f'sandbox = "{engine}"\n', model)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    owner = f"label={containers.OWNER_LABEL}={containers._owner()}"
    listing = [engine, "ps", "-a", "-q", "--filter", owner]

    async def listed() -> str:
        done = await asyncio.to_thread(subprocess.run, listing, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    events: list[Event] = []
    async with Providers(sim=sim) as providers:
        run = Run(
            loaded.tickets, providers, Approvals(yes=True), [events.append], worktrees=tmp_path / "trees"
        )
        run.start()
        async with asyncio.timeout(START_WAIT_S * PATIENCE):
            while len((await listed()).split()) < 2:
                pass
        assert run.cancel("one") and run.cancel("two")
        outcomes = await run.wait()
    assert outcomes == {"one": Outcome.CANCELLED, "two": Outcome.CANCELLED}
    async with asyncio.timeout(START_WAIT_S * PATIENCE):
        while await listed():
            pass


async def test_a_coding_agent_completes_a_ticket_inside_the_box(engine: str, tmp_path: Path) -> None:
    """The sim ACP agent's whole process runs in the container (lfg's interpreter and package bound
    read-only): its ticket completes, and its container ends with it."""
    repo = repository(tmp_path / "repo")
    path = tmp_path / "tickets.toml"
    path.write_text(
        f'[defaults]\nprovider = "sim-acp"\nisolation = "worktree"\nworkdir = "{repo}"\n'
        f'sandbox = "{engine}"\n'
        '[[ticket]]\nid = "a"\nprompt = "hello"\nmodel = "hello:ttft_ms=0,tokens_per_s=0"\n'
    )
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    async with Providers() as providers:
        run = Run(
            loaded.tickets, providers, Approvals(yes=True), [events.append], worktrees=tmp_path / "trees"
        )
        run.start()
        outcomes = await run.wait()
    assert outcomes == {"a": Outcome.COMPLETED}, events
    said = [e.message for e in events if type(e) is Status]
    assert any(m.startswith(f"sandbox {engine}: writes only in") for m in said), said
    (started,) = [e.message for e in events if isinstance(e, AgentStarted)]
    assert "container_client.py" in started and '"--network", "host"' in started, started
    assert any(isinstance(e, TextDelta) for e in events)
    owner = f"label={containers.OWNER_LABEL}={containers._owner()}"
    listing = [engine, "ps", "-a", "-q", "--filter", owner]
    async with asyncio.timeout(START_WAIT_S * PATIENCE):
        while (
            await asyncio.to_thread(subprocess.run, listing, capture_output=True, text=True)
        ).stdout.strip():
            pass


async def test_sandbox_network_false_gives_the_container_no_network(
    engine: str, sim: SimServer, tmp_path: Path, scenario_dir: Path
) -> None:
    """The sim on 127.0.0.1 answers a boxed command on the host's network, and not with none (the
    container's own loopback has no listener)."""
    port = sim.url.rsplit(":", 1)[1].split("/")[0]
    command = (
        'python3 -c \'import socket; socket.create_connection(("127.0.0.1", '
        + port
        + '), timeout=5); print("reached")\' 2>&1 | tail -1'
    )
    model = one_command(scenario_dir, "network", command)
    for network, expected in (("true", "reached"), ("false", "Connection refused")):
        defaults = f'sandbox = "{engine}"\nsandbox_network = {network}\n'
        db = tmp_path / f"h-{network}.db"
        events, outcomes, _ = await run_in(
            sim, tmp_path, repository(tmp_path / f"r-{network}"), db, defaults, model
        )
        assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}, events
        for result in (e for e in events if isinstance(e, ToolResult)):
            assert expected in result.output, result.output


@pytest.mark.parametrize("engine", containers.ENGINES)
async def test_a_ticket_whose_engine_is_missing_or_silent_fails_saying_so(
    engine: str, sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No engine on PATH, or (docker) no daemon at DOCKER_HOST: the ticket fails in one line naming
    it, and nothing is asked of the model."""
    cases = [
        ("PATH", str(tmp_path / "empty"), f'sandbox = "{engine}" needs {engine}, which is not installed')
    ]
    if engine == "docker" and shutil.which("docker"):
        cases.append(
            (
                "DOCKER_HOST",
                f"unix://{tmp_path}/none.sock",
                'sandbox = "docker" needs a running docker daemon: ',
            )
        )
    for variable, value, said in cases:
        repo = repository(tmp_path / variable)
        with monkeypatch.context() as patched:
            patched.setenv(variable, value)
            containers._probe.cache_clear()
            try:
                events, outcomes, _ = await run_in(
                    sim,
                    tmp_path,
                    repo,
                    tmp_path / f"{variable}.db",
                    f'sandbox = "{engine}"\n',
                )
            finally:
                containers._probe.cache_clear()
        assert outcomes == {"one": Outcome.FAILED, "two": Outcome.FAILED}
        ended = next(e for e in events if isinstance(e, AttemptEnded))
        assert ended.error is not None and ended.error.kind is ErrorKind.SANDBOX
        assert ended.error.message.startswith(said) and "\n" not in ended.error.message, ended.error.message
    assert not sim.log


def test_containers_of_an_lfg_that_died_are_removed_at_the_next_start(engine: str) -> None:
    """A container labelled with an owner that is gone (a pid no process has) is removed when an lfg
    first uses the engine; one of a live lfg is kept."""
    assert containers._probe(engine) is None  # the image is there
    here = containers._owner().rsplit("/", 2)[0]
    name = f"lfg-test-stale-{secrets.token_hex(4)}"
    stale = [
        *(engine, "run", "-d", "--name", name, "--label", f"{containers.LABEL}=1"),
        *("--label", f"{containers.OWNER_LABEL}={here}/{2**22 + 1}/1"),
        *containers._limits(engine),
        *("-v", "/usr:/usr:ro", containers.IMAGE, "sleep", "300"),
    ]
    if engine == "podman" and shutil.which("runc"):
        stale[1:1] = ["--runtime", "runc"]
    subprocess.run(stale, capture_output=True, check=True)
    try:
        containers._probe.cache_clear()
        assert containers._probe(engine) is None
        left = subprocess.run(
            [engine, "ps", "-a", "-q", "--filter", f"name={name}"], capture_output=True, text=True
        )
        assert left.stdout.strip() == "", "the dead lfg's container was removed"
    finally:
        subprocess.run([engine, "rm", "-f", name], capture_output=True)


async def test_a_worktree_in_lfgs_own_hidden_folder_is_writable_and_the_rest_of_it_hidden(
    engine: str, sim: SimServer, tmp_path: Path, scenario_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worktrees where lfg keeps them by default, inside its data folder in the home, which the box
    hides: the ticket's own worktree is bound inside the hidden folder, and the history beside it
    stays unseen."""
    home = Path("/var/tmp") / f"lfg-home-{secrets.token_hex(6)}"
    data = home / ".local" / "share" / "lfgtui"
    (data / "worktrees").mkdir(parents=True)
    (data / "history.sqlite3").write_text("HISTORY\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    model = one_command(
        scenario_dir, "data", f"echo inside > inside.txt; cat {data}/history.sqlite3; ls {data}"
    )
    path = tickets(tmp_path, repository(tmp_path / "repo"), f'sandbox = "{engine}"\n', model)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    try:
        async with Providers(sim=sim) as providers:
            run = Run(
                loaded.tickets, providers, Approvals(yes=True), [events.append], worktrees=data / "worktrees"
            )
            run.start()
            outcomes = await run.wait()
        assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}, events
        for ticket in ("one", "two"):
            (tree,) = (data / "worktrees").glob(f"*/{ticket}")
            assert (tree / "inside.txt").read_text() == "inside\n"
            (result,) = [e for e in events if isinstance(e, ToolResult) and e.ticket == ticket]
            assert "HISTORY" not in result.output and "No such file" in result.output, result.output
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_box_writing_in_tmp_itself_runs_and_gives_back_its_exit_code(engine: str) -> None:
    """`/tmp` itself writable (an `additional_directories` entry): bound, not also a private tmpfs
    (the engines refuse two mounts at one place); and the command's exit code is the client's."""
    assert containers._probe(engine) is None
    box = containers.ContainerBox((Path("/tmp"),), engine=engine, ticket="tmp")
    marker = Path("/tmp") / f"lfg-box-{secrets.token_hex(4)}"
    try:
        done = subprocess.run(
            box.wrap(["/bin/sh", "-c", f"echo boxed > {marker}; exit 3"], Path("/tmp")),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120 * PATIENCE,
        )
        assert done.returncode == 3, done.stderr
        assert marker.read_text() == "boxed\n"
    finally:
        marker.unlink(missing_ok=True)


def test_a_box_starts_whatever_its_folders_and_the_sockets_in_them_are_named(
    engine: str, tmp_path: Path
) -> None:
    """A worktree whose path holds a colon, a comma, a quote and a space, and a Unix socket in it that
    an agent named `a:b` (before, `-v`'s spec could not carry a colon: the box of every later attempt
    in that tree failed to start): the command runs, writes there, and finds the socket covered."""
    assert containers._probe(engine) is None
    tree = tmp_path / 'odd: "tree", one'
    tree.mkdir()
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(tree / "a:b"))
    box = containers.ContainerBox((tree,), engine=engine, ticket="odd")
    try:
        done = subprocess.run(
            box.wrap(["/bin/sh", "-c", "echo boxed > inside.txt; test -S a:b || echo covered"], tree),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120 * PATIENCE,
        )
    finally:
        listening.close()
    assert done.returncode == 0, done.stderr
    assert (tree / "inside.txt").read_text() == "boxed\n"
    assert "covered" in done.stdout, done.stdout


async def test_an_agent_that_ignores_the_end_of_its_stdin_leaves_no_container(
    engine: str, tmp_path: Path
) -> None:
    """A boxed agent that stays after its stdin closes and ignores SIGTERM (which reaches only its
    engine's client, or docker's passed on): ended with its ticket or cancelled mid-turn, its
    container is still gone within `ENDED_WAIT_S`, and the pane's box line says it is killed."""
    repo = repository(tmp_path / "repo")
    traces = tmp_path / "traces"
    traces.mkdir()
    trace = traces / "eof.txt"
    trace.touch()
    path = tmp_path / "tickets.toml"
    path.write_text(
        f'[defaults]\nprovider = "sim-acp"\nisolation = "worktree"\nworkdir = "{repo}"\n'
        f'sandbox = "{engine}"\nadditional_directories = ["{traces}"]\n'
        '[[ticket]]\nid = "done"\nprompt = "hello"\nmodel = "hello:ttft_ms=0,tokens_per_s=0"\n'
        '[[ticket]]\nid = "cut"\nprompt = "hello"\nmodel = "hello:ttft_ms=600000"\n'
    )
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    deaf = ("/bin/sh", "-c", 'trap "" TERM; exec "$@"', "sh")  # SIGTERM ignored, through its exec
    lingering = BUILTIN["sim-acp"].with_agent(
        command=(*deaf, *sim_agent("--linger", str(trace)).config.agent.command)
    )
    owner = f"label={containers.OWNER_LABEL}={containers._owner()}"
    listing = [engine, "ps", "-a", "-q", "--filter", owner]

    async def listed() -> list[str]:
        done = await asyncio.to_thread(subprocess.run, listing, capture_output=True, text=True, check=True)
        return done.stdout.split()

    events: list[Event] = []
    async with Providers({"sim-acp": lingering}) as providers:
        run = Run(
            loaded.tickets, providers, Approvals(yes=True), [events.append], worktrees=tmp_path / "trees"
        )
        run.start()
        try:
            async with asyncio.timeout(START_WAIT_S * PATIENCE):
                while not any(isinstance(e, TextDelta) and e.ticket == "done" for e in events) or not any(
                    isinstance(e, SessionOpened) and e.ticket == "cut" for e in events
                ):
                    await asyncio.sleep(0.05)
        except TimeoutError:
            pytest.fail(f"done streamed no text, or cut's agent opened no session: {said(events)}")
        assert run.cancel("cut")
        outcomes = await run.wait()
    assert outcomes == {"done": Outcome.COMPLETED, "cut": Outcome.CANCELLED}, events
    assert trace.read_text().count("eof") == 2, "each agent stayed after its stdin closed"
    try:
        async with asyncio.timeout(ENDED_WAIT_S * PATIENCE):
            while await listed():
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"containers left: {await listed()}; {said(events)}")
    assert any(m.endswith(containers.KILLED) for m in said(events)), said(events)


def said(events: list[Event]) -> list[str]:
    """The statuses and errors of a run, to quote when it fails."""
    return [f"{e.ticket}: {e.message}" for e in events if type(e) is Status] + [
        f"{e.ticket}: {e}" for e in events if type(e) is AttemptEnded
    ]


@pytest.mark.parametrize("network", [True, False], ids=["network", "no-network"])
def test_no_unix_socket_bound_outside_answers_in_the_container(engine: str, network: bool) -> None:
    """The hostile agent's socket probe, in a container: a daemon's socket in a folder the box reads
    and one in its own worktree, both bound by a process outside, refuse it (each shows as an empty
    file); loopback answers with the network on only (as the pane says)."""
    assert containers._probe(engine) is None
    outside = Path("/var/tmp") / f"lfg-sockets-{secrets.token_hex(6)}"
    tree = outside / "tree"
    tree.mkdir(parents=True)
    paths = [outside / "daemon.sock", tree / "planted.sock"]
    listening = [socket.socket(socket.AF_UNIX) for _ in paths]
    tcp = socket.create_server(("127.0.0.1", 0))
    for each, path in zip(listening, paths, strict=True):
        each.bind(str(path))
        each.listen(1)
    probe = (
        "import socket\n"
        f"for name in {[str(path) for path in paths]!r}:\n"
        "    try:\n"
        "        socket.socket(socket.AF_UNIX).connect(name); print('reached', name)\n"
        "    except OSError as exc:\n"
        "        print('refused', name, exc)\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {tcp.getsockname()[1]}), timeout=5)\n"
        "    print('reached loopback')\n"
        "except OSError as exc:\n"
        "    print('refused loopback', exc)\n"
    )
    box = containers.ContainerBox(
        (tree,), readable=(outside,), network=network, engine=engine, ticket="sockets"
    )
    try:
        done = subprocess.run(
            box.wrap(["/usr/bin/python3", "-c", probe], tree),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120 * PATIENCE,
        )
    finally:
        for each in (*listening, tcp):
            each.close()
        shutil.rmtree(outside, ignore_errors=True)
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done
    assert lines[0].startswith("refused") and lines[1].startswith("refused"), lines
    assert lines[2].startswith("reached" if network else "refused"), lines


def test_a_socket_gone_before_the_container_starts_is_not_covered_and_the_rest_are(engine: str) -> None:
    """A socket found as the box was made and deleted before its client starts the container: the
    container starts all the same (the engine failed making the cover's mount point in a read-only
    folder), and the socket that stayed is still covered."""
    assert containers._probe(engine) is None
    outside = Path("/var/tmp") / f"lfg-gone-{secrets.token_hex(6)}"
    tree = outside / "tree"
    tree.mkdir(parents=True)
    kept, gone = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
    kept.bind(str(outside / "kept.sock"))
    kept.listen(1)
    gone.bind(str(outside / "gone.sock"))
    probe = f"import socket; socket.socket(socket.AF_UNIX).connect({str(outside / 'kept.sock')!r})"
    box = containers.ContainerBox((tree,), readable=(outside,), engine=engine, ticket="gone")
    argv = box.wrap(["/usr/bin/python3", "-c", probe], tree)
    assert str(outside / "gone.sock") in argv[-1], "covered as found"
    (outside / "gone.sock").unlink()
    gone.close()
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120 * PATIENCE
        )
    finally:
        kept.close()
        shutil.rmtree(outside, ignore_errors=True)
    assert "ConnectionRefusedError" in done.stdout, done  # a command's stderr is on its stdout


def test_the_container_gets_the_commands_own_environment_and_the_client_lfgs_settings(
    engine: str, tmp_path: Path
) -> None:
    """The engine's client is given lfg's own HOME (where a rootless podman keeps its images); the
    container the command's own, and none of the settings the command's environment lacks."""
    assert containers._probe(engine) is None
    box = containers.ContainerBox((tmp_path,), engine=engine, ticket="env")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    done = subprocess.run(
        box.wrap(["/bin/sh", "-c", 'echo "$HOME ${XDG_RUNTIME_DIR-none} ${DOCKER_HOST-none}"'], tmp_path),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=120 * PATIENCE,
    )
    assert done.returncode == 0, done
    said = done.stdout.split()
    assert said == [str(tmp_path), "none", "none"], said
