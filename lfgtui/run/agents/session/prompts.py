"""A session's prompts: one `session/prompt` per attempt, everything the agent streams until it
is answered, its silence watched, its stop reason and its token counts (its usage, else Gemini
CLI's `_meta.quota`) read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import acp
from acp import schema

from lfgtui.cost import prices
from lfgtui.events import (
    AttemptEnded,
    CallEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    ModelShare,
    Outcome,
    RequestSent,
    SessionOpened,
    Stalled,
    Status,
    TextDelta,
    ToolResult,
    Usage,
)
from lfgtui.providers.base import AssistantMessage, Message, ProviderError, UserMessage
from lfgtui.providers.usage import UsageCheck
from lfgtui.run.agents.session.cancels import SessionCancels
from lfgtui.run.agents.session.opening import SessionOpening
from lfgtui.run.agents.session.state import _stderr_tail
from lfgtui.run.agents.session.steering import SessionSteering, SteerAnswer, SteerWake
from lfgtui.run.agents.tool_output import OutputDue
from lfgtui.run.steering import Inbox
from lfgtui.run.tool_loop import AttemptTask, output_limit, streamed_chars

PROMPT_DONE = object()
STOPPED = {
    "max_tokens": (ErrorKind.MAX_TOKENS, "the agent stopped at its token limit (max_tokens)"),
    "max_turn_requests": (
        ErrorKind.MAX_CALLS,
        "the agent stopped at its limit of model calls for one turn (max_turn_requests)",
    ),
    "refusal": (ErrorKind.REFUSED, "the agent refused to go on (refusal)"),
}


@dataclass(eq=False)
class Look:
    """The turn's next look at the agent's silence (`AgentSession._look`); one left in the inbox by an
    earlier look or turn is stale and passed over."""

    timer: asyncio.TimerHandle = field(init=False)


class SessionPrompts(SessionOpening, SessionCancels, SessionSteering):
    """One prompt and everything the agent streams for it, its silence watched."""

    async def turn(
        self,
        task: AttemptTask,
        ev: EventFactory,
        transcript: list[Message] | None,
        load: str | None,
        fork: str | None,
        per_char: Callable[[], float | None],
        inbox: Inbox | None = None,
    ) -> AsyncIterator[Event]:
        """One prompt and everything the agent does for it, as the events of attempt `ev`. The first
        turn opens the session (loading `load`, or forking `fork`, where it can); its output is
        estimated at what `per_char` says a character is worth when the prompt leaves, until the agent
        reports its count, which carries what it says then. `inbox` holds the person's steers, sent
        into the turn where the agent takes them (steering.py)."""
        inbox = Inbox() if inbox is None else inbox
        fresh = self.session_id is None
        self.client.between_turns = False  # its requests are asked again, in this turn
        count, late = (0, []) if fresh else self._late()
        previous = self.client.ev.attempt
        self.client.new_reader(ev)
        self.client.cancelling = False
        self._answer = []
        for event in late:
            yield event
        if count:
            message = (
                f"the agent went on after its turn of attempt {previous} ended: recorded with that attempt"
            )
            yield ev(Status, message=message)
        try:
            said = await self._open(load, task.call.model, fork) if fresh else []
            whole = fresh and not self.loaded  # a session that has none of the conversation yet
            assert self.session_id is not None
            if fresh:
                how = " (forked)" if self.forked else " (resumed)" if self.resumed else ""
                how = how or (" (loaded)" if self.loaded else "")
                opened = f"agent session {self.session_id}{how}"
            else:  # recorded for this attempt too: a resumed run loads the latest attempt's session
                opened = f"agent session {self.session_id} (goes on)"
            yield ev(SessionOpened, message=opened, session_id=self.session_id, loaded=fresh and self.loaded)
            yield ev(RequestSent, call=0, tokens_per_char=per_char())
            for event in self.client.reader.carried():
                yield event
            for line in said:
                yield ev(Status, message=line)
            if whole and len(task.call.messages) > 1:
                yield ev(Status, message="a new agent session: the earlier conversation is in the prompt")
            async for event in self._turn(task, whole, inbox):
                yield event
            response = await self._response()
        except ProviderError as failed:
            reader = self.client.reader
            for event in [*reader.unfinished(), *reader.ignored(), *reader.unsaid()]:
                yield event
            for event in self._steers_read(False, inbox):
                yield event
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=failed.info)
            return
        except asyncio.CancelledError:
            self._steers_read(False, inbox)  # held again: what the cancelled attempt leaves unsent
            await self._cancel()
            raise
        reader = self.client.reader
        worth = per_char()
        counted = from_usage(ev, response.usage, worth) or from_quota(ev, response.field_meta, worth)
        if any(isinstance(event, Usage) and event.models for event in counted):
            # The models it named are priced from genai-prices' table (`PriceBook.answered_by`): read
            # here, the first time, in a thread, so that the loop pricing the count never waits for it.
            await asyncio.to_thread(prices.load)
        for event in [*reader.unfinished(), *reader.ignored(), *reader.unsaid(), *counted]:
            yield event
        stop = response.stop_reason
        yield ev(CallEnded, stop_reason=stop)
        for event in self._steers_read(stop != "cancelled" and stop not in STOPPED, inbox):
            yield event  # after `CallEnded`: read by the turn's end, cutting no call's count
        refused = stop == "cancelled" and not self.client.cancelling and bool(self.client.reader.denied)
        if refused:  # the person's no ended the agent's turn (Codex's "tell it what to do differently")
            message = "the agent ended its turn when told no: follow up to tell it what to do instead"
            yield ev(Status, message=message)
        if stop == "cancelled" and not refused:
            yield ev(AttemptEnded, outcome=Outcome.CANCELLED)
        elif stop in STOPPED:
            kind, message = STOPPED[stop]
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=ErrorInfo(kind, message))
        else:
            if transcript is not None:
                transcript.extend([*task.call.messages, AssistantMessage("".join(self._answer))])
            yield ev(AttemptEnded, outcome=Outcome.COMPLETED)

    def _late(self) -> tuple[int, list[Event]]:
        """What the agent sent after its last prompt was answered, before this one is sent (issue 78:
        an agent that streams on once its `session/prompt` returned): how many items, and the events
        of the attempt whose turn it was, stamped with it by its reader; lfg's stale looks and steer
        answers are passed over. Sent after this prompt, an update cannot be told from this turn's."""
        count, events = 0, list[Event]()
        while not self.client.inbox.empty():
            item = self.client.inbox.get_nowait()
            if not isinstance(item, Look | SteerWake | SteerAnswer) and item is not PROMPT_DONE:
                count += not isinstance(item, asyncio.Future | OutputDue)  # lfg's own, not the agent's
                events += self.client.events(item)
        reader = self.client.reader
        return count, [*events, *reader.unfinished(), *reader.ignored()] if events else []

    async def _close_session(self) -> None:
        """As the session closes (lifecycle.py), what the agent sent after its last turn, which no
        turn will stream now, is said in its log rather than dropped unsaid (issue 78)."""
        await super()._close_session()
        count, _ = self._late()
        if self.session_id is not None and count:
            noun = "update" if count == 1 else "updates"
            self.log.write(
                f"\n[lfg: the agent went on after its turn of attempt {self.client.ev.attempt} ended, and its"
                f" session closed before another: {count} {noun} not shown]\n".encode()
            )

    async def _turn(self, task: AttemptTask, whole: bool, inbox: Inbox) -> AsyncIterator[Event]:
        """Everything the agent streams until its prompt is answered. A new session is sent the
        earlier conversation too; a live one has it already and gets the last prompt only."""
        assert self.session_id is not None
        messages = task.call.messages
        text = acp.text_block(prompt_text(messages if whole else messages[-1:]))
        traced = self.launch.trace_context()  # root keys of the prompt's `_meta`
        self.prompt = asyncio.create_task(
            self.conn.prompt(session_id=self.session_id, prompt=[text], **traced)
        )
        self.prompt.add_done_callback(lambda _: self.client.inbox.put_nowait(PROMPT_DONE))
        self.idle.restart()
        streamed, limit = 0, task.max_output_chars
        look = self._look()
        self._steers_open(inbox)
        try:
            yield self._offer()
            while True:
                item = await self.client.inbox.get()
                if isinstance(item, Look):
                    if item is look:
                        for event in await self._quiet():
                            yield event
                        look = self._look()
                    continue
                if (stalled := self.idle.heard()) is not None:
                    yield self.ev(
                        Status, message=f"the agent goes on after {stalled:.0f} s without an update"
                    )
                if item is PROMPT_DONE:
                    for event in await self._steers_close(inbox):
                        yield event
                    break
                if isinstance(item, SteerWake):
                    for event in self._steers_send(inbox):
                        yield event
                    continue
                if isinstance(item, SteerAnswer):
                    for event in self._steer_landed(item, inbox):
                        yield event
                    continue
                for event in self._steers_reached(item, inbox) if self._steers_sent else ():
                    yield event
                for event in self.client.events(item):
                    if isinstance(event, TextDelta):
                        self._answer.append(event.text)
                    streamed += streamed_chars(event)
                    yield event
                    if isinstance(event, ToolResult) and self.folder and (changed := self.folder.changed()):
                        yield self.ev(Status, message=changed)
                for event in self._steers_after_answer(inbox):
                    yield event
                if streamed > limit:
                    await self._cancel()
                    raise ProviderError(output_limit(limit))
        finally:
            look.timer.cancel()
            self._steers_stop(inbox)
            self.client.turn_over()

    def _look(self) -> Look:
        """A look at the agent's silence, due in the inbox when its notice or limit may have come:
        one timer, not one per update (the agent's updates only move `idle.last` on)."""
        look = Look()
        look.timer = asyncio.get_running_loop().call_later(
            self.idle.wait_s(), self.client.inbox.put_nowait, look
        )
        return look

    async def _quiet(self) -> list[Event]:
        """The agent has been silent a while: past the notice it is stalled (said once, with the end
        of its log, where an agent retrying a dead network says so); at the limit the turn is
        cancelled and the attempt fails as `timeout`."""
        idle, watch = self.idle.idle_s(), self.idle
        if idle is None:  # the person is asked: that takes as long as it takes
            return []
        limit = watch.limit_s
        if idle >= limit:
            await self._cancel()
            message = f"the agent sent nothing for {limit:g} s while its turn was under way (idle_timeout_s)"
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.TIMEOUT, message)))
        if watch.stalled or idle < watch.notice_s:
            return []
        watch.stalled = True
        tail = _stderr_tail(self.log_path)
        said = f"; its log says: {tail}" if tail else ""
        silent = f"no update from the agent for {idle:.0f} s"
        message = f"stalled: {silent}; it fails at {limit:g} s (idle_timeout_s){said}"
        return [self.ev(Stalled, message=message, idle_s=idle, limit_s=limit)]

    async def _response(self) -> schema.PromptResponse:
        assert self.prompt is not None
        try:
            return self.prompt.result()
        except Exception as exc:  # see _failure
            raise ProviderError(await self._failure(exc)) from None


