"""The sim ACP agent as a real subprocess, driven through the official SDK's client side."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import acp
import pytest
from acp.client.connection import ClientSideConnection
from acp.connection import StreamDirection, StreamEvent
from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AgentThoughtChunk,
    AllowedOutcome,
    AvailableCommandsUpdate,
    ClientCapabilities,
    FileEditToolCallContent,
    FileSystemCapabilities,
    Implementation,
    PermissionOption,
    PromptResponse,
    ReadTextFileResponse,
    RequestPermissionResponse,
    ToolCallProgress,
    ToolCallStart,
    ToolCallUpdate,
    UsageUpdate,
    UserMessageChunk,
    WriteTextFileResponse,
)

from tests.support.patience import PATIENCE
from tests.support.streams import write_scenario

FAST = "ttft_ms=0,tokens_per_s=0"
README = "# Real README\nread through the client's file system\n"


def read_disk(path: str) -> str | None:
    """A small file in the test's tmp folder: reading it blocks the loop for no measurable time."""
    file = Path(path)
    return file.read_text(encoding="utf-8") if file.is_file() else None


def write_disk(path: str, content: str) -> None:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(content, encoding="utf-8")


@dataclass
class Client:
    """A duck-typed ACP client: records what the agent sends, serves files from the real disk."""

    choose: str = "allow_once"  # the permission option it picks
    updates: list[Any] = field(default_factory=list)
    permissions: list[tuple[ToolCallUpdate, list[PermissionOption]]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append(update)

    async def request_permission(
        self, session_id: str, tool_call: ToolCallUpdate, options: list[PermissionOption], **kwargs: Any
    ) -> RequestPermissionResponse:
        self.permissions.append((tool_call, options))
        return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=self.choose))

    async def read_text_file(self, session_id: str, path: str, **kwargs: Any) -> ReadTextFileResponse:
        self.reads.append(path)
        content = read_disk(path)
        if content is None:
            raise acp.RequestError.resource_not_found(path)
        return ReadTextFileResponse(content=content)

    async def write_text_file(
        self, session_id: str, path: str, content: str, **kwargs: Any
    ) -> WriteTextFileResponse:
        self.writes.append(path)
        write_disk(path, content)
        return WriteTextFileResponse()

    def of(self, kind: type[Any]) -> list[Any]:
        return [update for update in self.updates if isinstance(update, kind)]

    def text(self, kind: type[AgentMessageChunk | AgentThoughtChunk] = AgentMessageChunk) -> str:
        return "".join(update.content.text for update in self.of(kind))

    def statuses(self, call_id: str) -> list[str | None]:
        return [u.status for u in self.of(ToolCallStart | ToolCallProgress) if u.tool_call_id == call_id]


@dataclass
class Agent:
    conn: ClientSideConnection
    process: asyncio.subprocess.Process
    cwd: Path
    log: Path
    sessions: Path  # its --sessions-dir
    incoming: list[dict[str, Any]]  # every message from the agent, in the order it was written

    def saved(self, session_id: str) -> dict[str, Any]:
        return json.loads((self.sessions / f"{session_id}.json").read_text(encoding="utf-8"))

    async def start(self) -> str:
        """Initialize and open a session in `cwd`; the session id."""
        await self.conn.initialize(
            protocol_version=acp.PROTOCOL_VERSION,
            client_capabilities=ClientCapabilities(
                fs=FileSystemCapabilities(read_text_file=True, write_text_file=True), terminal=False
            ),
            client_info=Implementation(name="lfg-test", version="0"),
        )
        return (await self.conn.new_session(cwd=str(self.cwd), mcp_servers=[])).session_id

    async def ask(self, session_id: str, text: str = "what does this project do") -> PromptResponse:
        return await self.conn.prompt(session_id=session_id, prompt=[acp.text_block(text)])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@asynccontextmanager
