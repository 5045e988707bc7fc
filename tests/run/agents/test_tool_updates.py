"""A coding agent's tool call as the agent means it: announced bare, then named and filled in by
`tool_call_update`s (as Claude Code does), one row that reads as the agent's own UI would, in the
pane, the NDJSON and the history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from acp import schema

from lfgtui.events import (
    AgentDetails,
    EventFactory,
    Status,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolCallUpdated,
    ToolResult,
)
from lfgtui.run.agents.updates import AgentView, UpdateReader, describes_inputs, session_update
from lfgtui.ui.widgets.pane import PaneState
from lfgtui.ui.widgets.tool_log import ToolState
from tests.support.agents import LATE, agent_app, approve, no_agent_left
from tests.support.app import SIZE, until


def claude(update: dict[str, Any]) -> Any:
    """A `session/update` as Claude Code's ACP adapter sends it, parsed by the SDK as lfg reads it."""
    notification = {"sessionId": "s", "update": update}
    return schema.SessionNotification.model_validate(notification).update


def bash(call_id: str, **fields: Any) -> dict[str, Any]:
    return {"toolCallId": call_id, "_meta": {"claudeCode": {"toolName": "Bash"}}, **fields}


def test_claude_codes_bare_calls_become_rows_named_as_in_its_own_ui() -> None:
    reader = UpdateReader(EventFactory("t", 1))
    write = {"toolCallId": "w", "_meta": {"claudeCode": {"toolName": "Write"}}}
    started = reader.events(
        claude({"sessionUpdate": "tool_call", **write, "title": "Write", "kind": "edit", "rawInput": {}})
    )
    assert [type(e) for e in started] == [ToolCallStarted, ToolCallReady]
    assert started[1].name == "Write" and started[1].arguments == {}
    path = "/repo/src/app.py"
    full = {"file_path": path, "content": "print(1)\n"}
    described = reader.events(
        claude(
            {
                "sessionUpdate": "tool_call_update",
                **write,
                "title": "Write src/app.py",
                "kind": "edit",
                "rawInput": full,
                "locations": [{"path": path}],
                "content": [{"type": "diff", "path": path, "oldText": None, "newText": "print(1)\n"}],
            }
        )
    )
    [updated] = described
    assert isinstance(updated, ToolCallUpdated)
    assert (updated.name, updated.arguments, updated.kind, updated.locations) == (
        "Write src/app.py",
        full,
        "edit",
        (path,),
    )
    assert json.loads(updated.raw_arguments) == full
    assert reader.ready["w"].name == "Write src/app.py", (
        "a permission request asks about the call as it is now"
    )
    assert reader.ready["w"].arguments == full
    [result] = reader.events(
        claude({"sessionUpdate": "tool_call_update", "toolCallId": "w", "status": "completed"})
    )
    assert isinstance(result, ToolResult) and "+print(1)" in result.output, "the diff merged in is the output"

    reader.events(claude({"sessionUpdate": "tool_call", **bash("b"), "title": "Terminal", "kind": "execute"}))
    [named] = reader.events(
        claude(
            {
                "sessionUpdate": "tool_call_update",
                **bash("b"),
                "title": "ls -la",
                "kind": "execute",
                "rawInput": {"command": "ls -la", "description": "List files"},
            }
        )
    )
    assert named.name == "Bash ls -la"


def test_an_update_that_changes_nothing_shown_is_no_event() -> None:
    reader = UpdateReader(EventFactory("t", 1))
    reader.events(
        claude(
            {
                "sessionUpdate": "tool_call",
                **bash("b"),
                "title": "ls",
                "kind": "execute",
                "rawInput": {"command": "ls"},
            }
        )
    )
    output = {"type": "content", "content": {"type": "text", "text": "a.txt"}}
    assert (
        reader.events(claude({"sessionUpdate": "tool_call_update", **bash("b"), "content": [output]})) == []
    )
    same = {"sessionUpdate": "tool_call_update", **bash("b"), "title": "ls", "rawInput": {"command": "ls"}}
    assert reader.events(claude(same)) == []
    [result] = reader.events(
        claude({"sessionUpdate": "tool_call_update", "toolCallId": "b", "status": "completed"})
    )
    assert result.output == "a.txt"


def test_an_update_for_a_call_never_announced_is_shown_once_as_it_reads() -> None:
    reader = UpdateReader(EventFactory("t", 1))
    events = reader.events(
        claude(
            {
                "sessionUpdate": "tool_call_update",
                **bash("x"),
                "title": "pwd",
                "kind": "execute",
                "rawInput": {"command": "pwd"},
            }
        )
    )
    assert [type(e) for e in events] == [ToolCallStarted, ToolCallReady]
    assert events[1].name == "Bash pwd" and events[1].arguments == {"command": "pwd"}


