"""Steering a coding agent's running turn over ACP: the person's steer goes into the turn itself,
not held for the next one.

claude-agent-acp and codex-acp advertise it in their `initialize` answer
(`_meta.steering.supported`) and take the extension request `_session/steering {sessionId, prompt,
_meta.steering.idleBehavior}`, answering `{outcome}`: `injected` (it joined the running turn),
`promptRequired` (no turn ran to join: the content stays lfg's to send), `startedNewTurn` (the agent
started a turn of its own with it) or `failed`. lfg asks for `idleBehavior: "promptRequired"`: a turn
the agent starts on its own has no `session/prompt` that owns it (claude-agent-acp #903), so lfg
would never learn when it ends. lfg steers only while its own `session/prompt` runs and never sends
a second prompt to queue behind it (lfg holds queued messages itself), which keeps clear of the
release where steering after an agent-queued turn hung that turn's prompt (claude-agent-acp #1039).

A steer the agent takes (`injected`) is only handed over: claude-agent-acp 0.101 pushes it into
Claude Code's input and says nothing when its model reads it (no echo reaches the client). Tried
against the sim, Claude Code read a steer sent mid-answer at its next call (cutting that answer off),
but one sent while a permission waited only after the turn's last answer, as a call of its own: two
such steers reached the model in the reverse of the order sent. So lfg keeps a steer sent while
Claude Code waits on the person (a permission, a question: `Withdrawals.open`) until they have
answered and the agent has shown it went on (the answered call's status changed, and no call it
announced is still to run: answered.py), then sends it (`_keeps`): claude-agent-acp delivers it
at once (priority `now`), its model reads it at its next call, and steers reach the model in the
order sent. A steer it takes at priority `now` aborts the model message being written: a tool call
still streaming in it never runs ("Claude stopped this tool call before it ran."), and the agent
says nothing as a call starts to run, so lfg keeps a steer while a call it announced has not run
(still `pending`) as well, and sends it once the call has run: a `Write` is written, then the model
reads the steer. A turn that ends while a steer is kept sends it as the next turn, saying so
(`kept_past_turn`). Codex reads a steer taken at a permission at its next call already: sent at
once. lfg says it was sent (`Holding.sent`), and records it (`Steered`) where the model read it: for
Claude Code, right before the next model message it begins (its chunks' `messageId`, one per model
call: `_steers_reached`); for the others, once the turn's prompt is answered, when the agent has
read every steer it took (its turn settles only after a result that answers the last one), without
claiming a call it did not see. A turn that does not complete holds those not recorded yet again,
unsent as far as lfg knows. One it does not take, or that fails, is queued as the next turn, saying
why.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import acp
from acp import schema

from lfgtui.events import Event, HeldMessage, Holding, Status, Steered, SteerOffer
from lfgtui.inert import inert
from lfgtui.run.agents.choices import said as agent_said
from lfgtui.run.agents.login import CLAUDE_AGENTS
from lfgtui.run.agents.process import STOP_WAIT_S
from lfgtui.run.agents.session.state import SessionState
from lfgtui.run.agents.updates import TextChunk
from lfgtui.run.steer_words import (
    ANSWER,
    CALL,
    kept_for,
    kept_past_turn,
    not_known_read,
    read_at_message,
    read_by_turn_end,
    sent_to_agent,
)
from lfgtui.run.steering import Inbox, summary

STEER_METHOD = "session/steering"
"""The extension request, as the SDK's `ext_method` takes it (it sends it as `_session/steering`)."""
STEER_META = {"steering": {"idleBehavior": "promptRequired"}}
MODEL_CHUNKS = (TextChunk, schema.AgentMessageChunk, schema.AgentThoughtChunk)
"""The pieces of the agent's model messages: their `messageId` says which message (`_steers_reached`)."""


def advertises_steering(meta: dict[str, Any] | None) -> bool:
    """Whether an `initialize` answer's `_meta` says the agent takes `_session/steering`."""
    steering = meta.get("steering") if isinstance(meta, dict) else None
    return isinstance(steering, dict) and steering.get("supported") is True


class SteerWake:
    """In the session's inbox: a steer is held for the running turn, to be sent now."""


@dataclass(frozen=True)
class SteerAnswer:
    """In the session's inbox: the agent's answer to one steer (`outcome`, or `error` when the
    request failed), read in the turn's order with everything else the agent sent."""

    task: asyncio.Task[SteerAnswer]
    message: HeldMessage
    outcome: str
    error: str = ""


