"""A coding agent boxed by `sandbox = "bwrap"` starts wherever it is installed and whatever TMPDIR
says, and a box that would cut it off its provider is refused at once (issues 72 and 78)."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.events import AttemptEnded, ErrorKind, Event, Outcome, SessionOpened, ToolResult
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import agent_cut_off
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tools.sandbox import reach, unavailable
from tests.support.agents import sim_agent
from tests.support.box import lfg_itself_under_tmp
from tests.support.lfg import Lfg, ending, of

TICKET = """
[[ticket]]
id = "agent"
prompt = "What is this project?"
provider = "boxed"
model = "hello:ttft_ms=0,tokens_per_s=0"
sandbox = "bwrap"
{more}
"""


@pytest.fixture
def lfg(tmp_path: Path) -> Iterator[Lfg]:
    """lfg whose agent is installed under /tmp (a CI clone's), in a script that first makes its
    folder in TMPDIR as Claude Code does (`$TMPDIR/claude-0`), with TMPDIR outside /tmp."""
    isolated = Lfg(tmp_path)
    bin_folder = tmp_path / "clone" / ".venv" / "bin"
    bin_folder.mkdir(parents=True)
    agent = bin_folder / "boxed-agent"
    agent.write_text(
        f'#!/bin/sh\nmkdir "$TMPDIR/agent-0" || exit 1\nexec {sys.executable} -m lfgtui.sim.acp_agent "$@"\n'
    )
    agent.chmod(0o755)
    isolated.config.write_text(
        '[providers.boxed]\nkind = "acp"\ncommand = ["boxed-agent", "--scenario", "{model}"]\n'
    )
    tmpdir = Path("/var/tmp") / f"lfg-tmpdir-{secrets.token_hex(6)}"
    tmpdir.mkdir()
    isolated.env |= {"PATH": f"{bin_folder}:{isolated.env['PATH']}", "TMPDIR": str(tmpdir)}
    try:
        yield isolated
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


@pytest.mark.timeout(120)
def test_a_boxed_agent_installed_under_tmp_starts_with_tmpdir_elsewhere(lfg: Lfg) -> None:
    if (why := asyncio.run(unavailable())) is not None:
        pytest.skip(why)
    under = lfg_itself_under_tmp()
    more = f"sandbox_readable = {json.dumps(under)}" if under else ""
    code, events, stderr = lfg.run(lfg.tickets(TICKET.format(more=more)))
    assert code == 0 and ending(events, "agent")["outcome"] == "completed", stderr
    said = [e["message"] for e in of(events, "agent", "status")]
    box = next(m for m in said if m.startswith("sandbox bwrap: "))
    assert "a private /tmp (TMPDIR; empty at start, gone when the box ends)" in box, box
    assert "no capability even as root" in box and f"; {reach(True)}" in box, box
    assert not list(Path(lfg.env["TMPDIR"]).iterdir()), "its TMPDIR was the box's own"


def test_a_boxed_agent_without_the_network_is_refused_at_load(lfg: Lfg) -> None:
    """It failed only after 187 s of retries to reach its provider; now the tickets file is refused."""
    tickets = lfg.tickets(TICKET.format(more="sandbox_network = false"))
    code, _, stderr = lfg.run(tickets)
    said = (
        "sandbox_network = false cuts coding agent 'boxed' off its own provider (it runs inside the sandbox)"
    )
    assert code == 2 and said in stderr and f"{tickets}:" in stderr, stderr


async def test_a_recorded_boxed_agent_without_the_network_fails_at_once(tmp_path: Path) -> None:
    """A ticket that did not come through the tickets file (one recorded before, resumed) fails as it
    starts, saying why, and the agent is never started."""
    tickets = tmp_path / "tickets.toml"
    tickets.write_text(TICKET.format(more="").replace('provider = "boxed"', 'provider = "sim-acp"'))
    [loaded] = load_tickets(tickets, Config(path=None), BUILTIN_TOOLS, env={}).tickets
    events: list[Event] = []
    async with Providers() as providers:
        run = Run((replace(loaded, sandbox_network=False),), providers, Approvals(yes=True), [events.append])
        run.start()
        outcomes = await run.wait()
    assert outcomes == {"agent": Outcome.FAILED}
    [ended] = [e for e in events if isinstance(e, AttemptEnded)]
    assert ended.error is not None and ended.error.kind is ErrorKind.SANDBOX
    assert ended.error.message == agent_cut_off("sim-acp")
    assert not [e for e in events if isinstance(e, SessionOpened)], "the agent was never started"


WRITES = """
ttft_ms = 0
tokens_per_s = 0
[[call]]
text = "Writing."
[[call.tool_call]]
name = "write_file"
arguments = {{ path = "{inside}", content = "inside\\n" }}
[[call.tool_call]]
name = "write_file"
arguments = {{ path = "{outside}", content = "outside\\n" }}
[[call]]
text = "Done."
"""


async def test_an_edit_the_box_refused_says_why_though_the_agent_gives_no_reason(tmp_path: Path) -> None:
    """The sim agent writing files itself as Codex's `apply_patch` does, boxed: its write in the
    workdir lands; its write outside fails with `status: failed` alone (codex-acp 2.6's shape),
    and lfg's result names the file and the places the box lets it write, as lfg's own tools do."""
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    work, scenarios = tmp_path / "work", tmp_path / "scenarios"
    work.mkdir()
    scenarios.mkdir()
    outside = Path("/var/tmp") / f"lfg-refused-{secrets.token_hex(6)}.md"
    (scenarios / "writes.toml").write_text(WRITES.format(inside=work / "notes.md", outside=outside))
    path = tmp_path / "tickets.toml"
    path.write_text(
        f'[[ticket]]\nid = "w"\nprompt = "write"\nprovider = "sim-acp"\nmodel = "writes"\n'
        f'workdir = "{work}"\nsandbox = "bwrap"\n'
        f"sandbox_readable = {json.dumps([str(scenarios), *lfg_itself_under_tmp()])}\n"
    )
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    command = sim_agent("--own-writes", "--scenario-dir", str(scenarios)).config.agent.command
    events: list[Event] = []
    async with Providers({"sim-acp": BUILTIN["sim-acp"].with_agent(command=command)}) as providers:
        run = Run(loaded.tickets, providers, Approvals(yes=True), [events.append])
        run.start()
        outcomes = await run.wait()
    assert outcomes == {"w": Outcome.COMPLETED}, events
    assert (work / "notes.md").read_text() == "inside\n" and not outside.exists()
    landed, refused = [e for e in events if isinstance(e, ToolResult)]
    assert not landed.is_error, landed
    assert refused.is_error and f"+++ {outside}" in refused.output, refused.output
    assert refused.output.endswith(
        f"refused by the sandbox: {outside} is outside the places it may write ({work})"
    ), refused.output
