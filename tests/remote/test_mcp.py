"""`lfg mcp URL --token-file F` as a real process, driven by the MCP SDK's own client over stdio, on a
run on the sim served in this test as `lfg run --serve … --control` serves it: it lists its six tools,
adds a ticket (once, however often the same key asks), waits for a ticket to complete and reads its
answer, steers and queues into a running ticket (each
said as what became of it), cancels one, and answers bad input with a tool error in words. A
ticket's answer full of terminal controls comes back as the text it is, and nothing but JSON-RPC
reaches stdout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.types import CallToolResult

from lfgtui.events import PromptSent, Steered, TextDelta
from lfgtui.sim.server import SimServer
from tests.support.git import isolate_git, repository
from tests.support.hostile import HOSTILE
from tests.support.mcp_client import mcp_client
from tests.support.patience import PATIENCE
from tests.support.serving import STEERED_AGENT_TICKET, TOKEN, asked, served, steered_agent
from tests.support.streams import write_scenario

TICKETS = """
[defaults]
provider = "sim"

[[ticket]]
id = "hello"
prompt = "Say hello."
model = "hello"

[[ticket]]
id = "t"
prompt = "Look around."
model = "steer-rounds"
tools = ["write_file", "list_dir", "read_file"]

[[ticket]]
id = "slow"
prompt = "go"
model = "long-answer:tokens_per_s=20,repeat=50"
"""
TOOLS = {"add_ticket", "list_tickets", "message_ticket", "wait_for_tickets", "read_ticket", "cancel_ticket"}


def command(url: str, token_file: Path) -> list[str]:
    return ["-m", "lfgtui", "mcp", url, "--token-file", str(token_file)]


@contextlib.asynccontextmanager
async def mcp_session(url: str, token_file: Path, errlog: Path) -> AsyncIterator[ClientSession]:
    """The SDK's client on `lfg mcp URL --token-file F`, its stderr in `errlog`."""
    async with mcp_client(sys.executable, command(url, token_file), errlog) as client:
        yield client.session


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)  # type: ignore[union-attr]


def error(result: CallToolResult) -> str:
    """A tool error's words, after the SDK's `Error executing tool NAME: `."""
    assert result.is_error, result.content
    return result.content[0].text.partition(": ")[2]  # type: ignore[union-attr]


