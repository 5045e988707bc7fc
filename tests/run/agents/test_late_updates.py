"""An update an agent sends after its `session/prompt` was answered (issue 78: Codex streamed on
after codex-acp answered), against the sim agent under `--late-word`: it answers its prompt, and
once lfg has answered a file read it asks after that, sends one more message chunk of that turn.

The session is kept for a follow-up; the word waits in it until the next turn. It belongs to the
turn that sent it: recorded with attempt 1, said so in attempt 2, never attempt 2's answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.events import AttemptEnded, Event, Outcome, Status, TextDelta
from lfgtui.history.writer import open_run_history
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.acp_prompt import LATE_WORD
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.patience import PATIENCE
from tests.support.recording import load_recorded

TICKETS = """
[defaults]
provider = "sim-acp"
workdir = "{workdir}"

[[ticket]]
id = "t"
prompt = "Say hello."
model = "hello:ttft_ms=0,tokens_per_s=0"
"""


async def until_the_agent_has_sent_it(run: Run) -> None:
    """The late word is in lfg's hands (the kept session's inbox), so the follow-up comes after it."""
    assert run.agents is not None
    inbox = run.agents["t"].client.inbox
    async with asyncio.timeout(30 * PATIENCE):
        while inbox.empty():
            await asyncio.sleep(0.01)


async def test_an_update_after_the_prompt_was_answered_stays_with_its_attempt(tmp_path: Path) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(TICKETS.format(workdir=tmp_path))
    sim = BUILTIN["sim-acp"]
    config = sim.with_agent(command=(*sim.agent.command, "--late-word"))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    db, problems, events = tmp_path / "history.sqlite3", list[str](), list[Event]()
    async with (
        open_run_history(db, loaded, "lfg run", problems.append) as history,
        Providers({"sim-acp": config}) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)
        run.record(history)
        run.sinks.append(events.append)
        try:
            run.start()
            await run.wait()
            await until_the_agent_has_sent_it(run)
            assert run.follow_up("t", "Say it again.") is None
            await run.wait()
        finally:
            await run.close_agents()
    assert problems == []
    ends = [(e.attempt, e.outcome) for e in events if isinstance(e, AttemptEnded)]
    assert ends == [(1, Outcome.COMPLETED), (2, Outcome.COMPLETED)]
    late = [e for e in events if isinstance(e, TextDelta) and LATE_WORD in e.text]
    assert [e.attempt for e in late] == [1], "the late word is the first turn's"
    said = [e.message for e in events if type(e) is Status and e.attempt == 2 and "attempt 1" in e.message]
    assert said == ["the agent went on after its turn of attempt 1 ended: recorded with that attempt"]
    assert run.states["t"].answer.count(LATE_WORD) == 0, "not the follow-up's answer"
    [ticket] = load_recorded(db, history.run_id).tickets
    first, second = ticket.attempts
    recorded = lambda attempt: "".join(e.text for e in attempt.events if isinstance(e, TextDelta))  # noqa: E731
    assert LATE_WORD in recorded(first)
    assert LATE_WORD not in recorded(second)


async def test_an_update_after_the_last_turn_is_said_in_the_agents_log_as_its_session_closes(
    tmp_path: Path,
) -> None:
    """No follow-up comes: the word waits in the kept session until lfg closes it, and is said in
    the agent's log then, not dropped unsaid."""
    path = tmp_path / "tickets.toml"
    path.write_text(TICKETS.format(workdir=tmp_path))
    sim = BUILTIN["sim-acp"]
    config = sim.with_agent(command=(*sim.agent.command, "--late-word"))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    async with Providers({"sim-acp": config}) as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)
        try:
            run.start()
            assert await run.wait() == {"t": Outcome.COMPLETED}
            await until_the_agent_has_sent_it(run)
            assert run.agents is not None
            log = run.agents["t"].log_path
        finally:
            await run.close_agents()
    said = [line for line in log.read_text().splitlines() if line.startswith("[lfg: ")]
    assert said == [
        "[lfg: the agent went on after its turn of attempt 1 ended, and its session closed before"
        " another: 1 update not shown]"
    ]