async def spawn(client: Client, project: Path, *args: str) -> AsyncIterator[Agent]:
    """The agent as a subprocess. Its stderr goes to a file, as a pipe nobody reads would block it,
    and it gets the whole environment, which the SDK otherwise trims to a few variables. It saves
    sessions next to the project (never in the user's state folder), the same folder for every spawn."""
    log = project.parent / "agent.log"
    sessions = project.parent / "state" / "sim-acp-sessions"
    incoming: list[dict[str, Any]] = []

    def observe(event: StreamEvent) -> None:
        if event.direction is StreamDirection.INCOMING:
            incoming.append(event.message)

    with log.open("w", encoding="utf-8") as stderr:
        async with acp.spawn_agent_process(
            client,
            sys.executable,
            "-m",
            "lfgtui.sim.acp_agent",
            "--sessions-dir",
            str(sessions),
            *args,
            env=dict(os.environ),
            transport_kwargs={"stderr": stderr, "shutdown_timeout": 5.0},
            observers=[observe],
        ) as (conn, process):
            yield Agent(conn, process, project, log, sessions, incoming)


async def wait_until(condition: Any, seconds: float = 10.0) -> None:
    for _ in range(round(seconds * PATIENCE / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def test_agent_demo_plays_thoughts_text_plan_and_reads_through_the_client(project: Path) -> None:
    (project / "README.md").write_text(README, encoding="utf-8")
    client = Client()
    async with spawn(client, project, "--scenario", f"agent-demo:{FAST}") as agent:
        info = await agent.conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
        session = await agent.conn.new_session(cwd=str(project), mcp_servers=[])
        response = await agent.ask(session.session_id)

    assert info.protocol_version == acp.PROTOCOL_VERSION
    assert info.agent_info is not None and info.agent_info.name == "lfg-sim-acp"
    assert info.agent_capabilities is not None and info.agent_capabilities.load_session is True
    assert session.modes is not None
    assert [mode.id for mode in session.modes.available_modes] == ["default", "plan"]
    assert response.stop_reason == "end_turn"
    commands = client.of(AvailableCommandsUpdate)
    assert [c.name for c in commands[0].available_commands] == ["scenario"]
    assert client.text(AgentThoughtChunk).startswith("The user wants to know what this project does.")
    assert client.text().startswith("Let me look around the project first.\n\n## What this project is")

    plans = client.of(AgentPlanUpdate)
    assert [e.content for e in plans[0].entries] == [
        "list_dir .",
        "read_file README.md",
        "What this project is",
    ]
    assert [[e.status for e in plan.entries] for plan in plans] == [
        ["in_progress", "pending", "pending"],
        ["completed", "in_progress", "pending"],
        ["completed", "completed", "in_progress"],
        ["completed", "completed", "completed"],
    ]

    listing, reading = client.of(ToolCallStart)
    assert (listing.title, listing.kind, listing.raw_input) == ("list_dir .", "search", {"path": "."})
    assert (reading.title, reading.kind, reading.status) == ("read_file README.md", "read", "pending")
    assert reading.locations is not None and reading.locations[0].path == str(project / "README.md")
    assert client.statuses(reading.tool_call_id) == ["pending", "in_progress", "completed"]
    assert client.reads == [str(project / "README.md")]
    done = client.of(ToolCallProgress)[-1]
    assert done.content is not None and done.content[0].content.text == README
    assert done.raw_output == {"output": README}
    listed = [u for u in client.of(ToolCallProgress) if u.tool_call_id == listing.tool_call_id][-1]
    assert listed.status == "completed" and listed.content[0].content.text.startswith("README.md\n")
    assert "sim acp agent: scenario agent-demo" in agent.log.read_text(encoding="utf-8")


async def test_a_read_the_client_refuses_fails_the_tool_call_and_the_run_goes_on(project: Path) -> None:
    client = Client()
    async with spawn(client, project, "--scenario", f"agent-demo:{FAST}") as agent:
        response = await agent.ask(await agent.start())
    assert response.stop_reason == "end_turn"
    reading = client.of(ToolCallStart)[1]
    failed = [u for u in client.of(ToolCallProgress) if u.tool_call_id == reading.tool_call_id][-1]
    assert failed.status == "failed"
    assert failed.content[0].content.text == "Resource not found"
    assert "What this project is" in client.text()


async def test_writer_asks_permission_writes_through_the_client_and_reports_a_diff(project: Path) -> None:
    client = Client(choose="allow_once")
    async with spawn(client, project, "--scenario", f"writer:{FAST}") as agent:
        response = await agent.ask(await agent.start())

    assert response.stop_reason == "end_turn"
    target = project / "notes" / "summary.md"
    content = "# Summary\n\nWritten by the lfg writer scenario.\n"
    assert target.read_text(encoding="utf-8") == content
    assert client.writes == [str(target)]
    (write, options), (command, _) = client.permissions
    assert [(o.option_id, o.name, o.kind) for o in options] == [
        ("allow_once", "Allow once", "allow_once"),
        ("allow_always", "Always allow", "allow_always"),
        ("reject_once", "Reject", "reject_once"),
    ]
    assert (write.title, write.kind) == ("write_file notes/summary.md", "edit")
    assert (command.title, command.kind) == ("run_command cat notes/summary.md", "execute")
    writing, running = client.of(ToolCallStart)
    assert client.statuses(writing.tool_call_id) == ["pending", "in_progress", "completed"]
    diff = client.of(ToolCallProgress)[1].content[0]
    assert isinstance(diff, FileEditToolCallContent)
    assert (diff.path, diff.old_text, diff.new_text) == (str(target), None, content)
    ran = [u for u in client.of(ToolCallProgress) if u.tool_call_id == running.tool_call_id][-1]
    assert ran.status == "completed"
    assert ran.content[0].content.text == "# Summary\n\nWritten by the lfg writer scenario."


async def test_a_rejected_write_fails_and_leaves_the_file_alone(project: Path) -> None:
    client = Client(choose="reject_once")
    async with spawn(client, project, "--scenario", f"writer:{FAST}") as agent:
        response = await agent.ask(await agent.start())

    assert response.stop_reason == "end_turn"
    assert not (project / "notes").exists() and client.writes == []
    for call in client.of(ToolCallStart):
        assert client.statuses(call.tool_call_id) == ["pending", "failed"]
    failures = [u.content[0].content.text for u in client.of(ToolCallProgress)]
    assert failures == ["rejected by the user", "rejected by the user"]
    assert client.text().endswith("Done: the notes are in `notes/summary.md`.")


async def test_always_allow_is_remembered_for_a_follow_up_that_plays_again(project: Path) -> None:
    (project / "notes").mkdir()
    (project / "notes" / "summary.md").write_text("old notes\n", encoding="utf-8")
    client = Client(choose="allow_always")
    async with spawn(client, project, "--scenario", f"writer:{FAST}") as agent:
        session_id = await agent.start()
        first = await agent.ask(session_id)
        second = await agent.ask(session_id, "again please")

    assert first.stop_reason == second.stop_reason == "end_turn"
    assert len(client.permissions) == 2  # write_file and run_command, only the first time
    assert len(client.writes) == 2
    starts = client.of(ToolCallStart)
    assert len(starts) == 4 and len({call.tool_call_id for call in starts}) == 4
    contents = [c for u in client.of(ToolCallProgress) for c in u.content or []]
    edits = [c for c in contents if isinstance(c, FileEditToolCallContent)]
    assert [d.old_text for d in edits] == [
        "old notes\n",
        "# Summary\n\nWritten by the lfg writer scenario.\n",
    ]
    assert second.usage is not None and second.usage.input_tokens == 2


async def test_usage_counts_prompt_words_and_streamed_chunks(project: Path) -> None:
    client = Client()
    async with spawn(client, project, "--scenario", f"reasoning:{FAST}", "--stop-reason", "max_tokens") as a:
        response = await a.ask(await a.start(), "what is the gcd of 1071 and 462")

    chunks = len(client.of(AgentThoughtChunk)) + len(client.of(AgentMessageChunk))
    assert response.stop_reason == "max_tokens"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (8, chunks)
    assert response.usage.total_tokens == 8 + chunks
    (usage,) = client.of(UsageUpdate)
    assert (usage.used, usage.size) == (8 + chunks, 200_000)


async def test_the_scenario_command_and_the_session_modes(project: Path) -> None:
    client = Client()
    async with spawn(client, project, "--scenario", f"hello:{FAST}") as agent:
        session_id = await agent.start()
        await agent.conn.set_session_mode(session_id=session_id, mode_id="plan")
        with pytest.raises(acp.RequestError):
            await agent.conn.set_session_mode(session_id=session_id, mode_id="yolo")
        response = await agent.ask(session_id, "/scenario")
    assert response.stop_reason == "end_turn"
    said, answer = client.text().split("\n\n", 1)
    assert said == "(the sim agent runs model (none chosen) in mode plan)", "the mode it was set to"
    assert answer.startswith("I play the sim scenario **hello**: A short friendly answer")


async def test_cancel_stops_the_stream_and_answers_cancelled(project: Path) -> None:
    client = Client()
    async with spawn(client, project, "--scenario", "long-answer:ttft_ms=0,tokens_per_s=100") as agent:
        session_id = await agent.start()
        prompt = asyncio.create_task(agent.ask(session_id))
        await wait_until(lambda: len(client.of(AgentMessageChunk)) >= 5)
        await agent.conn.cancel(session_id=session_id)
        response = await asyncio.wait_for(prompt, 5 * PATIENCE)
        streamed = len(client.of(AgentMessageChunk))
        await asyncio.sleep(0.1)

    assert response.stop_reason == "cancelled"
    assert 5 <= streamed < 50 and len(client.of(AgentMessageChunk)) == streamed
    assert response.usage is not None and response.usage.output_tokens == streamed
    assert agent.saved(session_id)["messages"][1] == {"role": "agent", "text": client.text()}


async def test_cancel_abandons_a_pending_permission_request(project: Path) -> None:
    asked = asyncio.Event()

    class Hesitant(Client):
        async def request_permission(self, *args: Any, **kwargs: Any) -> RequestPermissionResponse:
            asked.set()
            await asyncio.sleep(30)
            raise AssertionError("never answered")

    client = Hesitant()
    async with spawn(client, project, "--scenario", f"writer:{FAST}") as agent:
        session_id = await agent.start()
        prompt = asyncio.create_task(agent.ask(session_id))
        await asyncio.wait_for(asked.wait(), 5 * PATIENCE)
        await agent.conn.cancel(session_id=session_id)
        response = await asyncio.wait_for(prompt, 5 * PATIENCE)
    assert response.stop_reason == "cancelled"
    assert client.writes == [] and not (project / "notes").exists()


async def test_a_drop_fault_crashes_the_agent_mid_turn(project: Path) -> None:
    client = Client()
    async with spawn(client, project, "--scenario", f"fault-drop:{FAST}") as agent:
        session_id = await agent.start()
        with pytest.raises(ConnectionError):
            await agent.ask(session_id)
        assert await asyncio.wait_for(agent.process.wait(), 5 * PATIENCE) == 1
    assert client.text() == "This answer will be cut off part of"
    assert len(client.of(AgentMessageChunk)) == 8


async def test_a_malformed_line_is_skipped_and_the_run_completes(project: Path) -> None:
    client = Client()
    async with spawn(client, project, "--scenario", f"fault-malformed:{FAST}") as agent:
        response = await agent.ask(await agent.start())
    assert response.stop_reason == "end_turn"
    assert client.text() == "A few words arrive intact before a broken chunk corrupts the stream."


async def test_a_stall_fault_goes_silent_until_cancelled(project: Path) -> None:
    client = Client()
    async with spawn(client, project, "--scenario", f"fault-stall:{FAST}") as agent:
        session_id = await agent.start()
        prompt = asyncio.create_task(agent.ask(session_id))
        await wait_until(lambda: len(client.of(AgentMessageChunk)) == 5)
        await asyncio.sleep(0.3)  # on purpose: a window in which the stalled agent must send nothing
        assert not prompt.done() and len(client.of(AgentMessageChunk)) == 5
        await agent.conn.cancel(session_id=session_id)
        response = await asyncio.wait_for(prompt, 5 * PATIENCE)
    assert response.stop_reason == "cancelled"


async def test_an_http_fault_fails_the_prompt_with_a_json_rpc_error(project: Path) -> None:
    client = Client()
    async with spawn(client, project, "--scenario", f"fault-401:{FAST}") as agent:
        session_id = await agent.start()
        with pytest.raises(acp.RequestError) as failure:
            await agent.ask(session_id, "hello")
    assert failure.value.code == -32000
    assert agent.saved(session_id)["messages"] == [
        {"role": "user", "text": "hello"},
        {"role": "agent", "text": ""},
    ]
    assert str(failure.value).startswith("Incorrect API key provided")
    assert failure.value.data == {"status": 401}
    assert client.of(AgentMessageChunk) == []


async def test_faults_meet_their_model_call_after_that_many_chunks(project: Path, scenario_dir: Path) -> None:
    name = write_scenario(
        scenario_dir,
        "two-step",
        """
ttft_ms = 0
tokens_per_s = 0
[[call]]
text = "one two three"
[[call]]
text = "four five six seven"
[[fault]]
kind = "error_event"
call = 1
after_tokens = 2
message = "Overloaded"
""",
    )
    client = Client()
    async with spawn(client, project, "--scenario-dir", str(scenario_dir), "--scenario", name) as agent:
        with pytest.raises(acp.RequestError) as failure:
            await agent.ask(await agent.start())
    assert (failure.value.code, str(failure.value)) == (-32603, "Overloaded")
    assert client.text() == "one two three\n\nfour five"


async def test_a_new_process_loads_the_session_replays_it_and_goes_on(project: Path) -> None:
    first = Client()
    async with spawn(first, project, "--scenario", f"reasoning:{FAST}") as agent:
        session_id = await agent.start()
        await agent.ask(session_id, "what is the gcd of 1071 and 462")
    answer = first.text()
    assert answer == "The greatest common divisor of 1071 and 462 is **21**."

    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    client = Client()
    async with spawn(client, project, "--scenario", f"reasoning:{FAST}") as agent:
        await agent.conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
        loaded = await agent.conn.load_session(cwd=str(elsewhere), session_id=session_id, mcp_servers=[])
        response = await agent.ask(session_id, "and of 12 and 18")
        await wait_until(lambda: client.of(AvailableCommandsUpdate))

    kinds = [m["params"]["update"]["sessionUpdate"] if "method" in m else "response" for m in agent.incoming]
    initialized, load = [i for i, kind in enumerate(kinds) if kind == "response"][:2]
    assert [message["params"]["update"] for message in agent.incoming[initialized + 1 : load]] == [
        {
            "sessionUpdate": "user_message_chunk",
            "content": {"type": "text", "text": "what is the gcd of 1071 and 462"},
        },
        {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": answer}},
    ]
    assert agent.incoming[load]["result"] is not None
    assert kinds[load + 1] == "available_commands_update"  # the client knows the session by now
    assert loaded is not None and loaded.modes is not None and loaded.modes.current_mode_id == "default"
    assert [u.content.text for u in client.of(UserMessageChunk)] == ["what is the gcd of 1071 and 462"]
    assert response.stop_reason == "end_turn"
    log = agent.log.read_text(encoding="utf-8")
    assert f"session {session_id} loaded with 2 messages" in log
    assert f"prompt 2 in {session_id}" in log
    saved = agent.saved(session_id)
    assert (saved["cwd"], saved["prompts"]) == (str(elsewhere), 2)
    assert saved["messages"] == [
        {"role": "user", "text": "what is the gcd of 1071 and 462"},
        {"role": "agent", "text": answer},
        {"role": "user", "text": "and of 12 and 18"},
        {"role": "agent", "text": answer},  # the same scenario, played again
    ]
    assert client.text() == answer * 2  # replayed, then streamed (without the thoughts) once more


async def test_loading_an_unknown_or_malformed_session_id_fails_and_writes_nothing(project: Path) -> None:
    async with spawn(Client(), project, "--scenario", "hello") as agent:
        await agent.conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
        with pytest.raises(acp.RequestError) as unknown:
            await agent.conn.load_session(cwd=str(project), session_id="sess-0123456789ab", mcp_servers=[])
        with pytest.raises(acp.RequestError) as malformed:
            await agent.conn.load_session(cwd=str(project), session_id="../x", mcp_servers=[])
    assert (unknown.value.code, unknown.value.data) == (-32002, {"uri": "sess-0123456789ab"})
    assert malformed.value.code == -32602  # invalid params
    assert malformed.value.data == {"sessionId": "../x", "reason": "not a sim session id"}
    assert not agent.sessions.exists() and not (agent.sessions.parent / "x.json").exists()


async def test_sessions_are_saved_readable_only_by_the_user(project: Path) -> None:
    async with spawn(Client(), project, "--scenario", f"hello:{FAST}") as agent:
        session_id = await agent.start()
        await agent.ask(session_id)
    assert stat.S_IMODE(agent.sessions.stat().st_mode) == 0o700
    assert stat.S_IMODE(agent.sessions.parent.stat().st_mode) == 0o700
    assert [f.name for f in agent.sessions.iterdir()] == [f"{session_id}.json"]  # no temp file left
    assert stat.S_IMODE((agent.sessions / f"{session_id}.json").stat().st_mode) == 0o600


async def test_a_stalled_initialize_never_answers_and_the_agent_ends_with_stdin(project: Path) -> None:
    async with spawn(Client(), project, "--scenario", "hello", "--stall-initialize") as agent:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(agent.conn.initialize(protocol_version=acp.PROTOCOL_VERSION), 1)
    assert agent.process.returncode == 0
    assert "initialize is never answered" in agent.log.read_text(encoding="utf-8")


async def test_an_unknown_scenario_is_refused_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from lfgtui.sim.acp_agent import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--scenario", "no-such-scenario"])
    assert exit_info.value.code == 2
    assert "unknown sim model 'no-such-scenario'" in capsys.readouterr().err


@dataclass
class HeldClient(Client):
    """A client that holds the first permission request until `go` is set: the turn runs meanwhile."""

    asked: asyncio.Event = field(default_factory=asyncio.Event)
    go: asyncio.Event = field(default_factory=asyncio.Event)

    async def request_permission(
        self, session_id: str, tool_call: ToolCallUpdate, options: list[PermissionOption], **kwargs: Any
    ) -> RequestPermissionResponse:
        self.asked.set()
        await self.go.wait()
        return await super().request_permission(session_id, tool_call, options, **kwargs)


async def test_prompt_queueing_is_advertised_and_a_prompt_sent_mid_turn_waits_its_turn(project: Path) -> None:
    client = HeldClient()
    async with spawn(client, project, "--scenario", f"writer:{FAST}", "--prompt-queueing") as agent:
        started = await agent.conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
        assert started.agent_capabilities is not None
        assert started.agent_capabilities.field_meta == {"claudeCode": {"promptQueueing": True}}
        session = (await agent.conn.new_session(cwd=str(agent.cwd), mcp_servers=[])).session_id
        first = asyncio.create_task(agent.ask(session, "write the notes"))
        await client.asked.wait()  # the first turn waits on its permission request
        second = asyncio.create_task(agent.ask(session, "then say hi"))
        await wait_until(lambda: "queued behind the running turn" in agent.log.read_text())
        before = client.text()
        client.go.set()
        answers = await asyncio.gather(first, second)
    assert [a.stop_reason for a in answers] == ["end_turn", "end_turn"]
    said = client.text()
    queued = "(this prompt waited, queued behind the session's running turn)"
    assert queued not in before, "the second prompt did not play while the first ran"
    assert said.count(queued) == 1
    assert said.index("Done") < said.index(queued), "it played once the first turn had ended"


def test_the_agent_starts_with_the_collector_off_and_freezes_what_its_start_made() -> None:
    """Its start is the ACP SDK's import (pydantic models by the hundred): with the collector on, its
    passes over them cost a fifth of the start's CPU and the exit's pass walked them all again (issue
    #77). Started as `python -m` starts it, no pass runs from the SDK's import to `main`, which
    freezes the start's objects and turns the collector back on."""
    code = (
        "import gc, runpy, sys\n"
        "early = []\n"
        "def seen(phase, info):  # a pass once the SDK began to load, before main froze the start's objects\n"
        "    if phase == 'start' and 'acp' in sys.modules and not gc.get_freeze_count():\n"
        "        early.append(info)\n"
        "gc.callbacks.append(seen)\n"
        "sys.argv = ['acp_agent', '--help']\n"
        "try:\n"
        "    runpy.run_module('lfgtui.sim.acp_agent', run_name='__main__', alter_sys=True)\n"
        "except SystemExit:\n"
        "    print(len(early), gc.get_freeze_count(), gc.isenabled(), 'acp.schema' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60 * PATIENCE, check=True
    )
    passes, frozen, enabled, schema = done.stdout.split()[-4:]
    assert schema == "True", "the SDK was imported"
    assert passes == "0", "no collection ran while the agent started"
    assert int(frozen) > 10_000 and enabled == "True", "what it made is frozen, the collector back on"


def test_the_agent_starts_reading_no_models_source_and_building_none_it_has_not_used() -> None:
    """The SDK's ~280 pydantic models (`acp.schema`) were most of the agent's start: pydantic read and
    parsed each class's source for its attributes' docstrings (the SDK sets `use_attribute_docstrings`:
    descriptions only a JSON schema shows, and the agent makes none) and built every model's validator,
    though an agent uses a few dozen (issue #77). Started as `python -m` starts it, the agent reads no
    line of the SDK's schema, and a model it has not used is built when first used."""
    code = (
        "import linecache, runpy, sys\n"
        "sys.argv = ['acp_agent', '--help']\n"
        "try:\n"
        "    runpy.run_module('lfgtui.sim.acp_agent', run_name='__main__', alter_sys=True)\n"
        "except SystemExit:\n"
        "    from acp import schema\n"
        "    read = any(name.endswith('schema.py') and 'acp' in name for name in linecache.cache)\n"
        "    built = schema.ReadTextFileRequest.__pydantic_complete__\n"
        "    used = schema.ReadTextFileRequest(path='/a', session_id='s').model_dump(by_alias=True)\n"
        "    want = {'path': '/a', 'sessionId': 's', 'limit': None, 'line': None, '_meta': None}\n"
        "    print(read, built, used == want)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60 * PATIENCE, check=True
    )
    read, built, used = done.stdout.split()[-3:]
    assert read == "False", "no line of the SDK's schema was read"
    assert built == "False", "a model not used yet is not built"
    assert used == "True", "and once used it validates and dumps as the SDK's model does"


def test_the_agent_imports_no_wire_protocol_but_the_agent_ones() -> None:
    """An agent process starts for every coding-agent attempt a test runs: it plays the sim's agent
    protocol only, so the Chat Completions, Responses, Anthropic and Gemini ones (their parsing and
    rules, ~0.15 s of CPU a process) are never imported."""
    code = "import sys, lfgtui.sim.acp_agent\nprint(*sorted(m for m in sys.modules if 'lfgtui' in m))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60 * PATIENCE, check=True
    )
    imported = set(done.stdout.split())
    assert "lfgtui.sim.protocols.agent" in imported, imported
    others = {"anthropic", "gemini", "openai_chat", "openai_responses"}
    assert not {f"lfgtui.sim.protocols.{name}" for name in others} & imported, imported