class SessionSteering(SessionState):
    """The running turn's steers, sent to an agent that advertises `_session/steering`."""

    def _steers_open(self, inbox: Inbox) -> None:
        """The turn's prompt is out: steers may go into it, sent as soon as they are held."""
        if not self.steering:
            return
        self._steer_tasks: dict[asyncio.Task[SteerAnswer], HeldMessage] = {}
        self._steers_sent = []
        self._keeping = ""
        """Why steers are kept now (`_keeps`; "": they are not), until `_steers_after_answer`."""
        self._kept_said: set[int] = set()
        self._kept_at_end = ""
        self.client.answers.new_turn()
        inbox.steerable = True
        inbox.wake = lambda: self.client.inbox.put_nowait(SteerWake())
        inbox.keeps = self._keeps
        if any(m.steer for m in inbox.held):  # held again for a retry, or before the prompt left
            inbox.wake()

    def _offer(self) -> Event:
        """What the turn takes from the person, said as it begins: whoever watches the run (its
        coordinator, through the broker) knows what a steer sent to it does."""
        steers, name = self.steering, self._agent_name()
        keeps = steers and self._late_reader()
        return self.ev(SteerOffer, agent=name, coding_agent=True, steers=steers, keeps_for_answer=keeps)

    def _agent_name(self) -> str:
        """The agent as the person knows it: the title its `initialize` answer gives (its name
        without one), else its provider's name."""
        info = self.agent_info
        return (info.title or info.name) if info is not None else self.launch.config.name

    def _steers_send(self, inbox: Inbox) -> list[Event]:
        """Send every steer held, each its own request, its answer coming back through the inbox;
        to an agent that would read them late or drop a call for them, keep them while it waits on
        the person or has a call to run, saying so once for each (`_steers_after_answer` sends
        them)."""
        if why := self._keeps():
            self._keeping = why
            kept = [m for m in inbox.held if m.steer and m.id not in self._kept_said]
            if not kept:
                return []
            self._kept_said.update(m.id for m in kept)
            said = kept_for(kept, self._agent_name(), why)
            return [self.ev(Holding, message=said, held=tuple(inbox.held))]
        self._keeping = ""
        for message in inbox.take_steers():
            task = asyncio.create_task(self._steer(message))
            self._steer_tasks[task] = message
            task.add_done_callback(self._steer_answered)
        return []

    def _keeps(self) -> str:
        """Why a steer sent now is kept ("": it is sent at once). The agent is Claude Code's adapter,
        and it waits on the person, or has not shown it went on after their last answer (the
        answered call's status has not changed, or a call it announced has not run: it may ask
        again; answered.py): `ANSWER`, one sent now may be read only after the turn's last answer
        (claude-agent-acp 0.101.0 `steer()` delivers at priority `later` while its `openUserInputs`
        holds a permission or question). Or a call it announced has not run: `CALL`, one sent now
        stops that call if the agent is still writing it (priority `now` aborts the model message).
        Codex reads a steer at its next model call, in order, so its steers go at once."""
        if not self._late_reader():
            return ""
        answers = self.client.answers
        if self.client.withdrawals.open or answers.unread:
            return ANSWER
        return CALL if answers.call_pending else ""

    def _late_reader(self) -> bool:
        """Whether the agent is Claude Code's adapter, which reads a steer taken while it waits on
        the person only after its turn's last answer (`_keeps`)."""
        return self.agent_info is not None and self.agent_info.name in CLAUDE_AGENTS

    def _steers_after_answer(self, inbox: Inbox) -> list[Event]:
        """Steers kept while the agent waited on the person, or had a call to run, go once nothing
        waits, the agent has shown it went on after the last answer and every call it announced has
        run: it takes them at once (priority `now`), dropping no call, and its next model call reads
        them, in the order sent."""
        if not self.steering or not self._keeping or self._keeps():
            return []
        return self._steers_send(inbox)

    def _steers_reached(self, item: Any, inbox: Inbox) -> list[Event]:
        """Before `item` of the turn, while steers sent are not known read: where it begins a model
        message of Claude Code's (a chunk with a `messageId` none streamed as it took the first, one
        per model call), its model read them there: it takes a steer at priority `now` (lfg keeps
        one while it would take it `later`), which its next model call carries, and the rest of a
        message it cut off keeps that message's id. Each is recorded (`Steered`) right before that
        message, in the order sent, rather than at the turn's end (`_steers_read`, for the agents
        whose messages say nothing of this)."""
        message_id = item.message_id if isinstance(item, MODEL_CHUNKS) else None
        if message_id is None or message_id in self._sent_during or not self._late_reader():
            return []
        sent, self._steers_sent = self._steers_sent, []
        events: list[Event] = [self.ev(Steered, text=m.text, by=m.by) for m in sent]
        said = read_at_message(sent, self._agent_name())
        return [*events, self.ev(Holding, message=said, held=tuple(inbox.held))]

    def _steer_answered(self, task: asyncio.Task[SteerAnswer]) -> None:
        if not task.cancelled():
            self.client.inbox.put_nowait(task.result())

    async def _steer(self, message: HeldMessage) -> SteerAnswer:
        assert self.session_id is not None
        task = asyncio.current_task()
        assert task is not None
        params = {
            "sessionId": self.session_id,
            "prompt": [acp.text_block(message.text).model_dump(by_alias=True, exclude_none=True)],
        }
        try:
            answer = await self.conn.ext_method(STEER_METHOD, {**params, "_meta": STEER_META})
        except acp.RequestError as exc:
            error = f"the agent answered an error: {agent_said(exc)} (code {exc.code})"
            return SteerAnswer(task, message, "", error)
        except Exception as exc:  # a broken answer fails the steer only: the message is queued
            return SteerAnswer(task, message, "", f"the steer could not be sent: {type(exc).__name__}")
        outcome = answer.get("outcome") if isinstance(answer, dict) else None
        return SteerAnswer(task, message, outcome if isinstance(outcome, str) else "")

    def _steer_landed(self, answer: SteerAnswer, inbox: Inbox) -> list[Event]:
        """What the agent's answer to a steer means for the turn; a stale answer (of a steer the
        turn already settled) says nothing."""
        if answer.task not in self._steer_tasks:
            return []
        del self._steer_tasks[answer.task]
        message = answer.message
        if answer.outcome == "injected":
            if not self._steers_sent:
                blocks = self.client.reader.blocks
                self._sent_during = frozenset({blocks.answer.message_id, blocks.thinking.message_id})
            self._steers_sent.append(message)
            said = sent_to_agent(message, self._agent_name(), at_message=self._late_reader())
            return [self.ev(Holding, message=said, held=tuple(inbox.held), sent=(message,))]
        if answer.outcome == "startedNewTurn":
            note = (
                "the agent began a turn of its own with the steer (startedNewTurn): "
                "lfg cannot see that turn end"
            )
            held = self.ev(Holding, message=f"{note}: {summary(message)}", held=tuple(inbox.held))
            return [self.ev(Steered, text=message.text, by=message.by), self.ev(Status, message=note), held]
        why = answer.error or {
            "promptRequired": "its turn had ended (promptRequired)",
            "failed": "it could not take it (failed)",
        }.get(answer.outcome, f"it answered {inert(answer.outcome)[:40]!r}")
        inbox.requeue(message)
        queued = f"the agent did not take the steer from {message.by}: {why}; queued as the next turn"
        return [self.ev(Holding, message=f"{queued}: {summary(message)}", held=tuple(inbox.held))]

    async def _steers_close(self, inbox: Inbox) -> list[Event]:
        """The turn's prompt is answered: the steers still on their way are waited for a moment (one
        the agent took is a turn at its place), the rest queued."""
        if not self.steering:
            return []
        inbox.steerable, inbox.wake, inbox.keeps = False, None, None
        self._kept_at_end = self._keeping  # it never went on: sent as next turns
        if pending := set(self._steer_tasks):
            await asyncio.wait(pending, timeout=STOP_WAIT_S)
        events: list[Event] = []
        for task in pending:
            done = task.done() and not task.cancelled()
            answer = (
                task.result() if done else SteerAnswer(task, self._steer_tasks[task], "", "it did not answer")
            )
            events += self._steer_landed(answer, inbox)
        self._steers_stop(inbox)
        return events

    def _steers_read(self, completed: bool, inbox: Inbox) -> list[Event]:
        """The turn's prompt is answered and its `CallEnded` said: the steers the agent took are read
        by now (`Steered`, in the order sent, said as such), if the turn completed; else held again.
        Steers still kept then (`_kept_at_end`) are each queued as a next turn, saying why."""
        kept, self._kept_at_end = self._kept_at_end, ""
        if not self.steering:
            return []
        agent, events = self._agent_name(), list[Event]()
        if sent := self._steers_sent:
            self._steers_sent = []
            if not completed:
                inbox.unread(sent)
                return [self.ev(Holding, message=not_known_read(sent, agent), held=tuple(inbox.held))]
            events += [self.ev(Steered, text=m.text, by=m.by) for m in sent]
            events.append(self.ev(Holding, message=read_by_turn_end(sent, agent), held=tuple(inbox.held)))
        if completed and kept and (missed := inbox.steers_to_queue()):
            said = kept_past_turn(missed, agent, kept)
            events.append(self.ev(Holding, message=said, held=tuple(inbox.held)))
        return events

    def _steers_stop(self, inbox: Inbox) -> None:
        """The turn is over, however it ended: no steer goes into it any more; one not answered is
        held again, queued (what the ticket's end says it did not send)."""
        if not self.steering:
            return
        inbox.steerable, inbox.wake, inbox.keeps = False, None, None
        self._keeping = ""  # still held: queued as the next turn as the attempt ends
        for task, message in self._steer_tasks.items():
            task.cancel()
            inbox.requeue(message)
        self._steer_tasks = {}
