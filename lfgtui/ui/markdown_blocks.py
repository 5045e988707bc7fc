"""Streamed Markdown cut into blocks as it arrives, without parsing it: the pane body's layout.

`Splitter` looks only at the text since the last block boundary, so each token costs the same at
the end of a long answer as at its start. A block is final once it is cut: the widget renders it
once per width. Whatever text is split wherever, the blocks are the ones the whole text gives
(tests/ui/test_markdown_blocks.py checks it with hypothesis).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.style import Style
    from textual.strip import Strip

PIECE_LINES = 8
"""An open fenced code block is cut into pieces of about this many lines, so a long code block
streams at the cost of its last piece rather than of the whole block."""

FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")
_BULLET = re.compile(r"([-*+])[ \t]+\S")
_THEMATIC_BREAK = re.compile(r"([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_ORDERED = re.compile(r"\d{1,9}[.)](?:[ \t]|$)")
_ORDERED_PREFIX = re.compile(r"\d{1,9}[.)]?")


class Join(Enum):
    """How a block sits below the one before it."""

    GAP = "gap"
    """One blank line between, like any two Markdown blocks."""
    TIGHT = "tight"
    """Directly below: the next item of the same bullet list."""
    CODE = "code"
    """The next piece of the same fenced code block: its top padding row is dropped."""


@dataclass(eq=False)
class Block:
    text: str
    join: Join
    continued: bool = False
    """Another piece of the same code block follows, so the bottom padding row is dropped."""
    strips: dict[tuple[int, Style, str], list[Strip]] = field(default_factory=dict)
    """The widget's rendered strips per (width, base style, code theme)."""


def bullet(line: str) -> str | None:
    """The marker of a bullet list item starting at column 0, if `line` is one."""
    if _BULLET.match(line) and not _THEMATIC_BREAK.match(line):
        return line[0]
    return None


def open_fence(line: str) -> tuple[str, int] | None:
    """(character, length) if `line` opens a fenced code block."""
    match = FENCE.match(line)
    if match is None:
        return None
    marker, info = match.groups()
    if marker[0] == "`" and "`" in info:
        return None
    return marker[0], len(marker)


def closes(line: str, fence: tuple[str, int]) -> bool:
    char, length = fence
    marker = line.strip()
    return len(marker) >= length and marker == char * len(marker)


