"""What a provider said in one model call, kept verbatim so that the next call can send it back.

Today's reasoning models need parts of their output back, byte for byte and in order, in the next
request of the conversation: Anthropic's thinking blocks with their signatures and its redacted
thinking, the Responses API's reasoning items (their `encrypted_content`) and the `phase` of its
messages, and the reasoning (`reasoning_content`, `reasoning`, `reasoning_details`) and tool-call
signatures (`extra_content`) of Chat Completions servers. An adapter that saw such parts says the
call's whole output in its own wire's terms (`ProviderTurn`, on the call's `CallEnded`); the
conversation keeps it with the assistant message, the history stores it, and the same adapter sends
it back as it came. Only to the same provider and model: opaque parts are bound to who made them, so
a call to another one (a fallback, a fork to another model) gets the visible text and tool calls
rebuilt instead, and the attempt says the reasoning was not carried over.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProviderTurn:
    """One model call's output in its wire's own terms: `body` is JSON (Anthropic's content blocks,
    the Responses output items, or a Chat Completions assistant message), never shown to anyone."""

    wire: str
    """The adapter that can send it back (`ANTHROPIC`, `RESPONSES`, `CHAT`)."""
    source: str
    """Who said it, as `provider/model`: only a call to the same pair gets it back."""
    body: str

    def sendable(self, wire: str, provider: str, model: str) -> bool:
        """Whether a call on `wire` to `provider`'s `model` may send this turn back as it came."""
        return self.wire == wire and self.source == source_of(provider, model)


ANTHROPIC = "anthropic"
RESPONSES = "responses"
CHAT = "chat"


def source_of(provider: str, model: str) -> str:
    return f"{provider}/{model}"