async def test_an_agent_waits_for_reads_messages_and_cancels_tickets_through_lfg_mcp(
    sim: SimServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    errlog = tmp_path / "mcp.err"
    async with served(sim, tmp_path, TICKETS, control=True, yes=False) as run:
        run.run.start()
        async with mcp_session(run.url, token_file, errlog) as session:
            assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS

            hello = data(await session.call_tool("wait_for_tickets", {"tickets": ["hello"]}))
            assert hello["done"] and hello["why"] == "every ticket named has ended"
            [state] = hello["tickets"]
            assert (state["ticket"], state["state"], state["added_by"]) == (
                "hello",
                "completed",
                "the tickets file",
            )
            report = data(await session.call_tool("read_ticket", {"ticket": "hello"}))
            answer = "".join(e.text for e in run.events if isinstance(e, TextDelta) and e.ticket == "hello")
            assert (report["outcome"], report["answer"], report["answer_pages"]) == ("completed", answer, 1)
            assert report["output_tokens"] > 0 and report["files_changed"] is None

            add = {"ticket": {"prompt": "Say hello again.", "model": "hello"}, "key": "k-1"}
            added = data(await session.call_tool("add_ticket", add))
            again = data(await session.call_tool("add_ticket", add))
            assert added["ticket"] == again["ticket"] == "added-1"
            new = data(await session.call_tool("wait_for_tickets", {"tickets": ["added-1"]}))
            assert new["done"] and new["tickets"][0]["state"] == "completed"
            assert new["tickets"][0]["added_by"].startswith("127.0.0.1 ("), "who added it, as its events say"
            read = data(await session.call_tool("read_ticket", {"ticket": "added-1"}))
            assert read["outcome"] == "completed" and read["answer"] == answer
            bad = error(await session.call_tool("add_ticket", {"ticket": {"prompt": "x", "promtp": "y"}}))
            assert "unknown field 'promtp'" in bad
            long_key = {"ticket": {"prompt": "x"}, "key": "k" * 201}
            assert (
                error(await session.call_tool("add_ticket", long_key))
                == "add-ticket: key is longer than 200 characters"
            )

            call = await asked(run, 1)  # t's first round waits for approval: its turn runs
            needs = data(await session.call_tool("wait_for_tickets", {"tickets": ["t", "slow"]}))
            assert (needs["done"], needs["why"]) == (False, "t needs a person")
            steer = {"ticket": "t", "text": "Stop after the README.", "mode": "steer"}
            steered = data(await session.call_tool("message_ticket", steer))
            assert steered["result"] == "held", steered
            queue = {"ticket": "t", "text": "Then a haiku.", "mode": "queue"}
            queued = data(await session.call_tool("message_ticket", queue))
            assert queued["result"] == "queued", queued

            progress: list[tuple[float, float | None, str | None]] = []

            async def told(done: float, total: float | None, message: str | None) -> None:
                progress.append((done, total, message))

            waited = data(
                await session.call_tool(
                    "wait_for_tickets", {"tickets": ["slow"], "timeout_s": 0.5}, progress_callback=told
                )
            )
            assert not waited["done"] and waited["why"].startswith("still waiting after 0.5 s")
            assert progress == [(0, 1, "0 of 1 ended")], "said at once, then at a change: not per token"
            cancelled = data(await session.call_tool("cancel_ticket", {"ticket": "slow"}))
            assert cancelled["ticket"] == "slow"
            slow = data(await session.call_tool("wait_for_tickets", {"tickets": ["slow"]}))
            assert slow["done"] and slow["tickets"][0]["state"] == "cancelled"

            unknown = error(await session.call_tool("read_ticket", {"ticket": "nope"}))
            assert unknown == "the run has no ticket 'nope' (its tickets: hello, t, slow, added-1)"
            mode = error(
                await session.call_tool("message_ticket", {"ticket": "t", "text": "x", "mode": "shout"})
            )
            assert mode == "mode must be steer or queue, not 'shout'"
            ended = error(await session.call_tool("message_ticket", {"ticket": "hello", "text": "more"}))
            assert ended == "hello has ended: send it a follow-up instead"
            page = error(
                await session.call_tool("read_ticket", {"ticket": "hello", "part": "diff", "page": 2})
            )
            assert page == "page must be from 1 to 1, not 2"

            async with run.client() as client:
                approve = {"request": "approve", "ticket": "t", "call": call.call_id, "allowed": True}
                assert (await client.post("/v1/requests", json=approve)).status_code == 200
            t = data(await session.call_tool("wait_for_tickets", {"tickets": ["t"], "timeout_s": 60}))
            while t["tickets"][0]["attempt"] < 2 or not t["done"]:  # its queued turn is a second attempt
                t = data(await session.call_tool("wait_for_tickets", {"tickets": ["t"], "timeout_s": 60}))
            transcript = data(await session.call_tool("read_ticket", {"ticket": "t", "part": "transcript"}))
        await asyncio.wait_for(run.run.wait(), 20 * PATIENCE)

    assert set(run.run.states) == {"hello", "t", "slow", "added-1"}, "the key added it once"
    assert [e.text for e in run.events if isinstance(e, Steered)] == ["Stop after the README."]
    prompts = [e.text for e in run.events if isinstance(e, PromptSent) and e.ticket == "t"]
    assert prompts == ["Look around.", "Then a haiku."]
    assert transcript["text"].startswith("## user\nThen a haiku.\n\n## assistant\n")
    assert "Traceback" not in errlog.read_text()


async def test_a_bad_token_file_is_a_tool_error_in_words_until_it_is_put_right_and_an_ended_run_stays_read(
    sim: SimServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    errlog = tmp_path / "mcp.err"
    async with (
        served(sim, tmp_path, TICKETS, control=True) as run,
        mcp_session(run.url, token_file, errlog) as session,
    ):
        missing = error(await session.call_tool("list_tickets", {}))
        token_file.write_text("not-the-token-0123456789")
        wrong = error(await session.call_tool("list_tickets", {}))
        token_file.write_text(TOKEN)
        listed = data(await session.call_tool("list_tickets", {}))
        run.hub.end()  # the run is over: what it said stays readable, and it takes nothing more
        over = data(await session.call_tool("wait_for_tickets", {"tickets": ["hello"]}))
        late = error(await session.call_tool("message_ticket", {"ticket": "t", "text": "x"}))
        report = data(await session.call_tool("read_ticket", {"ticket": "t"}))
    assert (over["done"], over["why"]) == (False, "the run has ended")
    assert late == "the run has ended: it takes nothing more" and report["state"] == "waiting"
    assert missing.startswith(f"cannot read the token file {token_file}: [Errno 2]")
    assert wrong.startswith("the server refused the token (401)")
    assert [t["ticket"] for t in listed["tickets"]] == ["hello", "t", "slow"]
    said = errlog.read_text()
    assert "Traceback" not in said and TOKEN not in said


async def test_add_tickets_first_answer_names_who_added_a_ticket_that_has_not_started(
    sim: SimServer, tmp_path: Path
) -> None:
    """Its events say who added it only as its first attempt starts: a ticket that waits for another
    is named as added by its asker in add_ticket's first answer all the same (it said `added while
    the run ran`)."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    async with (
        served(sim, tmp_path, TICKETS, control=True) as run,
        mcp_session(run.url, token_file, tmp_path / "mcp.err") as session,
    ):
        waiting = {"prompt": "After slow.", "model": "hello", "depends_on": ["slow"]}
        added = data(await session.call_tool("add_ticket", {"ticket": waiting, "key": "w"}))
        listed = data(await session.call_tool("list_tickets", {}))
    assert added["ticket"] == "added-1" and added["state"] == "waiting"
    assert added["added_by"].startswith("127.0.0.1 ("), added
    assert listed["tickets"][-1]["added_by"] == added["added_by"], "and so on, until its events say it"


HOSTILE_SCENARIO = f"[[call]]\ntext = {json.dumps(HOSTILE)}\n"


async def test_an_answer_of_terminal_controls_comes_back_as_it_is_and_stdout_is_only_json_rpc(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    """Driven by hand over raw pipes, so that every byte of stdout is seen, not only what a client
    takes."""
    model = write_scenario(scenario_dir, "hostile", HOSTILE_SCENARIO)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    one = f'[[ticket]]\nid = "h"\nprompt = "x"\nprovider = "sim"\nmodel = "{model}"\n'
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "wait_for_tickets", "arguments": {"tickets": ["h"]}},
        },
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "read_ticket", "arguments": {"ticket": "h", "part": "answer"}},
        },
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "tools/call",
            "params": {"name": "wait_for_tickets", "arguments": {"tickets": ["h"], "timeout_s": "FOREVER"}},
        },
    ]
    async with served(sim, tmp_path, one, control=True) as run:
        run.run.start()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *command(run.url, token_file),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None and process.stdout is not None
        lines: list[bytes] = []
        for request in requests:
            line = json.dumps(request).replace('"FOREVER"', "NaN")  # what Python's JSON writes for nan
            process.stdin.write(line.encode() + b"\n")
            await process.stdin.drain()
            if "id" in request:  # its answer, before the next is sent
                lines.append(await asyncio.wait_for(process.stdout.readline(), 30 * PATIENCE))
        process.stdin.close()
        rest, err = await asyncio.wait_for(process.communicate(), 30 * PATIENCE)
    messages = [json.loads(line) for line in [*lines, *rest.splitlines()]]
    assert all(m["jsonrpc"] == "2.0" for m in messages) and [m.get("id") for m in messages] == [1, 2, 3, 4]
    answer = json.loads(messages[2]["result"]["content"][0]["text"])
    assert answer["text"] == HOSTILE, "every control character, as it came"
    forever = messages[3]["result"]
    assert forever["isError"] and forever["content"][0]["text"].endswith(
        "timeout_s must be a number of seconds (at most 120), not NaN"
    ), "never a wait without end"
    assert process.returncode == 0 and b"Traceback" not in err


async def test_a_ticket_s_changed_files_and_its_diff_are_read_in_pages(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    repo = repository(tmp_path / "repo")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    toml = (
        f'[[ticket]]\nid = "w"\nprompt = "write"\nprovider = "sim"\nmodel = "writer"\nworkdir = "{repo}"\n'
        'isolation = "worktree"\ntools = ["write_file", "run_command"]\n'
    )
    async with (
        served(sim, tmp_path, toml, control=True) as run,
        mcp_session(run.url, token_file, tmp_path / "mcp.err") as session,
    ):
        run.run.start()
        waited = data(await session.call_tool("wait_for_tickets", {"tickets": ["w"], "timeout_s": 60}))
        report = data(await session.call_tool("read_ticket", {"ticket": "w"}))
        diff = data(await session.call_tool("read_ticket", {"ticket": "w", "part": "diff"}))
    assert waited["done"] and report["outcome"] == "completed"
    assert (report["files_changed"], report["files_count"], report["diff_pages"]) == (
        ["notes/summary.md"],
        1,
        1,
    )
    assert report["lines_added"] == 3 and report["lines_removed"] == 0
    assert diff["text"].startswith("diff --git a/notes/summary.md b/notes/summary.md")
    assert "+Written by the lfg writer scenario." in diff["text"]


async def test_a_steer_to_a_coding_agent_is_said_sent_to_it_not_taken_at_a_safe_point(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 73: `message_ticket` said a coding agent "takes it into its running turn at its next
    safe point", which is lfg's tool loop; the agent is sent it at once, and its model reads it when
    the agent chooses: lfg knows only once the turn ends, and says that."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    toml = STEERED_AGENT_TICKET + f'workdir = "{tmp_path}"\n'
    async with served(sim, tmp_path, toml, control=True, yes=False, configs=steered_agent()) as run:
        run.run.start()
        await asked(run, 1)  # the agent's write waits: its turn runs, and it said it takes steers
        async with mcp_session(run.url, token_file, tmp_path / "mcp.err") as session:
            steer = {"ticket": "a", "text": "Also say PELICAN.", "mode": "steer"}
            steered = data(await session.call_tool("message_ticket", steer))
    assert (steered["result"], steered["said"]) == (
        "held",
        "held for a's running turn, sent to lfg simulator (ACP) now; "
        "its model reads it at a call the agent picks: recorded once the turn ends",
    )


def test_lfg_mcp_starts_without_the_run_servers_web_stack() -> None:
    """A lead's agent gives lfg's MCP server only so long to answer (Claude Code 30 s, Codex 10 s) on a
    machine busy with the other agents: `lfg mcp` reaches the run as a client, so it imports none of
    `lfg run --serve`'s server (aiohttp, ~0.1 s of CPU), which its token helpers once brought in."""
    script = (
        "import sys, lfgtui.commands.main, lfgtui.remote.mcp_server\n"
        "loaded = [m for m in ('aiohttp', 'lfgtui.remote.server') if m in sys.modules]\n"
        "assert not loaded, f'imported {loaded}'"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60 * PATIENCE
    )
    assert done.returncode == 0, done.stderr
