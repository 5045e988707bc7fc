"""What an agent sends besides its protocol, or breaking it, costs lfg a bounded amount and reaches
no terminal: messages too big to parse, JSON that is not JSON-RPC, a flood on stderr, a method name
full of escape sequences that a library logs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from lfgtui.events import ErrorKind, Outcome
from lfgtui.providers.catalog import BUILTIN
from lfgtui.run.agents.agent_log import HEAD_BYTES, TAIL_BYTES, AgentLog
from lfgtui.run.agents.launch import AgentLaunch
from lfgtui.run.agents.transport import MAX_CONTAINERS, MAX_LINE_BYTES
from tests.support.agents import attempt, ending, no_agent_left, text, the_log
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.terminal import Terminal

RAW_AGENT = '''
"""An agent written against the wire: it opens a session, and each prompt runs ON_PROMPT."""
import json, sys

def send(message):
    sys.stdout.write(json.dumps(message) + "\\n")
    sys.stdout.flush()

def say(text):
    update = {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}}
    send({"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s1", "update": update}})

for line in sys.stdin:
    message = json.loads(line)
    method = message.get("method")
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {"protocolVersion": 1}})
    elif method == "session/new":
        send({"jsonrpc": "2.0", "id": message["id"], "result": {"sessionId": "s1"}})
    elif method == "session/prompt":
        ON_PROMPT
        say("done")
        send({"jsonrpc": "2.0", "id": message["id"], "result": {"stopReason": "end_turn"}})
'''


def raw_agent_command(folder: Path, on_prompt: str) -> tuple[str, ...]:
    """The command line of an agent that plays `on_prompt` (Python, with `send`, `say` and `sys`) for
    each prompt, between opening its session and answering the prompt."""
    script = folder / "raw_agent.py"
    script.write_text(RAW_AGENT.replace("ON_PROMPT", on_prompt))
    return (sys.executable, str(script))


def raw_agent(folder: Path, on_prompt: str) -> AgentLaunch:
    command = raw_agent_command(folder, on_prompt)
    return AgentLaunch(BUILTIN["sim-acp"].with_agent(command=command), dict(os.environ))


def written(line: str) -> str:
    return f"sys.stdout.write({line!r} + '\\n'); sys.stdout.flush()"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('{"jsonrpc": "2.0", "id": [1], "result": {}}', "its id is neither a number, a string nor null"),
        ('{"jsonrpc": "2.0", "id": 7, "error": "no"}', "its error is not an object"),
        ('{"jsonrpc": "2.0", "result": {}}', "neither a request, a notification nor a response"),
        ("[" * 50_000 + "]" * 50_000, "not JSON"),
    ],
    ids=["list-id", "error-string", "no-id", "nested-too-deep"],
)
async def test_json_that_is_not_a_json_rpc_message_fails_the_ticket_as_malformed(
    project: Path, tmp_path: Path, line: str, why: str
) -> None:
    """Such a line broke the SDK's reading, which looked like the agent hanging up (`connection`)."""
    events = await attempt(project, "any", launch=raw_agent(tmp_path, f"say('before'); {written(line)}"))
    end = ending(events)
    assert end.outcome is Outcome.FAILED and end.error is not None
    assert end.error.kind is ErrorKind.MALFORMED, end.error
    assert f"not an ACP message to its stdout ({why})" in end.error.message
    assert text(events) == "before", "what came before is kept"
    assert await no_agent_left(tmp_path)


async def test_a_message_of_too_many_objects_is_refused_before_it_is_parsed(
    project: Path, tmp_path: Path
) -> None:
    """60 MB of `[{},{},…]` took lfg to 1.65 GB once parsed and validated; counted first, it is refused."""
    entries = ",".join(["{}"] * (MAX_CONTAINERS + 1))
    update = '{"sessionUpdate": "plan", "entries": [' + entries + "]}"
    flood = '{"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s1", "update": ' + update
    events = await attempt(project, "any", launch=raw_agent(tmp_path, written(flood + "}")))
    end = ending(events)
    assert end.outcome is Outcome.FAILED and end.error is not None
    assert end.error.kind is ErrorKind.MALFORMED
    assert f"a message of more than {MAX_CONTAINERS:,} objects and arrays" in end.error.message


