"""An update an agent sends after its `session/prompt` was answered (issue 78: Codex streamed on
after codex-acp answered), against the sim agent under `--late-word`: it answers its prompt, and
once lfg has answered a file read it asks after that, sends one more message chunk of that turn.

The session is kept for a follow-up; the word waits in it until the next turn. It belongs to the
turn that sent it: recorded with attempt 1, said so in attempt 2, never attempt 2's answer.

A request sent then (`--late-asks`: a permission, a file write, a command) is refused at once, not
left waiting for a turn that may never come: nobody is shown it, the agent is not stuck, and the
refusals are said with the attempt whose turn it was."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.events import ApprovalAsked, AttemptEnded, Event, Outcome, Status, TextDelta
from lfgtui.history.writer import open_run_history
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.acp_prompt import LATE_ASKS, LATE_WORD
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


async def _said_in_log(log: Path, start: str) -> str:
    """The agent's log line that begins with `start`, once the agent has written it."""
    async with asyncio.timeout(30 * PATIENCE):
        while not (
            lines := [line for line in (await asyncio.to_thread(log.read_text)).splitlines() if start in line]
        ):
            await asyncio.sleep(0.05)
    return lines[0].split(start, 1)[1]


async def test_a_request_after_the_prompt_was_answered_is_refused_at_once(tmp_path: Path) -> None:
    """Fails before: the permission request waited for the next turn to stream the inbox, so with no
    follow-up the person was never asked and the agent never answered (the log line never came)."""
    path = tmp_path / "tickets.toml"
    path.write_text(TICKETS.format(workdir=tmp_path))
    sim = BUILTIN["sim-acp"]
    config = sim.with_agent(command=(*sim.agent.command, "--late-asks"))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events = list[Event]()
    async with Providers({"sim-acp": config}) as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)
        run.sinks.append(events.append)
        try:
            run.start()
            assert await run.wait() == {"t": Outcome.COMPLETED}
            assert run.agents is not None
            got = await _said_in_log(run.agents["t"].log_path, LATE_ASKS)
            await until_the_agent_has_sent_it(run)
            assert run.follow_up("t", "Say it again.") is None
            assert await run.wait() == {"t": Outcome.COMPLETED}
        finally:
            await run.close_agents()
    after = "it came after the agent's turn had ended, when nobody is shown it"
    assert got == f"permission cancelled; write refused: {after}; command refused: {after}"
    assert not (tmp_path / "late.txt").exists(), "neither the write nor the command ran"
    assert not [e for e in events if isinstance(e, ApprovalAsked)], "nobody was asked"
    said = [e.message for e in events if type(e) is Status and e.attempt == 1 and "refused" in e.message]
    assert said == [
        f"refused the agent's permission request for a late edit: {after}",
        f"refused the agent's write of {tmp_path / 'late.txt'}: {after}",
        f"refused the agent's command echo late > late.txt: {after}",
    ], "with the attempt whose turn it was, shown as the follow-up starts"
