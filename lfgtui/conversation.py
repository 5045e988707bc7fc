"""An attempt's conversation built from its events: what a follow-up sends after it.

One builder for every place that needs it, so a follow-up sends the same conversation wherever the
attempt ran: lfg's tool loop feeds it the events it yields (and sends what it holds as the next
model call's messages), a coordinator the events its workers publish, and the history the events it
rebuilds from rows. A model call (`RequestSent` of a new call) becomes one assistant message (its
text, reasoning and tool calls, even when empty, and the provider's own account of it when its
`CallEnded` carries one: turns.py), followed by the results of its tool calls in the order the model
made them, wherever they ran; a steer (`Steered`) is a user message after them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lfgtui.events import (
    AttemptEnded,
    CallEnded,
    Event,
    PromptSent,
    ReasoningDelta,
    RequestSent,
    Steered,
    TextDelta,
    ToolCallReady,
    ToolResult,
)
from lfgtui.providers.base import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage
from lfgtui.turns import ProviderTurn


@dataclass
class Conversation:
    """The messages so far (`messages`, which may start with an earlier conversation), and the model
    call under way, which `so_far` (or the attempt's end) adds to them."""

    messages: list[Message] = field(default_factory=list)
    _call: int | None = None
    _text: list[str] = field(default_factory=list)
    _reasoning: list[str] = field(default_factory=list)
    _calls: list[ToolCall] = field(default_factory=list)
    _results: list[ToolResult] = field(default_factory=list)
    _turn: ProviderTurn | None = None

    def add(self, event: Event) -> None:
        """Take one event of the attempt (those that are no part of a conversation are ignored)."""
        match event:
            case TextDelta(text=text):  # first: once per token
                self._text.append(text)
            case PromptSent(text=text) | Steered(text=text):  # a steer: a user turn after the results
                self.so_far()
                self.messages.append(UserMessage(text))
            case RequestSent(call=call) if call != self._call:  # a retry is the same call again
                self.so_far()
                self._call = call
            case ReasoningDelta(text=text):
                self._reasoning.append(text)
            case ToolCallReady(call_id=call_id, name=name, arguments=arguments, raw_arguments=raw):
                self._calls.append(ToolCall(call_id, name, arguments, raw))
            case ToolResult():
                self._results.append(event)
            case CallEnded(turn=turn):
                self._turn = turn
            case AttemptEnded():
                self.so_far()

    def so_far(self) -> list[Message]:
        """The messages with the model call under way added: the next call's, once a call ended."""
        if self._call is None and not self._results:
            return self.messages
        if self._call is not None:
            text, reasoning = "".join(self._text), "".join(self._reasoning)
            self.messages.append(AssistantMessage(text, reasoning, tuple(self._calls), self._turn))
        names = {call.id: call.name for call in self._calls}
        order = {call.id: n for n, call in enumerate(self._calls)}
        for result in sorted(self._results, key=lambda r: order.get(r.call_id, len(order))):
            name = names.get(result.call_id, "")
            self.messages.append(ToolResultMessage(result.call_id, name, result.output, result.is_error))
        self._call = None
        self._text, self._reasoning, self._calls, self._results = [], [], [], []
        self._turn = None
        return self.messages


def conversation_of(events: Iterable[Event]) -> list[Message]:
    """The conversation of an attempt's whole events (its own part: its prompt first)."""
    conversation = Conversation()
    for event in events:
        conversation.add(event)
    return conversation.so_far()


def user_turns(messages: Iterable[Message]) -> tuple[str, ...]:
    """The words of each user turn of a conversation, in order: its prompt, each follow-up, steer and
    queued turn (each a `UserMessage`), the turns the person sees."""
    return tuple(message.text for message in messages if isinstance(message, UserMessage))


def turns_before(turns: Sequence[str], shown: Sequence[str]) -> int | None:
    """How many of a conversation's user `turns` come before `shown`, its last ones as a pane's
    transcript shows them (a fork's starts after the parent's turns it went on from): what numbers
    a shown turn as `lfg fork --at` does. None when `shown` are not its last turns (an
    attempt still running, its turns not in the settled conversation yet)."""
    earlier = len(turns) - len(shown)
    if earlier < 0 or list(turns[earlier:]) != list(shown):
        return None
    return earlier


def cut_after(messages: tuple[Message, ...], turn: int) -> tuple[Message, ...]:
    """The conversation up to the end of user turn `turn` (1-based): everything before the next
    user message. A cut there never falls between a tool call and its result (a tool result always
    comes before the next user message), and keeps each provider turn whole, reasoning and
    signatures with it."""
    seen = 0
    for n, message in enumerate(messages):
        if isinstance(message, UserMessage):
            seen += 1
            if seen > turn:
                return messages[:n]
    return messages
