"""`sandbox = "bwrap"`: a ticket's `run_command` writes in its worktree and nowhere else."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest

from lfgtui.events import AttemptEnded, ErrorKind, Outcome, Status, ToolResult
from lfgtui.sim.server import SimServer
from lfgtui.tools.sandbox import unavailable
from tests.support.git import commit_all, repository
from tests.support.streams import write_scenario
from tests.support.worktree_runs import run_in


def _escaping(escape: Path, repo: Path, outside: Path) -> str:
    """A scenario whose one command writes in the worktree, then tries the person's checkout, a
    folder beside it and /var/tmp; and one that reads the network's state."""
    command = (
        f"echo inside > inside.txt; echo $?; echo out > {repo}/escape.txt; echo out > {outside}/escape.txt; "
        f"echo out > {escape}; echo gitdir: {outside} > .git; echo done"
    )
    return (
        'ttft_ms = 1\ntokens_per_s = 1000\n[[call]]\ntext = "trying"\n'
        '[[call.tool_call]]\nname = "run_command"\n'
        f"arguments = {{ command = {command!r} }}\n".replace("'", '"')
        + '[[call]]\ntext = "done"\n'
    )


async def test_a_sandboxed_command_writes_in_its_worktree_and_nowhere_else(
    sim: SimServer, tmp_path: Path, scenario_dir: Path
) -> None:
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    repo = repository(tmp_path / "repo")
    (repo / ".gitignore").write_text(".env\n")
    (repo / ".worktreeinclude").write_text(".env\n")
    commit_all(repo, "include .env")
    (repo / ".env").write_text("KEY=1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    escape = Path("/var/tmp") / f"lfg-escape-{secrets.token_hex(6)}"
    model = write_scenario(scenario_dir, "escaper", _escaping(escape, repo, outside))
    defaults = 'sandbox = "bwrap"\nsetup = "ls notes 2>/dev/null | wc -l >> .setup-runs"\n'
    (repo / ".gitignore").write_text(".env\n.setup-runs\n")
    commit_all(repo, "ignore the count")
    try:
        events, outcomes, run_id = await run_in(sim, tmp_path, repo, tmp_path / "h.sqlite3", defaults, model)
    finally:
        escaped = escape.exists()
        escape.unlink(missing_ok=True)
    assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}
    assert not escaped, "nothing was written on the disk outside /tmp"
    assert not (repo / "escape.txt").exists() and not (outside / "escape.txt").exists()
    for ticket in ("one", "two"):
        tree = tmp_path / "trees" / run_id / ticket
        assert (tree / ".env").read_text() == "KEY=1\n"
        assert (tree / ".setup-runs").read_text().split() == ["0"]
        assert (tree / "inside.txt").read_text() == "inside\n"
        assert (tree / ".git").read_text().startswith(f"gitdir: {repo}"), "lfg's git is not led elsewhere"
        (result,) = [e for e in events if isinstance(e, ToolResult) and e.ticket == ticket]
        assert "Read-only file system" in result.output
        said = [e.message for e in events if type(e) is Status and e.ticket == ticket]
        assert any(m.startswith(f"sandbox bwrap: writes only in {tree}") for m in said)