def prompt_text(messages: tuple[Message, ...]) -> str:
    """The prompt to send: the last user message, after the earlier conversation written out when
    there is one (for a new session, which remembers nothing of it)."""
    *earlier, last = messages
    asked = last.text if isinstance(last, UserMessage) else ""
    if not earlier:
        return asked
    lines = ["This continues an earlier conversation with you, which follows.", ""]
    for message in earlier:
        if isinstance(message, UserMessage):
            lines += ["## The user asked", "", message.text, ""]
        elif isinstance(message, AssistantMessage) and message.text:
            lines += ["## You answered", "", message.text, ""]
    return "\n".join([*lines, "## Now the user asks", "", asked])


def from_usage(ev: EventFactory, usage: schema.Usage | None, tokens_per_char: float | None) -> list[Event]:
    """The turn's token counts as the agent reported them, each checked, with what lfg's calibration
    says a character is worth now; without them the gauges keep estimating."""
    if usage is None:
        return []
    check = UsageCheck(ev)
    return check.events(
        input_tokens=check.count("usage.inputTokens", usage.input_tokens),
        output_tokens=check.count("usage.outputTokens", usage.output_tokens),
        reasoning_tokens=check.count("usage.thoughtTokens", usage.thought_tokens),
        tokens_per_char=tokens_per_char,
    )


