"""Issue 78: the real Codex (pinned codex-acp and codex) steered while its model's answer streams,
through `lfg run --serve --control` and `POST /v1/requests`, as a person watching the run steers it.

Codex takes a steer into its running turn at once: it interrupts the response streaming on its
Responses WebSocket (`response.interrupt`, `discard_partial_items`), which the sim answers as the API
does (`response.interrupt.accepted`, `response.output_item.interrupted` for the open item, then
`response.incomplete` with `incomplete_details.reason = "interrupted"`), and goes on from the
interrupted response with the person's words. The ticket's one attempt ends when Codex's turn does
(its `session/prompt` answered), the history records all of it, and the answer to the steer is in
the run's events and in the history.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from typing import Any

import httpx2
import pytest

from lfgtui.events import Outcome, Steered, TextDelta
from tests.real_agents.conftest import RUN_TIMEOUT_S, AgentWorld, prose
from tests.support import warm_lfg
from tests.support.patience import PATIENCE
from tests.support.recording import load_recorded

pytestmark = pytest.mark.timeout(2 * RUN_TIMEOUT_S)

TOKEN = "codex-steer-token-0123456789"
PROMPT = "Write the notes."
STEERS = ("Also mention PELICAN.", "Also mention GANNET.")
LONG = rf"""
    ttft_ms = 50
    tokens_per_s = 40
    [[call]]
    text = "Heard: {{{{ prompt }}}}\n{prose(150, line=150)}"
    [[call.tool_call]]
    name = "exec"
    input = '''
    const patch = "*** Begin Patch\n*** Add File: notes.md\n+# Notes\n*** End Patch";
    text(JSON.stringify(await tools.apply_patch(patch)));
    '''
    [[call]]
    text = "Done: {{{{ prompt }}}}"
    """
"""Codex's model quotes the last thing it was told, then a long paragraph (about 4 s at 40 tok/s,
for a steer to land in), then adds notes.md with `apply_patch`; its last call quotes it again."""


async def steered_run(world: AgentWorld, steers: tuple[str, ...]) -> tuple[int, list[dict[str, Any]], str]:
    """`lfg run --json --serve --control --yes` of one Codex ticket into the world's history, each of
    `steers` sent through `POST /v1/requests` as the answer to the one before it (the prompt, for the
    first) streams; the exit code, the NDJSON events and stderr."""
    world.map_models("gpt-*-luna=hello", f"gpt-*={world.scenario('long', LONG)}")
    tickets = world.ticket("codex", PROMPT, mode="read-only")
    token = world.root / "token"
    token.write_text(TOKEN)
    args = world.lfg_args("run", str(tickets), "--json", "--yes", "--db", str(world.db))
    args += ["--serve", "127.0.0.1:0", "--control", "--token-file", str(token)]
    process = await warm_lfg.create_subprocess_exec(
        *args, cwd=world.project, env=world.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    events: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(RUN_TIMEOUT_S * PATIENCE):
            served = re.search(r"serving this run at (\S+)", (await process.stderr.readline()).decode())
            assert served is not None
            headers = {"Authorization": f"Bearer {TOKEN}", "LFG-Watcher": "ada"}
            async with httpx2.AsyncClient(base_url=served.group(1), headers=headers) as client:
                waiting, heard = list(steers), PROMPT
                since = ""  # the answer's text since the last steer was sent
                async for line in process.stdout:
                    event = json.loads(line)
                    events.append(event)
                    if event["type"] == "text" and waiting:
                        since += event["text"]
                        if f"Heard: {heard}" in since:  # the answer to the last words streams
                            heard, since = waiting.pop(0), ""
                            body = {"request": "steer", "ticket": "t", "text": heard}
                            answer = await client.post("/v1/requests", json=body)
                            assert (answer.status_code, answer.json()["as"]) == (200, "steer")
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return code, events, (await process.stderr.read()).decode()


def answered_each(
    world: AgentWorld, steered: tuple[str, ...], code: int, events: list[dict[str, Any]], stderr: str
) -> None:
    """One attempt, completed when Codex's turn ended, each steer a user turn in it, the answer to
    the last one streamed and recorded, notes.md written, the history whole."""
    assert code == 0, stderr[-4000:]
    assert "history stopped recording" not in stderr, stderr[-4000:]
    ends = [(e["attempt"], e["outcome"]) for e in events if e["type"] == "attempt_ended"]
    assert ends == [(1, "completed")], ends
    assert [e["text"] for e in events if e["type"] == "steer"] == list(steered)
    answer = "".join(e["text"] for e in events if e["type"] == "text")
    for words in steered:  # each interrupted the answer to the words before it, which began again
        assert f"Heard: {words}" in answer, answer[-300:]
    last = steered[-1]
    assert answer.endswith(f"Done: {last}"), "the turn's last words answer the last steer"
    interrupts = [r for r in world.sim.log if r.body.get("type") == "response.interrupt"]
    assert [(r.body["mode"], r.status) for r in interrupts] == [("discard_partial_items", 200)] * len(steered)
    assert len([r for r in world.sim.log if r.interrupted_at is not None]) == len(steered)
    assert (world.project / "notes.md").read_text() == "# Notes\n"
    run_id = stderr.split("recorded as run ", 1)[1].split()[0]
    [ticket] = load_recorded(world.db, run_id).tickets
    [attempt] = ticket.attempts
    assert attempt.outcome is Outcome.COMPLETED
    recorded = "".join(e.text for e in attempt.events if isinstance(e, TextDelta))
    assert recorded == answer, "the history holds what the run streamed"
    assert [e.text for e in attempt.events if isinstance(e, Steered)] == list(steered)


async def test_codex_takes_a_steer_sent_while_its_answer_streams(world: AgentWorld) -> None:
    steered = STEERS[:1]
    answered_each(world, steered, *await steered_run(world, steered))


async def test_codex_takes_two_steers_into_one_turn(world: AgentWorld) -> None:
    answered_each(world, STEERS, *await steered_run(world, STEERS))