async def test_a_line_over_64_mib_is_refused_as_it_is_read(project: Path, tmp_path: Path) -> None:
    endless = f"sys.stdout.write('{{\"text\": \"' + 'x' * {MAX_LINE_BYTES + 1}); sys.stdout.flush()"
    events = await attempt(project, "any", launch=raw_agent(tmp_path, endless))
    end = ending(events)
    assert end.outcome is Outcome.FAILED and end.error is not None
    assert end.error.kind is ErrorKind.MALFORMED
    assert "the agent sent a message longer than 64 MiB" in end.error.message


async def test_brackets_inside_strings_are_text_and_not_counted(project: Path, tmp_path: Path) -> None:
    code = "{[" * MAX_CONTAINERS
    events = await attempt(project, "any", launch=raw_agent(tmp_path, f"say({code!r})"))
    assert ending(events).outcome is Outcome.COMPLETED
    assert text(events) == code + "done"


async def test_the_agents_log_keeps_its_head_and_tail_and_says_what_it_dropped(
    project: Path, tmp_path: Path, private_logs: Path
) -> None:
    """An agent's stderr once filled 300 MB of disk in a third of a second."""
    flood = (
        "sys.stderr.write('the first line\\n');"
        "[sys.stderr.write(f'line {n:07d} ' + 'x' * 1000 + '\\n') for n in range(10_000)];"
        "sys.stderr.write('the last line\\n'); sys.stderr.flush()"
    )
    events = await attempt(project, "any", launch=raw_agent(tmp_path, flood))
    assert ending(events).outcome is Outcome.COMPLETED
    kept = the_log(private_logs)[1].encode()
    assert len(kept) <= HEAD_BYTES + 2 * TAIL_BYTES + 100
    assert kept.startswith(b"the first line\nline 0000000 ")
    assert kept.endswith(b"\nthe last line\n")
    note = kept[HEAD_BYTES:].split(b"\n")[1].decode()
    dropped = int(note.removeprefix("[lfg dropped ").split(" ")[0].replace(",", ""))
    assert note == f"[lfg dropped {dropped:,} bytes of the agent's log here]"
    line = len(f"line {0:07d} " + "x" * 1000 + "\n")
    whole = len("the first line\n") + 10_000 * line + len("the last line\n")
    assert whole - dropped == len(kept) - len(note) - 2, "everything not dropped is kept"


def log_on_a_full_disk() -> AgentLog:
    full = Path("/dev/full")  # every write fails with ENOSPC
    return AgentLog(full, full.open("ab", buffering=0))


async def test_a_log_that_cannot_be_written_is_still_read_to_its_end() -> None:
    """A full disk must not leave the agent blocked on a stderr pipe nobody reads."""
    stderr = asyncio.StreamReader()
    stderr.feed_data(b"x" * (HEAD_BYTES + 1))
    stderr.feed_eof()
    log = log_on_a_full_disk()
    await log.pump(stderr)
    log.close()
    assert stderr.at_eof()


UNKNOWN_METHOD = json.dumps(
    {"jsonrpc": "2.0", "method": "\x1b]0;PWNED\x07\x1b[2J\x1b[31mred", "params": {"sessionId": "s1"}}
)


def test_a_library_logging_what_an_agent_sent_never_writes_it_to_the_terminal(tmp_path: Path) -> None:
    """The SDK logs an unknown notification's method name raw; headless, it set the terminal's title
    and cleared its screen."""
    lfg = Lfg(tmp_path)
    lfg.env["XDG_STATE_HOME"] = str(tmp_path / "state")
    command = raw_agent_command(tmp_path, written(UNKNOWN_METHOD))
    lfg.config.write_text(f'[providers.raw]\nkind = "acp"\ncommand = {json.dumps(command)}\n')
    tickets = lfg.tickets('[[ticket]]\nid = "raw"\nprompt = "hi"\nprovider = "raw"\nmodel = "any"\n')
    terminal = Terminal()
    process = terminal.start(lfg.args(tickets, "--headless", "--no-history"), lfg.env)
    try:
        assert process.wait(timeout=60 * PATIENCE) == 0
    finally:
        process.kill()
        terminal.hang_up()
    assert b"raw  \xe2\x9c\x93 completed in" in terminal.output
    assert b"PWNED" not in terminal.output and b"\x1b]0;" not in terminal.output
    logged = (tmp_path / "state" / "lfgtui" / "log" / "lfg.log").read_text()
    assert "method=␛]0;PWNED␇␛[2J␛[31mred" in logged
    assert "\x1b" not in logged
