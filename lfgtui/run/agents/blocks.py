"""An agent's messages as Markdown blocks: runs of text that something else interrupted never glue.

An agent streams each of its messages as chunks with nothing between messages: the text before a
tool call and the text after it arrive as `…first step.` and `## Heading`, which, joined, is one
broken paragraph. Real agents' own UIs show each message as a block of its own, so lfg starts a new
block (a blank line before it) where a run of answer or thinking text was interrupted: by a tool
call or its update, by the other kind of text (thinking between two answers), or by a message
with another `messageId` (ACP's way of saying a new message began). The blank line goes into the
text itself, so the pane, NDJSON, the history and a follow-up's transcript all see the same blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BLANK_LINE = 2
"""Line breaks between two Markdown blocks."""


def _breaks(text: str, at_end: bool) -> int:
    """How many line breaks `text` ends (or starts) with, up to a blank line's worth."""
    stripped = text.rstrip("\n") if at_end else text.lstrip("\n")
    return min(BLANK_LINE, len(text) - len(stripped))


@dataclass
class StreamedText:
    """One kind of text (the answer or the thinking) as it has been streamed so far."""

    tail: str = ""
    """The last characters streamed, enough to see whether they end a block."""
    interrupted: bool = False
    message_id: str | None = None

    def chunk(self, text: str, message_id: str | None) -> str:
        """`text` as streamed, after a blank line when it starts a block that follows another."""
        if message_id is not None:
            if self.message_id is not None and message_id != self.message_id:
                self.interrupted = True
            self.message_id = message_id
        if not text:
            return text
        if self.interrupted and self.tail:
            missing = BLANK_LINE - _breaks(self.tail, at_end=True) - _breaks(text, at_end=False)
            text = "\n" * max(0, missing) + text
        self.interrupted = False
        self.tail = (self.tail + text)[-BLANK_LINE:]
        return text


@dataclass
class MessageBlocks:
    """The answer and the thinking of one turn, each cut into blocks where it was interrupted."""

    answer: StreamedText = field(default_factory=StreamedText)
    thinking: StreamedText = field(default_factory=StreamedText)

    def text(self, text: str, message_id: str | None = None) -> str:
        if text:
            self.thinking.interrupted = True
        return self.answer.chunk(text, message_id)

    def thought(self, text: str, message_id: str | None = None) -> str:
        if text:
            self.answer.interrupted = True
        return self.thinking.chunk(text, message_id)

    def interrupt(self) -> None:
        """A tool call came between: the next text of either kind starts a block."""
        self.answer.interrupted = self.thinking.interrupted = True
