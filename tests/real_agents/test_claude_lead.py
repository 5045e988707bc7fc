"""Claude Code, the real agent, as a lead ticket against the sim: its session is given lfg's MCP
server, and the sim's model calls `add_ticket` twice and `wait_for_tickets`, so two tickets are added
to the run, complete, and their answers reach the lead's model, which quotes them."""

from __future__ import annotations

import json

import pytest

from tests.real_agents.conftest import AgentWorld, agent_program

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
    agent_program("claude-code")
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('lead', LEAD)}")
    tickets = world.tickets(
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
    run = await world.run(tickets, "--yes")
    statuses = [e.get("message") for e in run.events if e["type"] == "status"]
    assert run.code == 0, (run.stderr[-3000:], statuses)
    ended = {e["ticket"]: e["outcome"] for e in run.events if e["type"] == "attempt_ended"}
    assert ended == {"boss": "completed", "added-1": "completed", "added-2": "completed"}
    said = [e["message"] for e in run.events if e["type"] == "status" and e["ticket"] == "added-1"]
    assert "added by lead boss" in said
    given = [e["message"] for e in run.events if e["type"] == "status" and e["ticket"] == "boss"]
    assert "MCP servers given to the agent (session/new): lfg (stdio)" in given
    lead_calls = [r for r in world.sim.log if r.scenario == "lead"]
    last = json.dumps(lead_calls[-1].body["messages"])
    print("LASTMSG", last[-2500:])
    assert last.count(ANSWER) >= 2 or ("added-1" in last and "added-2" in last and "completed" in last), last[
        -3000:
    ]
