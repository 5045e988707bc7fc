"""A command's output in its tool call's row while it runs: from a terminal lfg runs for the agent
(the sim agent's `--terminals`) and from a command the agent runs itself, streamed in its updates'
`_meta` as Codex sends it (`--own-terminal`). Coalesced (a few events a second per call, whatever the
agent sends), bounded, shown inert, and the final output recorded as the call's result. Through the
reader with Codex's own messages, the real `lfg run --json` and the app's pane (Pilot)."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from acp import schema

from lfgtui.config.load import Config
from lfgtui.events import EventFactory, ToolOutputDelta, ToolResult
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run.agents.tool_output import KEPT_CHARS, OUTPUT_EVERY_S, OutputDue
from lfgtui.run.agents.updates import UpdateReader
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.widgets.pane import PaneState
from lfgtui.ui.widgets.tool_log import ToolState
from tests.support.agents import no_agent_left
from tests.support.app import SIZE, until
from tests.support.compose import lfg_app
from tests.support.lfg import Lfg, ending, of

SIM_AGENT = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}"]


def codex(update: dict[str, Any]) -> Any:
    """A `session/update` as codex-acp 2.6 sends it to a client like lfg, parsed as lfg reads it."""
    return schema.SessionNotification.model_validate({"sessionId": "s", "update": update}).update


def chunk(call_id: str, data: str) -> Any:
    meta = {"terminal_output_delta": {"data": data, "terminal_id": call_id}}
    return codex({"sessionUpdate": "tool_call_update", "toolCallId": call_id, "_meta": meta})


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_codexs_command_output_is_coalesced_into_a_few_events_and_its_result_keeps_it_all() -> None:
    clock, wakes = Clock(), []
    woken = EventFactory("t", 1, clock)
    reader = UpdateReader(woken, wake=lambda call_id, delay: wakes.append((call_id, delay)))
    ref = [{"type": "terminal", "terminalId": "c1"}]
    start = {"toolCallId": "c1", "title": "make test", "kind": "execute", "status": "in_progress"}
    reader.events(codex({"sessionUpdate": "tool_call", **start, "content": ref}))
    lines = [f"line {n}\n" for n in range(500)]
    streamed = [event for line in lines for event in reader.events(chunk("c1", line))]
    [first] = streamed
    assert isinstance(first, ToolOutputDelta) and first.text == "line 0\n", "the first output goes at once"
    assert wakes == [("c1", pytest.approx(OUTPUT_EVERY_S))], "the rest waits, and one wake-up is asked for"
    clock.now += OUTPUT_EVERY_S
    [rest] = reader.events(OutputDue("c1"))
    assert isinstance(rest, ToolOutputDelta) and rest.text == "".join(lines[1:])
    reader.events(chunk("c1", "the end\n"))  # too soon after the last: held
    exit_meta = {"terminal_exit": {"exit_code": 2, "signal": None, "terminal_id": "c1"}}
    ended = reader.events(
        codex(
            {
                "sessionUpdate": "tool_call_update",
                "toolCallId": "c1",
                "status": "failed",
                "content": ref,
                "_meta": exit_meta,
            }
        )
    )
    assert [type(e) for e in ended] == [ToolOutputDelta, ToolResult], "what was held goes before the result"
    last, result = ended
    assert isinstance(last, ToolOutputDelta) and last.text == "the end\n"
    assert isinstance(result, ToolResult) and result.is_error
    assert result.output == "".join(lines) + "the end\n[exit code 2]", "the result is the whole output"
    assert reader.events(OutputDue("c1")) == [], "a wake-up after the end shows nothing"


def test_what_a_call_holds_and_keeps_is_bounded() -> None:
    reader = UpdateReader(EventFactory("t", 1, Clock()), wake=lambda *_: None)
    reader.events(
        codex({"sessionUpdate": "tool_call", "toolCallId": "c1", "title": "yes", "kind": "execute"})
    )
    reader.events(chunk("c1", "first\n"))
    for _ in range(3):
        reader.events(chunk("c1", "y\n" * KEPT_CHARS))
    [held] = reader.events(OutputDue("c1"))
    assert isinstance(held, ToolOutputDelta)
    assert held.text.startswith(
        f"[… {3 * 2 * KEPT_CHARS - KEPT_CHARS} characters of earlier output dropped]\n"
    )
    assert len(held.text) < KEPT_CHARS + 100
    [result] = reader.events(
        codex({"sessionUpdate": "tool_call_update", "toolCallId": "c1", "status": "completed"})
    )
    assert isinstance(result, ToolResult) and len(result.output) < KEPT_CHARS + 100
    assert result.output.startswith("[… ") and result.output.endswith("y")


def exited(call_id: str, status: str, code: int | None) -> Any:
    """The end of a command Codex shows a terminal for: its exit code (None: it never ran)."""
    meta = {"terminal_exit": {"exit_code": code, "signal": None, "terminal_id": call_id}}
    return codex(
        {"sessionUpdate": "tool_call_update", "toolCallId": call_id, "status": status, "_meta": meta}
    )


def test_codexs_commands_end_with_their_exit_code_and_one_refused_before_it_ran_reads_denied() -> None:
    reader = UpdateReader(EventFactory("t", 1))
    reader.events(
        codex({"sessionUpdate": "tool_call", "toolCallId": "r", "kind": "read", "title": "List files"})
    )
    [listing] = reader.events(chunk("r", "README.md\n"))
    assert isinstance(listing, ToolOutputDelta) and listing.text == "README.md\n"
    done = {"sessionUpdate": "tool_call_update", "toolCallId": "r", "status": "completed"}
    [listed] = reader.events(codex(done | {"rawOutput": {"exit_code": 0}}))
    assert isinstance(listed, ToolResult)
    assert listed.output == "README.md\n[exit code 0]", "a command with no terminal: its code in rawOutput"

    terminal = {"type": "terminal", "terminalId": "w"}
    started = {"sessionUpdate": "tool_call", "toolCallId": "w", "kind": "execute", "title": "wc -l README.md"}
    info = {"terminal_info": {"cwd": "/repo", "terminal_id": "w"}}
    command = {"content": [terminal], "rawInput": {"command": "wc -l README.md"}, "_meta": info}
    reader.events(codex(started | command))
    reader.events(chunk("w", "1 READ"))
    reader.events(chunk("w", "ME.md\n"))
    [counted] = reader.events(exited("w", "completed", 0))
    assert isinstance(counted, ToolResult)
    assert (counted.output, counted.is_error) == ("1 README.md\n[exit code 0]", False)

    refused_info = {"terminal_info": {"cwd": "/repo", "terminal_id": "n"}}
    reader.events(
        codex(
            started | {"toolCallId": "n", "content": [terminal | {"terminalId": "n"}], "_meta": refused_info}
        )
    )
    reader.denied.add("n")
    [refused] = reader.events(exited("n", "failed", None))
    assert isinstance(refused, ToolResult)
    assert (refused.output, refused.is_error) == ("denied: the person said no", True), "it never ran"


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    """`lfg` with two sim agents: one running its commands in lfg's terminals, one itself as Codex does."""
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    isolated.config.write_text(
        f'[providers.term]\nkind = "acp"\ncommand = {json.dumps([*SIM_AGENT, "--terminals"])}\n'
        f'[providers.own]\nkind = "acp"\ncommand = {json.dumps([*SIM_AGENT, "--own-terminal"])}\n'
    )
    return isolated


