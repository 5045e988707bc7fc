"""Claude Code, the real agent, as a lead ticket against the sim: its session is given lfg's MCP
server, and the sim's model calls `add_ticket` twice and `wait_for_tickets`, so two tickets are added
to the run, complete, and their answers reach the lead's model, which quotes them; on this machine,
and through a broker (a real redis-server, `lfg worker` and `lfg run --broker`), where the worker
serves the lead its door and its asks reach the coordinator's run over the broker."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from lfgtui.run.agents.launch import MCP_START_MS
from tests.real_agents.conftest import AgentWorld, Run, agent_program
from tests.support import warm_lfg
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

ANSWER = "Hello! I am the **lfg simulator**, answering offline over a real HTTP stream."
"""What the sim's `hello` answers: each added ticket's answer."""


def added(prompt: str) -> str:
    return json.dumps({"ticket": {"prompt": prompt, "provider": "sim", "model": "hello"}, "key": prompt})


LEAD = f"""
    ttft_ms = 0
    tokens_per_s = 400
    [[call]]
    text = "I'll hand out the first part."
    [[call.tool_call]]
    name = "mcp__lfg__add_ticket"
    arguments_raw = '{added("Greet the first guest.")}'
    [[call]]
    text = "And the second."
    [[call.tool_call]]
    name = "mcp__lfg__add_ticket"
    arguments_raw = '{added("Greet the second guest.")}'
    [[call]]
    text = "Now I wait for both."
    [[call.tool_call]]
    name = "mcp__lfg__wait_for_tickets"
    arguments_raw = '{json.dumps({"tickets": ["added-1", "added-2"], "timeout_s": 60})}'
    [[call]]
    text = "Both answered. The first: {ANSWER} The second: {ANSWER}"
    """


@pytest.mark.timeout(400)
async def test_a_claude_code_lead_adds_two_tickets_and_quotes_their_answers(world: AgentWorld) -> None:
    run = await world.run(lead_tickets(world), "--yes")
    quoted(world, run)


@pytest.mark.timeout(400)
async def test_a_claude_code_lead_on_a_brokers_worker_adds_two_tickets_and_quotes_their_answers(
    world: AgentWorld, tmp_path: Path
) -> None:
    broker = RedisServer(tmp_path / "redis")
    broker.start()
    world.config("[broker]\nlease_s = 10\n")
    log = (world.root / "w1.log").open("wb")
    worker = await warm_lfg.create_subprocess_exec(
        *world.lfg_args("worker", "--broker", broker.url, "--name", "w1", "--root", str(world.root)),
        cwd=world.project,
        env=world.env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        async with asyncio.timeout(120 * PATIENCE):
            while "worker w1 is ready" not in (world.root / "w1.log").read_text():
                assert worker.returncode is None, (world.root / "w1.log").read_text()
                await asyncio.sleep(0.1)
        run = await world.run(lead_tickets(world), "--yes", "--broker", broker.url)
    finally:
        worker.terminate()
        await worker.wait()
        log.close()
        broker.stop()
    said = (world.root / "w1.log").read_text()
    quoted(world, run, said)
    boss = [e["message"] for e in run.events if e["type"] == "status" and e["ticket"] == "boss"]
    assert any(m.startswith("running on worker w1") for m in boss), boss
    assert "Traceback" not in said, said


def lead_tickets(world: AgentWorld) -> Path:
    agent_program("claude-code")
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('lead', LEAD)}")
    return world.tickets(
        f"""
        [[ticket]]
        id = "boss"
        prompt = "Greet two guests through two tickets, and tell me what they said."
        provider = "claude-code"
        workdir = {json.dumps(str(world.project))}
        lead = true
        lead_max_live = 2
        lead_max_added = 2
        """
    )


def door_timeouts(world: AgentWorld) -> list[str]:
    """What Claude Code's own log of lfg's MCP server says of the time it gave the server to start
    (a CI run at a load of 10 took over its default 30 s: the lead ran without its tools)."""
    logs = sorted((world.home / ".cache" / "claude-cli-nodejs").glob("*/mcp-logs-lfg/*.jsonl"))
    lines = [json.loads(line) for log in logs for line in log.read_text().splitlines() if line.strip()]
    return [entry["debug"] for entry in lines if "timeout of" in str(entry.get("debug"))]


def quoted(world: AgentWorld, run: Run, said: str = "") -> None:
    """The lead's two tickets completed, and their answers reached its model."""
    assert door_timeouts(world) == [f"Starting connection with timeout of {MCP_START_MS}ms"], said[-3000:]
    statuses = [e.get("message") for e in run.events if e["type"] == "status"]
    assert run.code == 0, (run.stderr[-3000:], statuses, said[-3000:])
    ended = {e["ticket"]: e["outcome"] for e in run.events if e["type"] == "attempt_ended"}
    assert ended == {"boss": "completed", "added-1": "completed", "added-2": "completed"}
    notes = [e["message"] for e in run.events if e["type"] == "status" and e["ticket"] == "added-1"]
    assert any(note.startswith("added by lead boss") for note in notes), notes  # then where it runs
    given = [e["message"] for e in run.events if e["type"] == "status" and e["ticket"] == "boss"]
    assert "MCP servers given to the agent (session/new): lfg (stdio)" in given
    lead_calls = [r for r in world.sim.log if r.scenario == "lead"]
    last = json.dumps(lead_calls[-1].body["messages"])
    assert last.count(ANSWER) >= 2 or ("added-1" in last and "added-2" in last and "completed" in last), last[
        -3000:
    ]