def test_a_call_whose_id_names_its_tool_reads_tool_first() -> None:
    """Gemini CLI titles a call by what it acts on, sends no input, and leads each id with the tool."""
    reader = UpdateReader(EventFactory("t", 1))
    rows = {
        "read_file__read_file_1795_0": ("README.md", "read_file README.md"),
        "list_directory__synth_p1_1795_1": (".", "list_directory ."),
        "run_shell_command__x": ("", "run_shell_command"),
        "call_abc": ("Read a.py", "Read a.py"),
    }
    for call_id, (title, _) in rows.items():
        started = {"sessionUpdate": "tool_call", "toolCallId": call_id, "title": title, "kind": "read"}
        reader.events(claude(started))
    assert {call_id: call.name for call_id, call in reader.ready.items()} == {
        call_id: name for call_id, (_, name) in rows.items()
    }


def test_a_call_sent_without_input_shows_what_the_agent_said_of_it_as_its_arguments() -> None:
    """Gemini CLI sends no `rawInput`: its row's arguments are its title and locations, not `{}`;
    the same call's `ToolCallUpdated` carries them as they change."""
    reader = UpdateReader(EventFactory("t", 1))
    call = {"toolCallId": "write_file__1", "kind": "edit"}
    started = reader.events(claude({"sessionUpdate": "tool_call", **call, "title": "Writing to notes.md"}))
    assert started[1].arguments == {"title": "Writing to notes.md"}
    located = {"sessionUpdate": "tool_call_update", **call, "locations": [{"path": "/w/notes.md"}]}
    [updated] = reader.events(claude(located))
    assert isinstance(updated, ToolCallUpdated)
    assert updated.arguments == {"title": "Writing to notes.md", "locations": ["/w/notes.md"]}
    assert json.loads(updated.raw_arguments) == updated.arguments
    diff = {"type": "diff", "path": "/w/notes.md", "oldText": "", "newText": "# Notes\n"}
    done = {"sessionUpdate": "tool_call_update", **call, "status": "completed", "content": [diff]}
    updated, _ = reader.events(claude(done))
    assert isinstance(updated, ToolCallUpdated) and updated.arguments["content"] == "# Notes\n", (
        "the file it created, as the agent shows it"
    )
    assert started[1].model_input_chars == 0, "what it said of the call, not the model's input"
    assert updated.model_input_chars == len("# Notes\n"), "but for the file it writes, which is"


def test_a_call_is_the_models_input_once_the_agent_sends_it_and_never_from_codex() -> None:
    """Claude Code announces a call without input and sends it after: from then on the row is the
    model's input. codex-acp's input is the command Codex ran, never the script its model wrote."""
    reader = UpdateReader(EventFactory("t", 1))
    bare = reader.events(
        claude({"sessionUpdate": "tool_call", **bash("b"), "title": "Terminal", "kind": "execute"})
    )
    assert bare[1].model_input_chars == 0
    command = {"command": "ls", "description": "List files"}
    [updated] = reader.events(claude({"sessionUpdate": "tool_call_update", **bash("b"), "rawInput": command}))
    assert isinstance(updated, ToolCallUpdated) and updated.model_input_chars is None
    assert reader.ready["b"].model_input_chars is None, (
        "a permission request asks about the call as it is now"
    )

    codex = UpdateReader(EventFactory("t", 1), AgentView(describes_inputs=True))
    call = {
        "toolCallId": "c",
        "title": "Run wc -l README.md",
        "kind": "execute",
        "rawInput": {"command": "wc"},
    }
    started = codex.events(claude({"sessionUpdate": "tool_call", **call}))
    assert started[1].arguments == {"command": "wc"} and started[1].model_input_chars == 0


def test_only_codex_acp_describes_its_calls_by_the_name_it_gives() -> None:
    def agent(name: str) -> schema.Implementation:
        return schema.Implementation(name=name, version="1")

    assert describes_inputs(agent("@agentclientprotocol/codex-acp"))
    assert describes_inputs(agent("codex-acp"))
    assert not describes_inputs(agent("@agentclientprotocol/claude-agent-acp"))
    assert not describes_inputs(agent("gemini-cli"))
    assert not describes_inputs(None)


