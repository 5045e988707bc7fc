"""One attempt of a coding-agent ticket: start the agent, open a session in the workdir, send the
prompt, stream what the agent does, and leave no process behind.

An agent process and its session serve one attempt, and the follow-ups of a completed one where
the caller keeps it. Its stderr goes to a private log file, never to the screen; the tail of it is
quoted when the agent fails. An agent that crashes, writes something other than ACP to its
stdout, or never answers `initialize` fails only its own ticket (`connection`, `malformed`,
`timeout`). Cancelling sends `session/cancel`, waits a moment for the agent to end its turn, then
ends the process (stdin closed, SIGTERM, SIGKILL to its whole process group).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from lfgtui.cost.tokens import OutputCalibration
from lfgtui.events import (
    AgentStarted,
    AttemptEnded,
    AttemptStarted,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    Outcome,
    Status,
)
from lfgtui.providers.base import Message
from lfgtui.run.agents.launch import AgentLaunch
from lfgtui.run.agents.session.agent import AgentSession
from lfgtui.run.approvals import Elicit
from lfgtui.run.steering import Inbox
from lfgtui.run.tool_loop import AttemptTask
from lfgtui.tools.toolbox import Toolbox


async def run_acp(
    launch: AgentLaunch,
    task: AttemptTask,
    ev: EventFactory,
    toolbox: Toolbox,
    transcript: list[Message] | None = None,
    session: AgentSession | None = None,
    keep: dict[str, AgentSession] | None = None,
    load: str | None = None,
    fork: str | None = None,
    elicit: Elicit | None = None,
    calibration: OutputCalibration | None = None,
    live: dict[str, AgentSession] | None = None,
    inbox: Inbox | None = None,
) -> AsyncIterator[Event]:
    """One attempt, framed by `AttemptStarted` and `AttemptEnded`, like `tool_loop.run_tool_loop`.

    `session` is a live session an earlier attempt kept (a follow-up goes on in it: the agent has the
    whole conversation); without one a new agent process starts. With `keep`, a session whose attempt
    completed is kept there under the ticket's id for the next follow-up instead of being ended.
    `load` is the session id of an earlier lfg's agent (a resumed run), which a new agent that can
    load sessions goes on with. `fork` is the session id of the ticket a fork started from, which a
    new agent that can fork sessions (ACP `session/fork`) forks; else the fork's prompt carries the
    conversation. `elicit` asks the person the agent's questions (None: nobody can answer them, and
    each is declined, said in the pane). `calibration`, when given, is what the run learnt of each
    model's tokens per character, which the turn's live estimate uses, as a model call's does, read
    again when the agent's count comes (the run may have learnt it meanwhile). `live`, when given,
    holds the session under the ticket's id while its turn runs (a person's cancel of one sub-agent
    reaches it there). `inbox`, when given, holds the person's steers, sent into the running turn of
    an agent that takes them (session/steering.py).
    Cancellation is the caller's, as there: the caller records the `cancelled` outcome.
    """
    yield ev(AttemptStarted, provider=launch.config.name, model=task.call.model)
    provider, model = launch.config.name, task.call.model

    def per_char() -> float | None:
        return None if calibration is None else calibration.tokens_per_char(provider, model)

    if session is not None and not session.alive:
        await session.close()
        session = None
    if session is None:
        try:
            session = await AgentSession.start(launch, task.call.model, ev, toolbox, elicit)
        except OSError as exc:
            message = (
                f"could not start the agent: {launch.command(task.call.model)[0]}: {exc.strerror or exc}"
            )
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=ErrorInfo(ErrorKind.CONNECTION, message))
            return
        first = ev(AgentStarted, message=session.started, log=str(session.log_path))
    else:
        first = ev(Status, message="the same agent session goes on: the agent has the whole conversation")
    completed = False
    if live is not None:
        live[ev.ticket] = session
    try:  # from the first yield: a consumer may stop at any one, and the agent must end then too
        yield first
        async for event in session.turn(task, ev, transcript, load, fork, per_char, inbox):
            completed = isinstance(event, AttemptEnded) and event.outcome is Outcome.COMPLETED
            yield event
    finally:
        if live is not None and live.get(ev.ticket) is session:
            del live[ev.ticket]
        if completed and keep is not None and session.alive:
            keep[ev.ticket] = session
        else:
            await session.close()
