"""Streamed Markdown cut into blocks as it arrives, without parsing it: the pane body's layout.

`Splitter` looks only at the text since the last block boundary, so each token costs the same at
the end of a long answer as at its start. A block is final once it is cut: the widget renders it
once per width. Whatever text is split wherever, the blocks are the ones the whole text gives
(tests/ui/test_markdown_blocks.py checks it with hypothesis).

A block that grows past `LONG_BLOCK` characters (one huge paragraph, a table of thousands of rows)
is cut too, into plain-text pieces of at most `PLAIN_PIECE` characters: rendering it as Markdown on
every frame cost time in proportion to the whole block, so an 8 MB paragraph froze the pane.
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

LONG_BLOCK = 8_000
"""A block of this many characters or more is shown as plain text, cut into pieces: re-rendering an
open block as Markdown on every frame costs about 1.5 ms per thousand characters."""
PLAIN_PIECE = 2_000
"""The most characters in one plain piece of a long block: what a frame re-wraps at most while it
streams, and what the widget renders (and drops far from the view) as one."""
PREFIX = 80
"""How much of an unfinished line is looked at to tell how it will be classified once it ends."""
_STARTERS = "#`~-*+"
"""What a line that may start a block (a heading, a fence, a bullet item) begins with."""
_CONTENT = re.compile(r"\S")

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
    PLAIN = "plain"
    """The next plain-text piece of the same long block: directly below, as one text."""


@dataclass(eq=False)
class Block:
    text: str
    join: Join
    continued: bool = False
    """Another piece of the same code block follows, so the bottom padding row is dropped."""
    plain: bool = False
    """A piece of a block longer than `LONG_BLOCK`: drawn as plain wrapped text, not Markdown."""
    start: int = 0
    """Where in the whole streamed text the block begins: what a mark on the text (a pane's picked
    turn) finds its lines by."""
    strips: dict[tuple[int, Style, str], list[Strip]] = field(default_factory=dict)
    """The widget's rendered strips per (width, base style, code theme)."""


def bullet(line: str) -> str | None:
    """The marker of a bullet list item starting at column 0, if `line` is one."""
    if _BULLET.match(line) and not _THEMATIC_BREAK.match(line):
        return line[0]
    return None


