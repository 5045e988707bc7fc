"""Review comments on a ticket's diff, and the one follow-up that sends them to its agent.

A diff is read into files, hunks and lines, each line with its number in the old and the new file,
so a comment can name `PATH:LINE` and quote what it is about. The follow-up's format is documented
in docs/guides/review.md: change `follow_up_text` and that page together.

Everything here is raw text (the diff, the comments): what is shown is made inert by the UI, what is
sent and stored stays lossless.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lfgtui.formats import fenced
from lfgtui.worktrees.patch import gitlink, header_path, not_shown_reason

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
COMMENT_ARGUMENT = re.compile(r"^(?P<path>.+?):(?P<line>\d+):[ \t]?(?P<body>.*)$", re.DOTALL)
MAX_QUOTED_LINES = 40
"""A comment on a hunk quotes at most this many of its lines (the follow-up says how many more)."""
OLD, NEW = "old", "new"
"""Which file a comment's line is numbered in: a removed line exists only in the old one."""


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk as the diff has it (its `+`, `-` or space first), and where it is."""

    text: str
    old: int | None
    new: int | None

    @property
    def side(self) -> str:
        return NEW if self.new is not None else OLD

    @property
    def number(self) -> int:
        """Its line number on its side."""
        number = self.new if self.new is not None else self.old
        assert number is not None, "a hunk line is in one file at least"
        return number


@dataclass(frozen=True)
class Hunk:
    header: str
    lines: tuple[DiffLine, ...]

    @property
    def span(self) -> tuple[int, int]:
        """The first and last new-file line the hunk shows (its old ones when it only removes)."""
        numbers = [line.new for line in self.lines if line.new is not None]
        if not numbers:
            numbers = [line.old for line in self.lines if line.old is not None] or [0]
        return min(numbers), max(numbers)


@dataclass(frozen=True)
class FileChanges:
    """One file of the diff: its header lines (`diff --git`, `---`, `+++`, `Binary files …`) and hunks."""

    path: str
    head: tuple[str, ...]
    hunks: tuple[Hunk, ...]

    @property
    def added(self) -> int:
        return sum(1 for hunk in self.hunks for line in hunk.lines if line.text.startswith("+"))

    @property
    def removed(self) -> int:
        return sum(1 for hunk in self.hunks for line in hunk.lines if line.text.startswith("-"))

    @property
    def not_shown(self) -> str | None:
        """Why the diff lists this file without showing it (too big, an embedded repository)."""
        return not_shown_reason(self.head)

    @property
    def embedded(self) -> bool:
        """An embedded git repository: git records one commit of it, not its files."""
        return gitlink(self.head)

    @property
    def link_target(self) -> str | None:
        """Where the file points when its new side is a symlink (git's diff shows the target as its
        one line); None when it is not one. Shown, never followed."""
        if not any(text.split()[-1:] == [SYMLINK] for text in self.head if text.startswith(_MODE_LINES)):
            return None
        added = [line.text[1:] for hunk in self.hunks for line in hunk.lines if line.text.startswith("+")]
        return added[0] if added else ""


SYMLINK = "120000"
_MODE_LINES = ("new file mode ", "new mode ", "index ")


def new_key() -> str:
    return secrets.token_hex(6)


@dataclass(frozen=True)
class Comment:
    """A person's comment on one line (or, with `end_line`, a hunk's lines) of a ticket's diff.

    `quote` is the diff lines it is about, taken when it was written (the diff may change after);
    `sent_at` is None while it is a draft; `sent_attempt` the attempt that answered it."""

    path: str
    line: int
    body: str
    quote: str = ""
    end_line: int | None = None
    side: str = NEW
    key: str = field(default_factory=new_key)
    created_at: float = 0.0
    sent_at: float | None = None
    sent_attempt: int | None = None

    @property
    def where(self) -> str:
        """`path:12`, `path:10-14` (a hunk), or `path:7 (removed; old numbering)`."""
        at = f"{self.path}:{self.line}"
        if self.end_line is not None and self.end_line != self.line:
            at += f"-{self.end_line}"
        return at + (" (a removed line, numbered as in the old file)" if self.side == OLD else "")


def parse_diff(diff: str) -> list[FileChanges]:
    """A unified diff (as `git diff` writes it) as files of hunks of numbered lines."""
    files: list[FileChanges] = []
    path, head, hunks = "", [], []
    header = ""
    lines: list[DiffLine] = []
    old = new = 0

    def close_hunk() -> None:
        if header:
            hunks.append(Hunk(header, tuple(lines)))

    def close_file() -> None:
        if head or hunks:
            files.append(FileChanges(path, tuple(head), tuple(hunks)))

    for text in diff.splitlines():
        started = header_path(text)
        if started is not None:
            close_hunk()
            close_file()
            path, head, hunks, header, lines = started, [text], [], "", []
            continue
        numbers = HUNK_HEADER.match(text)
        if numbers:
            close_hunk()
            header, lines = text, []
            old, new = int(numbers.group(1)), int(numbers.group(2))
            continue
        if not header:
            head.append(text)
        elif text.startswith("+"):
            lines.append(DiffLine(text, None, new))
            new += 1
        elif text.startswith("-"):
            lines.append(DiffLine(text, old, None))
            old += 1
        elif text.startswith("\\"):  # "\ No newline at end of file": belongs to the line before
            continue
        else:
            lines.append(DiffLine(text, old, new))
            old, new = old + 1, new + 1
    close_hunk()
    close_file()
    return files


def file_notes(changes: FileChanges) -> list[str]:
    """What the review says of a file besides its lines: not shown and why; a symlink's target."""
    notes = []
    if changes.not_shown is not None:
        notes.append(f"not shown \u2014 {changes.not_shown}")
    if changes.link_target is not None:
        notes.append(f"a symlink to {changes.link_target} (its target is shown, never followed)")
    return notes