QUOTA_COUNT = "_meta.quota.token_count"
"""Where Gemini CLI puts the turn's token counts in its `session/prompt` answer: the sums over the
turn's model calls of each one's `promptTokenCount` and `candidatesTokenCount` (its answer and its
tool calls' arguments; its thoughts are not in it)."""


def from_quota(ev: EventFactory, meta: dict[str, Any] | None, tokens_per_char: float | None) -> list[Event]:
    """The turn's token counts from the answer's `_meta.quota.token_count` (Gemini CLI's), each
    checked, as `from_usage`'s; none when it has none. Its output count holds none of the thoughts
    (`reasoning_tokens` 0), so the rate leaves them out too (`RequestMetrics.thinking_apart`)."""
    quota = meta.get("quota") if isinstance(meta, dict) else None
    counted = quota.get("token_count") if isinstance(quota, dict) else None
    if not isinstance(counted, dict):
        return []
    check = UsageCheck(ev)
    return check.events(
        input_tokens=check.count(f"{QUOTA_COUNT}.input_tokens", counted.get("input_tokens")),
        output_tokens=(output := check.count(f"{QUOTA_COUNT}.output_tokens", counted.get("output_tokens"))),
        reasoning_tokens=None if output is None else 0,
        models=_shares(check, quota.get("model_usage")),
        tokens_per_char=tokens_per_char,
    )


QUOTA_MODELS = "_meta.quota.model_usage"
"""Where Gemini CLI splits the turn's counts by the model that answered: `[{"model": …,
"token_count": {"input_tokens": …, "output_tokens": …}}, …]`."""


def _shares(check: UsageCheck, listed: object) -> tuple[ModelShare, ...]:
    """Each model's part of the turn's counts, so that each is priced as that model; none unless every
    entry names its model and both counts (a part left out would be a cost left out)."""
    if not isinstance(listed, list):
        return ()
    shares = []
    for n, entry in enumerate(listed):
        where = f"{QUOTA_MODELS}[{n}]"
        entry = entry if isinstance(entry, dict) else {}
        counted = entry.get("token_count")
        counted = counted if isinstance(counted, dict) else {}
        model = check.model(f"{where}.model", entry.get("model", ""))
        input_tokens = check.count(f"{where}.token_count.input_tokens", counted.get("input_tokens"))
        output_tokens = check.count(f"{where}.token_count.output_tokens", counted.get("output_tokens"))
        if model is None or input_tokens is None or output_tokens is None:
            return ()
        shares.append(ModelShare(model, input_tokens, output_tokens))
    return tuple(shares)