def test_a_refused_call_the_agent_leaves_open_ends_as_denied() -> None:
    """Gemini CLI asks about a command and, told no, says nothing more about the call."""
    reader = UpdateReader(EventFactory("t", 1))
    for call_id, title in (("sh", "touch x"), ("other", "README.md")):
        reader.events(claude({"sessionUpdate": "tool_call", "toolCallId": call_id, "title": title}))
    reader.denied.add("sh")
    denied, unsaid = reader.unfinished()
    assert (denied.call_id, denied.output, denied.is_error) == ("sh", "denied: the person said no", True)
    assert (unsaid.output, unsaid.is_error) == ("the agent did not say how this call ended", True)


async def test_the_panes_row_reads_as_the_agent_finally_described_the_call(tmp_path: Path) -> None:
    toml = f'[[ticket]]\nid = "w"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "{LATE}"\n'
    app = agent_app(tmp_path, toml)
    async with app.run_test(size=SIZE) as pilot:
        w = app.controller.panes["w"]
        await until(
            pilot, lambda: str(w.notice.render()).startswith("approve write_file notes/summary.md\n"), 20
        )
        [call] = w.tools.rows.values()
        assert call.state is ToolState.WAITING
        await until(pilot, lambda: len(w.shown.tools.rows) == 1)  # the log mounts with its first call
        [row] = w.shown.tools.rows.values()
        assert str(row.title).startswith('write_file notes/summary.md {"path": "notes/summary.md"')
        await approve(pilot, app)
        await until(pilot, lambda: w.state is PaneState.APPROVAL and len(w.tools.rows) == 3, 20)
        await approve(pilot, app)
        await until(pilot, lambda: w.state is PaneState.COMPLETED, 20)
        await until(pilot, lambda: " · ok" in str(list(w.shown.tools.rows.values())[-1].title), 5)
        titles = [str(row.title) for row in w.shown.tools.rows.values()]
        assert titles[0].startswith("write_file notes/summary.md {") and " · ok" in titles[0]
        assert titles[2].startswith('run_command cat notes/summary.md {"command": "cat notes/summary.md"}')
    assert await no_agent_left(tmp_path)


def test_what_an_agent_says_of_its_session_before_its_work_is_one_detail_with_its_work() -> None:
    """Codex describes its session in two updates as the turn starts (its mode, then 26 ms later its
    commands): one `AgentDetails` with both, with the turn's first text, not two lines."""
    reader = UpdateReader(EventFactory("t", 1))
    assert reader.events(claude({"sessionUpdate": "current_mode_update", "currentModeId": "read-only"})) == []
    commands = [{"name": "review", "description": "Review my changes"}]
    assert (
        reader.events(claude({"sessionUpdate": "available_commands_update", "availableCommands": commands}))
        == []
    )
    warning = {"type": "text", "text": "Warning: Model metadata for `gw` not found.\n\n"}
    [notice] = reader.events(claude({"sessionUpdate": "agent_message_chunk", "content": warning}))
    assert notice.message.startswith("the agent's notice: Warning"), "a note, not the turn's work"
    text = {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "Hi"}}
    said, details = reader.events(claude(text))
    assert isinstance(details, AgentDetails) and isinstance(said, TextDelta)
    assert said.seq < details.seq
    assert details.summary() == "mode read-only · 1 command"
    [changed] = reader.events(claude({"sessionUpdate": "current_mode_update", "currentModeId": "auto"}))
    assert isinstance(changed, AgentDetails) and changed.mode == "auto", (
        "once it works, a change shows at once"
    )


@pytest.mark.parametrize("annotated", [False, True], ids=["usual form", "read by the SDK"])
def test_a_chunk_claude_code_marks_informational_is_the_agents_notice_wherever_it_comes(
    annotated: bool,
) -> None:
    """Claude Code's warning chunk (`_meta.claudeCode.kind: "informational"`, no message id, as
    claude-agent-acp 0.101.0 sends it) between two of the model's messages: a notice, not text,
    whether the chunk is in its usual form or carries more than lfg reads itself (the SDK reads it)."""
    reader = UpdateReader(EventFactory("t", 1))
    first = {"type": "text", "text": "Looking."}
    reader.events(
        session_update(
            {
                "sessionId": "s",
                "update": {"sessionUpdate": "agent_message_chunk", "content": first, "messageId": "m1"},
            }
        )
    )
    warning: dict[str, Any] = {"type": "text", "text": "**Warning:** auto mode is billed as before."}
    if annotated:
        warning["annotations"] = {"priority": 0.5}
    marked = {"claudeCode": {"kind": "informational", "level": "warning"}}
    update = {"sessionUpdate": "agent_message_chunk", "content": warning, "_meta": marked}
    [notice] = reader.events(session_update({"sessionId": "s", "update": update}))
    assert isinstance(notice, Status) and not isinstance(notice, TextDelta)
    assert notice.message == "the agent's notice: **Warning:** auto mode is billed as before."