async def test_a_ticket_whose_sandbox_cannot_be_made_fails_without_running(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without bubblewrap on PATH: the ticket fails saying so, and nothing is asked of the model."""
    from lfgtui.tools import sandbox

    repo = repository(tmp_path / "repo")
    sandbox._probe.cache_clear()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    try:
        events, outcomes, _ = await run_in(sim, tmp_path, repo, tmp_path / "h.sqlite3", 'sandbox = "bwrap"\n')
    finally:
        sandbox._probe.cache_clear()
    assert outcomes == {"one": Outcome.FAILED, "two": Outcome.FAILED}
    ended = next(e for e in events if isinstance(e, AttemptEnded))
    assert ended.error is not None and ended.error.kind is ErrorKind.SANDBOX
    assert "needs bubblewrap, which is not installed" in ended.error.message
    assert not sim.log


async def test_sandbox_network_false_cuts_the_commands_network(
    sim: SimServer, tmp_path: Path, scenario_dir: Path
) -> None:
    """The sim on 127.0.0.1 is reached from the sandbox, and not once the network is cut (a network
    namespace of its own: its loopback has no listener)."""
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    port = sim.url.rsplit(":", 1)[1].split("/")[0]
    command = (
        'python3 -c \'import socket; socket.create_connection((\\"127.0.0.1\\", '
        + port
        + '), timeout=5); print(\\"reached\\")\' 2>&1 | tail -1'
    )
    scenario = (
        'ttft_ms = 1\ntokens_per_s = 1000\n[[call]]\ntext = "trying"\n'
        f'[[call.tool_call]]\nname = "run_command"\narguments = {{ command = "{command}" }}\n'
        '[[call]]\ntext = "done"\n'
    )
    model = write_scenario(scenario_dir, "network", scenario)
    repo = repository(tmp_path / "repo")
    for network, expected in (("true", "reached"), ("false", "Connection refused")):
        db = tmp_path / f"h-{network}.sqlite3"
        defaults = f'sandbox = "bwrap"\nsandbox_network = {network}\n'
        events, outcomes, _ = await run_in(sim, tmp_path, repo, db, defaults, model)
        assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}
        (result, _) = [e for e in events if isinstance(e, ToolResult)]
        assert expected in result.output, result.output


async def test_a_sandboxed_command_cannot_read_the_homes_keys(
    sim: SimServer, tmp_path: Path, scenario_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sandbox_home` at its default: the model's command reads the home's settings, but not its SSH
    key nor another project's `.env`."""
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    home = Path("/var/tmp") / f"lfg-home-{secrets.token_hex(6)}"  # under /tmp the sandbox hides it anyway
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE-KEY\n")
    (home / ".notes").write_text("NOTES\n")
    (home / "other-proj").mkdir()
    (home / "other-proj" / ".env").write_text("OTHER-ENV\n")
    monkeypatch.setenv("HOME", str(home))
    command = f"cat {home}/.notes; cat {home}/.ssh/id_ed25519; cat {home}/other-proj/.env; echo read"
    scenario = (
        'ttft_ms = 1\ntokens_per_s = 1000\n[[call]]\ntext = "reading"\n'
        f'[[call.tool_call]]\nname = "run_command"\narguments = {{ command = "{command}" }}\n'
        '[[call]]\ntext = "done"\n'
    )
    model = write_scenario(scenario_dir, "reader", scenario)
    try:
        for home_rule, key_read in (("", False), ('sandbox_home = "readable"\n', True)):
            db = tmp_path / f"h-{bool(home_rule)}.sqlite3"
            events, outcomes, _ = await run_in(
                sim,
                tmp_path,
                repository(tmp_path / f"r{bool(home_rule)}"),
                db,
                f'sandbox = "bwrap"\n{home_rule}',
                model,
            )
            assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}
            for result in (e for e in events if isinstance(e, ToolResult)):
                assert "NOTES" in result.output and "read" in result.output
                assert ("PRIVATE-KEY" in result.output) is key_read, result.output
                assert ("OTHER-ENV" in result.output) is key_read, result.output
            said = [e.message for e in events if type(e) is Status]
            assert any(
                ("keys, tokens, lfg's own files and other projects hidden" in m) is not key_read for m in said
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def test_a_sandboxed_setup_run_as_root_cannot_plant_a_hook_in_the_repository(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 72: bwrap started by root kept every capability, and a `setup` remounted the
    repository's `.git` writable and planted a `post-checkout` hook that ran on the person's next
    checkout. Now the remount is refused, so the hook never lands (as a normal user it never could)."""
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    repo = repository(tmp_path / "repo")
    hook = repo / ".git" / "hooks" / "post-checkout"
    setup = f"mount -o remount,rw,bind {repo / '.git'} 2>&1; echo planted > {hook}; true"
    _, outcomes, _ = await run_in(
        sim, tmp_path, repo, tmp_path / "h.sqlite3", f'sandbox = "bwrap"\nsetup = "{setup}"\n'
    )
    assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}
    assert not hook.exists(), "the person's repository has no hook of the box's making"


async def test_a_sandboxed_command_cannot_read_a_history_at_a_custom_path(
    sim: SimServer, tmp_path: Path, scenario_dir: Path
) -> None:
    """`--db` anywhere (here beside the project, outside the home): the history, its -wal and -shm
    are hidden from the box, even with `sandbox_home = "readable"`, which hides nothing else."""
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    folder = Path("/var/tmp") / f"lfg-db-{secrets.token_hex(6)}"  # under /tmp the sandbox hides it anyway
    folder.mkdir()
    db = folder / "history.sqlite3"
    reads = (
        f"head -c 15 {db} 2>&1; echo",
        *(f"head -c 4 {db}{end} 2>/dev/null | wc -c" for end in ("-wal", "-shm")),
    )
    command = "; ".join((*reads, "echo read"))
    scenario = (
        'ttft_ms = 1\ntokens_per_s = 1000\n[[call]]\ntext = "reading"\n'
        f'[[call.tool_call]]\nname = "run_command"\narguments = {{ command = "{command}" }}\n'
        '[[call]]\ntext = "done"\n'
    )
    model = write_scenario(scenario_dir, "history-reader", scenario)
    try:
        defaults = 'sandbox = "bwrap"\nsandbox_home = "readable"\n'
        events, outcomes, _ = await run_in(sim, tmp_path, repository(tmp_path / "repo"), db, defaults, model)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}
    results = [e.output for e in events if isinstance(e, ToolResult)]
    assert len(results) == 2
    for output in results:
        assert "SQLite format" not in output and "\n0\n0\nread\n" in output, output