def _surely_bullet(prefix: str) -> bool:
    """Whether an unfinished line starting with `prefix` is a bullet item at column 0 however it
    ends: a marker, a space and something that a thematic break (the marker repeated) cannot hold."""
    if _BULLET.match(prefix) is None:
        return False
    return bool(prefix.strip(prefix[0] + " \t"))


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
    about `PIECE_LINES` lines while it is open, and any other block, once it reaches `long_block`
    characters, into plain pieces of at most `plain_piece` characters (after a line break or a space
    when there is one in the second half of the piece). Everything after the last boundary is the
    live tail. A block ends before a bullet item's line as soon as the line's start shows it is one
    (`_surely_bullet`), so an arriving item is the tail alone.
    """

    def __init__(self, long_block: int = LONG_BLOCK, plain_piece: int = PLAIN_PIECE) -> None:
        assert long_block > plain_piece, "a long block is cut into pieces from its first piece on"
        self.long_block = long_block
        self.plain_piece = plain_piece
        self.buffer = ""
        self.origin = 0
        """Where `buffer` begins in the whole streamed text (the finished blocks' text is dropped)."""
        self.done: list[Block] = []
        self.previous_bullet: str | None = None
        self._reset()

    def _reset(self) -> None:
        self.scanned = 0
        """Start of the first line not classified yet."""
        self.searched = 0
        """Where the search for the next line break resumes: a long unfinished line is searched once."""
        self.long = False
        """The current block reached `long_block` characters: it is cut into plain pieces."""
        self.long_bullet: str | None = None
        """The bullet marker the long block started with (its later pieces no longer show it)."""
        self.plain_pieces = 0
        self.cut_line = False
        """The line being scanned was cut into: what remains of it only continues the block."""
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
        """Classify the complete lines that arrived since the last scan, and cut a long block."""
        buffer = self.buffer
        while (end := buffer.find("\n", max(self.scanned, self.searched))) != -1:
            start, self.scanned = self.scanned, end + 1
            if self.cut_line:
                self.cut_line = False  # its start is gone; it was known to change nothing
            else:
                self._line(start, end)
        self.searched = len(buffer)
        if self.fence is None:
            partial = buffer[self.scanned : self.scanned + PREFIX]
            if self.gap is not None:
                if self._continues(partial, complete=False) is False:
                    self._emit(self.gap)
            elif self.start is not None and not self.cut_line and _surely_bullet(partial):
                self._emit(self.scanned)  # as `_line` will once the line ends: the item shows alone
        self._cut_long(self._settled())
        self._compact()

    def tail(self) -> Block | None:
        """The live tail as a block (text, join, whether plain), or None when it has no content."""
        if self.chunked and self.pieces:
            body = self.buffer[self.piece_start :].rstrip()
            return Block(f"{self.header}\n{body}", Join.CODE, start=self.origin + self.piece_start)
        start = self.scanned if self.start is None else self.start
        text = self.buffer[start:]
        if not _CONTENT.search(text):
            return None
        return Block(text.rstrip(), self._piece_join(text), plain=self.long, start=self.origin + start)

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
        if not (self.chunked and self.pieces):
            if self.start is None and _CONTENT.search(self.buffer, self.scanned):
                self._open(self.scanned)
            self._cut_long(len(self.buffer))
        tail = self.tail()
        if tail is not None:
            self.done.append(tail)
            if self.long:
                self.previous_bullet = self.long_bullet
            else:
                self.previous_bullet = None if tail.join is Join.CODE else bullet(tail.text)
        self.origin += len(self.buffer)
        self.buffer = ""
        self._reset()

    def _open(self, start: int) -> None:
        """The current block starts at `start`, with the line there."""
        self.start = start
        self.ordered = bool(_ORDERED.match(self.buffer, start, start + PREFIX))

    def _settled(self) -> int:
        """End of the text known to belong to the current block, however the text goes on.

        An unfinished line counts when its start already shows that it continues the block and that
        its end cannot change how what follows is classified (see `_changes_nothing`).
        """
        if self.chunked or (self.start is None and not self._unfinished_is_long()):
            return self.scanned
        if self.gap is not None:
            return self.gap
        if self.cut_line or self._changes_nothing(self.buffer[self.scanned : self.scanned + PREFIX]):
            if self.start is None:
                self._open(self.scanned)
            return len(self.buffer)
        return self.scanned

    def _unfinished_is_long(self) -> bool:
        return len(self.buffer) - self.scanned >= self.long_block

    def _changes_nothing(self, prefix: str) -> bool:
        """Whether an unfinished line starting with `prefix` surely continues the current block (or
        starts a paragraph) without opening or closing a fence: neither blank, nor a heading, bullet
        item or fence, which the line's start shows. False when the start cannot tell yet."""
        first = _CONTENT.search(prefix)
        if first is None:
            return False
        char = prefix[first.start()]
        if self.fence is not None:
            return char != self.fence[0]
        if self.start is None and first.start():
            return False  # an indented first line may open a fence
        return char not in "`~" if first.start() else char not in _STARTERS

    def _cut_long(self, settled: int) -> None:
        """Cut the current block into plain pieces once it is long, as far as `settled` allows.

        A piece is cut only with text after it, so the last piece of a block always has some.
        """
        if self.start is None or self.chunked:
            return
        if not self.long:
            if settled - self.start < self.long_block:
                return
            self.long = True
            self.long_bullet = bullet(self.buffer[self.start : self.start + self.plain_piece])
        buffer = self.buffer
        while settled - self.start > self.plain_piece:
            start, end = self.start, self.start + self.plain_piece
            half = start + self.plain_piece // 2
            cut = (
                buffer.rfind("\n", half, end) + 1
                or max(buffer.rfind(" ", half, end), buffer.rfind("\t", half, end)) + 1
                or end
            )
            if not _CONTENT.search(buffer, cut, settled):
                return
            join = self._piece_join(buffer[start:end])
            self.done.append(Block(buffer[start:cut].rstrip(), join, plain=True, start=self.origin + start))
            self.plain_pieces += 1
            self.start = cut
            if cut > self.scanned:
                self.scanned = self.searched = cut
                self.cut_line = True

    def _piece_join(self, text: str) -> Join:
        return Join.PLAIN if self.plain_pieces else self._join(text)

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
        start = self.origin + (self.piece_start if self.pieces else self.start or 0)
        self.done.append(Block(f"{self.header}\n{body}", join, continued=not final, start=start))
        self.pieces += 1
        self.start = None
        if final:
            self.chunked = False
            self.pieces = 0

    def _emit(self, end: int) -> None:
        assert self.start is not None
        self._cut_long(end)
        text = self.buffer[self.start : end].rstrip()
        self.done.append(Block(text, self._piece_join(text), plain=self.long, start=self.origin + self.start))
        self.previous_bullet = self.long_bullet if self.long else bullet(text)
        self.start = None
        self.gap = None
        self.long = False
        self.long_bullet = None
        self.plain_pieces = 0

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
            self.origin += origin
            self.buffer = self.buffer[origin:]
            self.scanned -= origin
            self.searched -= origin
            self.piece_start -= origin
            self.last_code = self.last_code - origin if self.last_code >= 0 else -1
            if self.start is not None:
                self.start -= origin
            if self.gap is not None:
                self.gap -= origin
