"""Issue 73: where today's Claude Code (claude-agent-acp 0.101.0) really puts a steer, read off the
model requests the sim received, against what lfg records.

Steer A is sent while Claude Code's `Write` waits for permission, steer B while the answer after it
streams. claude-agent-acp takes a steer that comes while it waits on the person at priority `later`:
its model read A only after the turn's last answer, as a call of its own, so the two reached it as B,
then A, while lfg said each went into the running turn. lfg now keeps A until the permission is
answered and the agent has gone on (an update read since), then sends it: the model reads A at a
call after the permission and B after it, each once, in the order sent.
The steered message's echo is not forwarded, but each model call's message has an id of its own
(`messageId`), and the model reads a steer taken at priority `now` at its next call: lfg records
each right before the message that began after it took it, which quotes it here.
"""

from __future__ import annotations

import json
import time

import pytest

from lfgtui.config.load import Config
from lfgtui.events import ApprovalAsked, AttemptEnded, CallEnded, Event, Holding, Outcome, Steered, TextDelta
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.steer_words import ANSWER
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.real_agents.conftest import AgentWorld, prose
from tests.support.agents import run_through

pytestmark = pytest.mark.timeout(400)

A, B = "Also mention ALPHA.", "Also mention BRAVO."
WRITE = json.dumps({"file_path": "notes.md", "content": "# Notes\n"})
SCENARIO = f"""
    ttft_ms = 50
    tokens_per_s = 20
    [[call]]
    text = "I'll write the notes."
    [[call.tool_call]]
    name = "Write"
    arguments_raw = '{WRITE}'
    [[call]]
    text = "Heard: {{{{ prompt }}}} {prose(120, line=120)}"
    [[call]]
    text = "Heard: {{{{ prompt }}}} {prose(120, line=120, start=500)}"
    [[call]]
    text = "Heard: {{{{ prompt }}}} and done."
    [[call]]
    text = "Heard: {{{{ prompt }}}} and done again."
    """
"""The Write, then answers that quote the last thing the model was told, the first two long (6 s at
20 tok/s) for B to land in."""


def told(body: dict[str, object]) -> str:
    """What a model request tells the model as the user (its user turns' JSON): not its own earlier
    answers, which quote the steers ("Heard: Also mention ALPHA.")."""
    messages = body.get("messages")
    turns = messages if isinstance(messages, list) else []
    return json.dumps([m for m in turns if isinstance(m, dict) and m.get("role") == "user"])


def answered_in(events: list[Event]) -> str:
    """The agent's answer in `events`."""
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def handed(event: Event, word: str) -> bool:
    """Whether `event` says the steer holding `word` was sent to the agent, which took it."""
    return isinstance(event, Holding) and any(word in m.text for m in event.sent)


async def test_claude_code_reads_steers_where_lfg_records_them(in_world: AgentWorld) -> None:
    world = in_world
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('landing', SCENARIO)}")
    loaded = load_tickets(world.ticket("claude-code", "Write the notes."), Config(path=None), BUILTIN_TOOLS)
    events: list[tuple[float, Event]] = []
    waiting: list[str] = []
    kept_said: list[str] = []
    async with Providers() as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)

        def heard(event: Event) -> None:
            events.append((time.monotonic(), event))
            said = [e for _, e in events]
            if isinstance(event, ApprovalAsked):
                waiting.append(event.call_id)
                if not any(isinstance(e, ApprovalAsked) for e in said[:-1]):
                    kept_said.append(run.steer_kept("t"))  # what the composer and the API say
                    assert run.steer("t", A, by="ada") is None
            if isinstance(event, Holding) and (
                event.message.startswith("steer(s) kept") or handed(event, "ALPHA")
            ):
                while waiting:  # A is kept until the permission is answered (on main: sent): answer it
                    run.approvals.answer("t", waiting.pop(), True, "you")
            answered = next((n for n, e in enumerate(said) if handed(e, "ALPHA")), None)
            after = answered_in(said[answered or len(said) :])
            if "Heard:" in after and not any(isinstance(e, Holding) and "BRAVO" in e.message for e in said):
                kept_said.append(run.steer_kept("t"))
                assert run.steer("t", B, by="ada") is None  # mid-answer, after the permission

        await run_through(run, heard)

    said = [e for _, e in events]
    assert [e.outcome for e in said if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED], "one turn"
    assert kept_said == [ANSWER, ""], "the composer and the API say A is kept and B sent now"
    asked = [
        (r.received_at, told(r.body))
        for r in world.sim.log
        if str(r.body.get("model", "")).startswith("claude-") and "haiku" not in r.body.get("model", "")
    ]
    first = {steer: next(n for n, (_, said) in enumerate(asked) if steer in said) for steer in (A, B)}
    # Sent once the permission was answered, A reaches the model before B (it read B first before).
    assert first[A] < first[B], f"the model read them in the order sent: {first}"
    carried = [(said.count(A), said.count(B)) for _, said in asked]
    assert all(a <= 1 and b <= 1 for a, b in carried), f"each carried once: {carried}"
    for at, event in events:  # never recorded before a model request carried it
        if isinstance(event, Steered):
            assert asked[first[event.text]][0] < at, f"{event.text} recorded before the model read it"
    steered = [n for n, e in enumerate(said) if isinstance(e, Steered)]
    assert [said[n].text for n in steered] == [A, B], "recorded in the order sent"
    for n in steered:  # right before the model message that read it (quoting it, unless B cut it off)
        assert f"Heard: {said[n].text}" not in answered_in(said[:n]), "recorded after the answer it shaped"
        assert answered_in(said[n:]).lstrip().startswith("Heard:"), answered_in(said[n:])[:200]
        assert not any(isinstance(e, CallEnded) for e in said[:n]), "recorded mid-turn"
    holding = [e.message for e in said if isinstance(e, Holding)]
    assert sum(m.startswith("steer from ada sent to Claude Agent") for m in holding) == 2, holding
    kept = "steer(s) kept until Claude Agent goes on after your answer to its request, then sent: "
    assert [m for m in holding if m.startswith("steer(s) kept")] == [
        f"{kept}one it takes while it waits on you it reads only after its turn's last answer: "
        f"message 1 from ada: {A}"
    ]
    assert [m for m in holding if "next model call read" in m] == [
        f"Claude Agent's next model call read the steer(s) (message {n}): recorded where it began"
        for n in (1, 2)
    ]