def one_command(
    lfg: Lfg, name: str, command: str, result: str = "", pace: int = 0, timeout_s: float = 30
) -> str:
    """A scenario whose agent runs `command` (its output `result` when the agent runs it itself),
    killing it after `timeout_s`."""
    arguments = json.dumps({"command": command, "timeout_s": timeout_s})
    return lfg.scenario(
        name,
        f"""
        ttft_ms = 0
        tokens_per_s = {pace}
        [[call]]
        text = "Running it."
        [[call.tool_call]]
        name = "run_command"
        arguments_raw = {json.dumps(arguments)}
        result = {json.dumps(result)}
        [[call]]
        text = "Done."
        """,
    )


def streamed(events: list[dict[str, Any]], ticket: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A ticket's `tool_output` events, each before its one result, and that result."""
    kinds = [e["type"] for e in of(events, ticket) if e["type"] in ("tool_output", "tool_result")]
    assert kinds == ["tool_output"] * (len(kinds) - 1) + ["tool_result"], kinds
    [result] = of(events, ticket, "tool_result")
    outputs = of(events, ticket, "tool_output")
    assert {e["id"] for e in outputs} == {result["id"]}
    return outputs, result


def test_the_output_of_a_command_in_lfgs_terminal_and_in_the_agents_own_streams_into_its_row(
    lfg: Lfg, tmp_path: Path
) -> None:
    lines = "".join(f"line {n}\n" for n in range(1, 6))
    one_command(lfg, "term-cmd", "for n in 1 2 3 4 5; do echo line $n; sleep 0.05; done")
    one_command(lfg, "own-cmd", "make test", result=lines, pace=100)
    tickets = lfg.tickets(
        '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "term"\nmodel = "term-cmd"\n'
        '[[ticket]]\nid = "o"\nprompt = "go"\nprovider = "own"\nmodel = "own-cmd"\n'
    )
    db = tmp_path / "h.sqlite3"
    code, events, stderr = lfg.run(tickets, "--yes", "--db", str(db))
    assert code == 0, stderr
    for ticket in ("t", "o"):
        outputs, result = streamed(events, ticket)
        assert "".join(e["text"] for e in outputs) == lines, "the deltas are the whole output, in order"
        assert result["output"] == lines + "[exit code 0]" and not result["is_error"]
        assert ending(events, ticket)["outcome"] == "completed"
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT kind, count(*) FROM parts GROUP BY kind").fetchall())
    assert stored["tool_result"] == 2, "the history keeps each result"
    assert set(stored) == {"prompt", "text", "tool_call", "tool_result", "status"}, "and no part per delta"


def test_a_chatty_commands_output_streams_bounded_and_a_killed_one_shows_what_it_printed(lfg: Lfg) -> None:
    one_command(lfg, "chatty", "seq 1 100000; echo the end")
    one_command(lfg, "hangs", "printf 'started \\033[31mred\\n'; sleep 30", timeout_s=1)
    tickets = lfg.tickets(
        '[[ticket]]\nid = "c"\nprompt = "go"\nprovider = "term"\nmodel = "chatty"\n'
        '[[ticket]]\nid = "h"\nprompt = "go"\nprovider = "term"\nmodel = "hangs"\n'
    )
    code, events, stderr = lfg.run(tickets, "--yes", "--no-history")
    assert code == 0, stderr
    outputs, result = streamed(events, "c")
    assert all(len(e["text"]) <= 64 * 1024 + 100 for e in outputs)
    assert "".join(e["text"] for e in outputs).endswith("99999\n100000\nthe end\n")
    assert result["output"].endswith("100000\nthe end\n[exit code 0]")
    outputs, result = streamed(events, "h")
    assert "".join(e["text"] for e in outputs) == "started \x1b[31mred\n", "NDJSON keeps it raw"
    assert result["is_error"] and result["output"].startswith("started \x1b[31mred\n[killed")


async def test_the_row_shows_a_commands_output_inert_while_it_runs(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    arguments = json.dumps({"command": "printf 'started \\033[31mred\\n'; sleep 30", "timeout_s": 30})
    call = f'[[call]]\n[[call.tool_call]]\nname = "run_command"\narguments_raw = {json.dumps(arguments)}\n'
    (scenarios / "hangs.toml").write_text(f"ttft_ms = 0\n{call}")
    command = (*SIM_AGENT[:3], "--terminals", "--scenario-dir", str(scenarios), "--scenario", "hangs")
    path = tmp_path / "tickets.toml"
    path.write_text('[[ticket]]\nid = "h"\nprompt = "go"\nprovider = "sim-acp"\nmodel = "hangs"\n')
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    app = lfg_app(
        loaded.tickets, Providers({"sim-acp": BUILTIN["sim-acp"].with_agent(command=command)}), yes=True
    )
    async with app.run_test(size=SIZE) as pilot:
        h = app.controller.panes["h"]

        def shown_live() -> bool:
            rows = h.shown.tools.rows
            return bool(rows) and "▸ started ␛[31mred" in str(next(iter(rows.values())).title)

        await until(pilot, shown_live, timeout=20)
        [call] = h.tools.rows.values()
        assert call.state is ToolState.RUNNING and h.state is PaneState.RUNNING, "the command still runs"
        assert call.output == "started \x1b[31mred\n"
        assert "started ␛[31mred" in str(call.detail())
        h.shown.focus()
        await pilot.press("c")
        await until(pilot, lambda: h.state is PaneState.CANCELLED, timeout=20)
    assert await no_agent_left(tmp_path)