def line_comment(path: str, line: DiffLine, body: str) -> Comment:
    return Comment(path, line.number, body, quote=line.text, side=line.side)


def hunk_comment(path: str, hunk: Hunk, body: str) -> Comment:
    first, last = hunk.span
    shown = [line.text for line in hunk.lines[:MAX_QUOTED_LINES]]
    more = len(hunk.lines) - len(shown)
    if more > 0:
        shown.append(f"[{more} more lines of the hunk]")
    return Comment(path, first, body, quote="\n".join([hunk.header, *shown]), end_line=last)


def find_line(files: Sequence[FileChanges], path: str, number: int, side: str = NEW) -> DiffLine | None:
    """The diff line of `path` numbered `number` on `side`, if the diff shows it."""
    for changes in files:
        if changes.path != path:
            continue
        for hunk in changes.hunks:
            for line in hunk.lines:
                if (line.new if side == NEW else line.old) == number:
                    return line
    return None


class CommentError(ValueError):
    """A comment given on the command line that names no line lfg can quote: one sentence."""


def parse_comment_argument(text: str) -> tuple[str, int, str]:
    """`PATH:LINE: text` as (path, line, text); CommentError when it is not one."""
    matched = COMMENT_ARGUMENT.match(text)
    if matched is None or not matched["body"].strip() or int(matched["line"]) < 1:
        raise CommentError(f"{text!r} is not a comment: write PATH:LINE: text (a line numbered from 1)")
    return matched["path"], int(matched["line"]), matched["body"]


def comments_file(text: str) -> list[str]:
    """The comments of a `--from-file` file: one `PATH:LINE: text` per line; a line that starts with
    a space or a tab goes on the comment before it (on a new line); blank lines and `#` lines are
    skipped."""
    comments: list[str] = []
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and line.strip() and comments:
            comments[-1] += "\n" + line.strip()
        elif line.strip() and not line.startswith("#"):
            comments.append(line)
    return comments


def quoted_from(files: Sequence[FileChanges], root: Path | None, path: str, number: int) -> str:
    """What a `PATH:LINE` comment quotes: the diff's new-file line, else (a line the diff does not
    show) that line of the file in the worktree at `root`. CommentError when neither has it."""
    line = find_line(files, path, number)
    if line is not None:
        return line.text
    lines = _worktree_lines(root, path) if root is not None else []
    if 0 < number <= len(lines):
        return " " + lines[number - 1]
    raise CommentError(f"{path} has no line {number} in the ticket's diff or its worktree")


FILE_READ_LIMIT = 16 * 1024 * 1024
"""The most bytes of a worktree file read to quote one of its lines."""


def _worktree_lines(root: Path, path: str) -> list[str]:
    """The lines of the regular file `path` of the worktree at `root`, opened through no link out of
    it (tools/beneath.py `open_inside`: the agent may swap a folder for a link to the home while lfg
    reads, as the person, a line to quote to its model); a FIFO, socket or device is refused without
    reading it (a FIFO's read waits for a writer for ever): CommentError. [] when it is missing or
    unreadable."""
    import os
    import stat

    from lfgtui.tools.base import ToolError
    from lfgtui.tools.beneath import LinksOut, open_inside

    try:
        handle = open_inside(root, path, os.O_RDONLY | os.O_NONBLOCK)
    except LinksOut:
        raise CommentError(f"{path} leads out of the worktree: lfg does not read it") from None
    except (OSError, ToolError):
        return []
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
            raise CommentError(f"{path} is {kind}: lfg does not open it; comment on a file")
        data = os.read(handle, FILE_READ_LIMIT)
    except OSError:
        return []
    finally:
        os.close(handle)
    return data.decode("utf-8", errors="replace").splitlines()


def follow_up_text(comments: Iterable[Comment]) -> str:
    """The one follow-up prompt that carries every comment (the format of docs/guides/review.md)."""
    comments = list(comments)
    noun = "comment" if len(comments) == 1 else "comments"
    parts = [
        f"Review of your changes: {len(comments)} {noun}. Each names a file and line of your diff and "
        "quotes the diff lines it is about. Please address each one.",
    ]
    for number, comment in enumerate(comments, 1):
        parts.append(f"## {number}. {comment.where}\n\n{fenced(comment.quote, 'diff')}\n\n{comment.body}")
    return "\n\n".join(parts) + "\n"