class Splitter:
    """Cuts streamed Markdown into finished blocks, looking only at text since the last boundary.

    A block ends at a blank line (unless the next line is indented, or continues an ordered list),
    before a heading, a column-0 fence or a bullet item, after a heading line, and after the closing
    line of a fenced code block that started the block. Such a code block is also cut into pieces of
    about `PIECE_LINES` lines while it is open. Everything after the last boundary is the live tail.
    """

    def __init__(self) -> None:
        self.buffer = ""
        self.done: list[Block] = []
        self.previous_bullet: str | None = None
        self._reset()

    def _reset(self) -> None:
        self.scanned = 0
        """Start of the first line not classified yet."""
        self.start: int | None = None
        """Start of the current block, once it has a complete non-blank line."""
        self.ordered = False
        self.gap: int | None = None
        """Where the current block's content ended, when blank lines followed it."""
        self.fence: tuple[str, int] | None = None
        self.chunked = False
        """The open fence started its block at column 0: it is cut into pieces."""
        self.header = ""
        self.piece_start = 0
        self.piece_lines = 0
        self.last_code = -1
        """End of the open fence's last non-blank line, or -1."""
        self.pieces = 0

    def feed(self, text: str) -> None:
        self.buffer += text

    def take(self) -> list[Block]:
        """The blocks finished by the text fed since the last call."""
        self._scan()
        done, self.done = self.done, []
        return done

    def _scan(self) -> None:
        """Classify the complete lines that arrived since the last scan."""
        buffer = self.buffer
        while (end := buffer.find("\n", self.scanned)) != -1:
            start, self.scanned = self.scanned, end + 1
            self._line(start, end)
        if self.gap is not None and self.fence is None:
            partial = buffer[self.scanned :]
            if self._continues(partial, complete=False) is False:
                self._emit(self.gap)
        self._compact()

    def tail(self) -> tuple[str, Join] | None:
        """The live tail's text and join, or None when it has no content."""
        if self.chunked and self.pieces:
            body = self.buffer[self.piece_start :].rstrip()
            return f"{self.header}\n{body}", Join.CODE
        text = self.buffer[self.scanned if self.start is None else self.start :]
        if not text.strip():
            return None
        return text.rstrip(), self._join(text)

    def open_code(self) -> tuple[str, str] | None:
        """(fence line, code since the last piece) while a column-0 fenced code block is open."""
        if not self.chunked or self.fence is None:
            return None
        code = self.buffer[self.piece_start :]
        last = code.rpartition("\n")[2]
        if closes(last, self.fence):
            code = code[: len(code) - len(last)]
        return self.header, code

    def finish(self) -> None:
        """The stream ended: whatever is left is a finished block."""
        self._scan()
        tail = self.tail()
        if tail is not None:
            text, join = tail
            self.done.append(Block(text, join))
            self.previous_bullet = None if join is Join.CODE else bullet(text)
        self.buffer = ""
        self._reset()

    def _line(self, start: int, end: int) -> None:
        line = self.buffer[start:end]
        if self.fence is not None:
            if closes(line, self.fence):
                self.fence = None
                if self.chunked:
                    self._emit_piece(end, final=True)
            elif self.chunked:
                self._code_line(end, line)
            return
        if not line.strip():
            if self.start is not None and self.gap is None:
                self.gap = start
            return
        top_level = line[0] not in " \t"
        if self.start is not None:
            if self.gap is not None:
                if not self._continues(line, complete=True):
                    self._emit(self.gap)
                self.gap = None
            elif top_level and (_HEADING.match(line) or open_fence(line) or bullet(line)):
                self._emit(start)
        if self.start is None:
            self.start = start
            self.ordered = bool(_ORDERED.match(line))
        if top_level and _HEADING.match(line) and self.start == start:
            self._emit(end)
        elif (fence := open_fence(line)) is not None:
            self.fence = fence
            self.chunked = top_level and self.start == start
            self.header = line
            self.piece_start = end + 1
            self.piece_lines = 0
            self.last_code = -1
            self.pieces = 0

    def _continues(self, line: str, *, complete: bool) -> bool | None:
        """After a blank line: does `line` still belong to the current block? None: can't tell yet."""
        if not line.strip():
            return None
        if line[0] in " \t":
            return True
        if not self.ordered:
            return False
        if _ORDERED.match(line):
            return True
        if not complete and _ORDERED_PREFIX.fullmatch(line):
            return None
        return False

    def _code_line(self, end: int, line: str) -> None:
        """Cut a piece before this line when enough lines came since the last cut.

        The cut goes after the previous non-blank line, so every piece ends with code and what stays
        open (the tail, or the final piece) always holds at least one line of code.
        """
        self.piece_lines += 1
        if not line.strip():
            return
        if self.piece_lines > PIECE_LINES and self.last_code >= self.piece_start:
            self._emit_piece(self.last_code, final=False)
            self.piece_start = self.last_code + 1
            self.piece_lines = self.buffer.count("\n", self.piece_start, end + 1)
        self.last_code = end

    def _emit_piece(self, end: int, *, final: bool) -> None:
        body = self.buffer[self.piece_start : end].rstrip()
        if self.pieces:
            join = Join.CODE
        else:
            join = self._join(self.header)
            self.previous_bullet = None
        self.done.append(Block(f"{self.header}\n{body}", join, continued=not final))
        self.pieces += 1
        self.start = None
        if final:
            self.chunked = False
            self.pieces = 0

    def _emit(self, end: int) -> None:
        assert self.start is not None
        text = self.buffer[self.start : end].rstrip()
        self.done.append(Block(text, self._join(text)))
        self.previous_bullet = bullet(text)
        self.start = None
        self.gap = None

    def _join(self, text: str) -> Join:
        marker = bullet(text)
        if marker is not None and marker == self.previous_bullet:
            return Join.TIGHT
        return Join.GAP

    def _compact(self) -> None:
        """Drop the text of finished blocks from the buffer, keeping it as long as the live block."""
        if self.chunked and self.pieces:
            origin = self.piece_start
        else:
            origin = self.scanned if self.start is None else self.start
        if origin:
            self.buffer = self.buffer[origin:]
            self.scanned -= origin
            self.piece_start -= origin
            self.last_code = self.last_code - origin if self.last_code >= 0 else -1
            if self.start is not None:
                self.start -= origin
            if self.gap is not None:
                self.gap -= origin
