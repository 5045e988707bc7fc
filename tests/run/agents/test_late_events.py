"""An agent that goes on after lfg's `session/prompt` was answered (issue 78: Codex went on when its
model's Responses interrupt was refused), against the sim agent under `--answers-early`: it answers
its prompt while its first permission request waits for the person, and goes on once it is answered.

The attempt ends when the prompt is answered; what the agent's turn does after (the person's answer
to the request it left waiting) belongs to that attempt: recorded there, never as a second attempt of
the same number, and the history goes on recording the run to its end."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.events import ApprovalAnswered, ApprovalAsked, AttemptEnded, Event, Outcome
from lfgtui.history.writer import open_run_history
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.agents import run_through
from tests.support.recording import load_recorded

TICKETS = """
[defaults]
provider = "sim-acp"
workdir = "{workdir}"

[[ticket]]
id = "t"
prompt = "Write the notes."
model = "writer:ttft_ms=0,tokens_per_s=0"

[[ticket]]
id = "after"
prompt = "Say hello."
model = "hello:ttft_ms=0,tokens_per_s=0"
depends_on = ["t"]
"""


async def test_what_an_agent_does_after_its_prompt_was_answered_stays_with_that_attempt(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(TICKETS.format(workdir=tmp_path))
    sim = BUILTIN["sim-acp"]
    config = sim.with_agent(command=(*sim.agent.command, "--answers-early"))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    db, problems, events = tmp_path / "history.sqlite3", list[str](), list[Event]()
    async with (
        open_run_history(db, loaded, "lfg run", problems.append) as history,
        Providers({"sim-acp": config}) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)
        run.record(history)
        waiting: list[str] = []
        ended: list[AttemptEnded] = []

        def heard(event: Event) -> None:
            """The request is answered once its attempt has ended (the agent answered its prompt) and
            it is asked: lfg shows the ask as it has caught up with the updates before it, which under
            load is just after the prompt's answer ended the attempt (a CI run: the end came first)."""
            events.append(event)
            if isinstance(event, ApprovalAsked) and event.ticket == "t":
                waiting.append(event.call_id)
            if isinstance(event, AttemptEnded) and event.ticket == "t":
                ended.append(event)
            if ended and waiting:
                run.approvals.answer("t", waiting.pop(), True, "you")

        await run_through(run, heard)
    assert problems == [], "the history went on recording"
    ends = [(e.ticket, e.attempt, e.outcome) for e in events if isinstance(e, AttemptEnded)]
    assert ends == [("t", 1, Outcome.COMPLETED), ("after", 1, Outcome.COMPLETED)]
    [answered] = [e for e in events if isinstance(e, ApprovalAnswered)]
    assert (answered.ticket, answered.attempt, answered.allowed) == ("t", 1, True)
    assert events.index(answered) > events.index(next(e for e in events if isinstance(e, AttemptEnded)))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT t.ticket, a.number FROM attempts a JOIN tickets t ON t.id = a.ticket_id")
        assert sorted(rows) == [("after", 1), ("t", 1)], "one row an attempt"
    [ticket, after] = load_recorded(db, history.run_id).tickets
    [attempt] = ticket.attempts
    assert attempt.outcome is Outcome.COMPLETED
    recorded = [e for e in attempt.events if isinstance(e, ApprovalAnswered)]
    assert [(e.message, e.allowed) for e in recorded] == [(answered.message, True)], "kept with its attempt"
    assert [a.outcome for a in after.attempts] == [Outcome.COMPLETED], "recorded after it too"
