"""Reviewing a ticket's diff: the files it changed, the diff file by file with a line cursor, and
comments on lines and hunks that go to the agent as one follow-up, and landing the change once it
is right (`M`, as `lfg land` does: docs/guides/review.md, docs/guides/landing.md).

The diff is untrusted (an agent wrote the files and their names): every line is made inert before it
is highlighted, and reaches Textual as `Text`. Only the lines on screen are rendered (a Line API
view), so a long diff opens at once. Comments are drafts in a `ReviewDesk`, which keeps them in
the history as they are written: closing the screen, quitting or `lfg resume` loses none.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Span, Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from lfgtui.formats import plural
from lfgtui.inert import inert
from lfgtui.ui.drawing.palette import colours
from lfgtui.worktrees.review import (
    Comment,
    DiffLine,
    FileChanges,
    Hunk,
    file_notes,
    follow_up_text,
    hunk_comment,
    line_comment,
    parse_diff,
)

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from lfgtui.worktrees.land import LandOptions

CONTEXT_STEP = 10
"""How many more lines of context each `x` shows around every hunk."""
DARK_CODE_THEME, LIGHT_CODE_THEME = "monokai", "default"

Diff = Callable[[int], Awaitable[str | None]]
"""The diff again with this many lines of context (None: it cannot be taken again: no worktree)."""
Send = Callable[[str], int | str]
"""Sends a follow-up to the ticket: the number of the attempt that will answer it, or why not."""


@dataclass(frozen=True)
class Landing:
    """What lands the reviewed ticket's worktree: its branch, the base branch, the commit message
    made from the ticket, and `land`, which lands it with the options chosen and says what happened
    (the run's own landing: ui/run/controller.py `land_as`)."""

    branch: str
    onto: str
    message: str
    land: Callable[[LandOptions], Awaitable[str]]


class ReviewDesk:
    """A ticket's review comments, kept in the history file as they are written (in memory when the
    run has no history: they then last as long as this lfg), and what sends them."""

    def __init__(
        self,
        run_id: str,
        ticket: str,
        history: Path | None,
        comments: list[Comment],
        send: Send,
        diff: Diff | None = None,
    ) -> None:
        self.run_id, self.ticket, self.history = run_id, ticket, history
        self.comments = comments
        """Every comment, drafts and sent, in the order written."""
        self._send = send
        self.diff = diff

    @property
    def drafts(self) -> list[Comment]:
        return [comment for comment in self.comments if comment.sent_at is None]

    @staticmethod
    async def load(run_id: str, ticket: str, history: Path | None, kept: list[Comment]) -> list[Comment]:
        """The ticket's comments: from the history file, else `kept` (this lfg's, without history)."""
        if history is None:
            return kept
        import asyncio

        return await asyncio.to_thread(_read_comments, history, run_id, ticket)

    async def save(self, comment: Comment) -> str | None:
        """Keep a new draft or a draft's new text; what went wrong, when the history did not take it."""
        at = next((i for i, c in enumerate(self.comments) if c.key == comment.key), None)
        if at is None:
            self.comments.append(comment)
        else:
            self.comments[at] = comment
        return await self._write(lambda store: _save(store, self.run_id, self.ticket, comment))

    async def remove(self, key: str) -> str | None:
        self.comments[:] = [c for c in self.comments if c.key != key]
        return await self._write(lambda store: _remove(store, key))

    async def send(self) -> str | None:
        """Send every draft as one follow-up; why not, when it could not go (the drafts are kept)."""
        drafts = self.drafts
        if not drafts:
            return "nothing to send: add a comment first (c on a line, h on a hunk)"
        sent = self._send(follow_up_text(drafts))
        if isinstance(sent, str):
            return f"{sent}. Your {len(drafts)} draft(s) are kept."
        now = time.time()
        keys = {draft.key for draft in drafts}
        self.comments[:] = [
            replace(c, sent_at=now, sent_attempt=sent) if c.key in keys else c for c in self.comments
        ]
        problem = await self._write(lambda store: _mark_sent(store, keys, now, sent))
        return None if problem is None else f"sent, but {problem}"

    async def _write(self, write: Callable[[object], None]) -> str | None:
        if self.history is None:
            return None
        import asyncio
        import sqlite3

        from lfgtui.history.database import StoreError
        from lfgtui.history.store import Store

        def run() -> None:
            with Store.open(self.history) as store:  # type: ignore[arg-type]  # checked above
                write(store)

        try:
            await asyncio.to_thread(run)
        except (StoreError, sqlite3.Error) as exc:
            return f"the history did not keep it: {exc}"
        return None


def _read_comments(history: Path, run_id: str, ticket: str) -> list[Comment]:
    from lfgtui.history.reviews import ticket_comments
    from lfgtui.history.store import Store

    with Store.open(history) as store:
        return ticket_comments(store.conn, run_id, ticket)


def _save(store: object, run_id: str, ticket: str, comment: Comment) -> None:
    from lfgtui.history.reviews import save_draft

    save_draft(store.conn, run_id, ticket, comment)  # type: ignore[attr-defined]  # a Store


def _remove(store: object, key: str) -> None:
    from lfgtui.history.reviews import remove_draft

    remove_draft(store.conn, key)  # type: ignore[attr-defined]  # a Store


def _mark_sent(store: object, keys: set[str], at: float, attempt: int) -> None:
    from lfgtui.history.reviews import mark_sent

    mark_sent(store.conn, keys, at, attempt)  # type: ignore[attr-defined]  # a Store


@dataclass(frozen=True)
class Row:
    """One row of the review: the list of files, a file's or hunk's header, a diff line, a comment."""

    kind: str
    """`summary`, `file`, `note`, `hunk`, `line` or `comment`."""
    file: int = -1
    hunk: int = -1
    line: DiffLine | None = None
    comment: Comment | None = None
    text: str = ""


def _anchor(comment: Comment) -> tuple[str, str, int]:
    return comment.path, comment.side, comment.line


def rows_of(files: list[FileChanges], drafts: list[Comment]) -> list[Row]:
    """The rows the view shows: a line per changed file, then each file, its hunks and lines, each
    draft under the line (or hunk) it is on; drafts on lines this diff does not show come last."""
    by_line: dict[tuple[str, str, int], list[Comment]] = {}
    for draft in drafts:
        if draft.end_line is None:
            by_line.setdefault(_anchor(draft), []).append(draft)
    placed: set[str] = set()
    rows = [Row("summary", text=f"{len(files)} file(s) changed")]
    rows += [Row("summary", file=i) for i in range(len(files))]
    for f, changes in enumerate(files):
        rows.append(Row("file", file=f))
        rows += [Row("note", file=f, text=head) for head in changes.head if head.startswith("Binary files")]
        rows += [Row("note", file=f, text=note) for note in file_notes(changes)]
        for h, hunk in enumerate(changes.hunks):
            rows.append(Row("hunk", file=f, hunk=h))
            first, last = hunk.span
            on_hunk = [
                d
                for d in drafts
                if d.end_line is not None and d.path == changes.path and first <= d.line <= last
            ]
            for draft in on_hunk:
                if draft.key not in placed:
                    placed.add(draft.key)
                    rows.append(Row("comment", file=f, hunk=h, comment=draft))
            for line in hunk.lines:
                rows.append(Row("line", file=f, hunk=h, line=line))
                for draft in by_line.get((changes.path, line.side, line.number), []):
                    placed.add(draft.key)
                    rows.append(Row("comment", file=f, hunk=h, line=line, comment=draft))
    elsewhere = [draft for draft in drafts if draft.key not in placed]
    if elsewhere:
        rows.append(Row("note", text="Drafts on lines this diff does not show:"))
        rows += [Row("comment", comment=draft) for draft in elsewhere]
    return rows


def _foreground(style: str | Style) -> Style:
    """A highlighter's style without its background: the row's own (and the cursor's) shows."""
    style = Style.parse(style) if isinstance(style, str) else style
    return Style(color=style.color, bold=style.bold, italic=style.italic, underline=style.underline)


def _marker(changes: FileChanges) -> Text:
    """After a file's name in the list: `not shown` (in the warning colour), or `symlink`."""
    if changes.not_shown is not None:
        return Text("  NOT SHOWN \u2014 review before landing", "bold yellow")
    return Text("  symlink", "italic") if changes.link_target is not None else Text("")


class DiffView(ScrollView, can_focus=True):
    """The review's rows with a cursor; only the rows on screen are rendered."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "down,j",
            "move(1)",
            "Down",
            id="review.down",
            show=False,
            tooltip="the cursor to the next row (a file, a hunk, a line, a draft)",
        ),
        Binding(
            "up,k", "move(-1)", "Up", id="review.up", show=False, tooltip="the cursor to the previous row"
        ),
        Binding(
            "pagedown,space", "page(1)", "Page down", id="review.page_down", show=False, tooltip="page down"
        ),
        Binding("pageup", "page(-1)", "Page up", id="review.page_up", show=False, tooltip="page up"),
        Binding("home,g", "edge(False)", "Top", id="review.top", show=False, tooltip="top"),
        Binding("end,G", "edge(True)", "End", id="review.end", show=False, tooltip="end"),
        Binding("n", "jump('hunk', 1)", "Next hunk", id="review.next_hunk", tooltip="the next hunk"),
        Binding(
            "N",
            "jump('hunk', -1)",
            "Previous hunk",
            id="review.previous_hunk",
            show=False,
            tooltip="the previous hunk",
        ),
        Binding("f", "jump('file', 1)", "Next file", id="review.next_file", tooltip="the next file"),
        Binding(
            "F",
            "jump('file', -1)",
            "Previous file",
            id="review.previous_file",
            show=False,
            tooltip="the previous file",
        ),
        Binding(
            "enter",
            "open",
            "Go to file",
            id="review.open",
            show=False,
            tooltip="on a file of the list at the top: go to it",
        ),
        Binding(
            "x",
            "expand",
            "More context",
            id="review.expand",
            tooltip="10 more lines of context around every change (taken again from the worktree)",
        ),
        Binding(
            "c",
            "comment",
            "Comment",
            id="review.comment",
            tooltip=(
                "comment on the cursor's line (on a hunk's header: on the hunk); enter keeps the draft, "
                "escape drops it"
            ),
        ),
        Binding(
            "h",
            "comment_hunk",
            "Hunk comment",
            id="review.comment_hunk",
            show=False,
            tooltip="comment on the hunk the cursor is in",
        ),
        Binding(
            "e",
            "edit",
            "Edit",
            id="review.edit",
            tooltip="edit the draft under the cursor (or on the cursor's line)",
        ),
        Binding(
            "D,delete",
            "remove",
            "Remove",
            id="review.remove",
            tooltip="remove the draft under the cursor (or on the cursor's line)",
        ),
        Binding(
            "S",
            "send",
            "Send",
            id="review.send",
            tooltip=(
                "send every draft to the ticket's agent as one follow-up; the pane streams its answer. When"
                " the ticket cannot take one, the screen says why and keeps the drafts"
            ),
        ),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    def __init__(self, files: list[FileChanges], drafts: list[Comment]) -> None:
        super().__init__(id="review-diff")
        self.files = files
        self.rows = rows_of(files, drafts)
        self._strips: dict[int, Strip] = {}
        self._syntax: dict[int, Syntax | None] = {}
        self._measure()

    def show(self, files: list[FileChanges], drafts: list[Comment]) -> None:
        """New files or drafts: the rows again, the cursor kept on the line (or comment) it was on."""
        was = self.rows[self.cursor] if self.rows else None
        path = self.files[was.file].path if was is not None and 0 <= was.file < len(self.files) else None
        self.files, self.rows = files, rows_of(files, drafts)
        self._strips.clear()
        self._syntax.clear()
        self._measure()
        self.cursor = self._find(was, path) if was is not None else 0
        self.refresh()

    def _find(self, was: Row, path: str | None) -> int:
        """Where the row `was` (of the file at `path`) is among the new rows: the same comment, else
        the same line, else the same place."""
        for index, row in enumerate(self.rows):
            if was.comment is not None and row.comment is not None and row.comment.key == was.comment.key:
                return index
        for index, row in enumerate(self.rows):
            if was.kind == row.kind == "line" and was.line is not None and row.line is not None:
                same = (self.files[row.file].path, row.line.side, row.line.number)
                if same == (path, was.line.side, was.line.number):
                    return index
        return min(self.cursor, len(self.rows) - 1)

    def _measure(self) -> None:
        widest = max((len(self._plain(i)) for i in range(len(self.rows))), default=0)
        self.virtual_size = Size(widest + 2, len(self.rows))

    def _plain(self, index: int) -> str:
        row = self.rows[index]
        if row.line is not None and row.kind == "line":
            return f"{'':10}{row.line.text}"
        if row.kind == "file" or (row.kind == "summary" and row.file >= 0):
            return f"  {self.files[row.file].path}  +0000 -0000"
        if row.kind == "hunk":
            return self.files[row.file].hunks[row.hunk].header
        return row.text if row.comment is None else f"{'':12}{row.comment.body}"

    # --- rendering ---

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(index)
        if strip is None:
            text = self._text(self.rows[index])
            strip = Strip(list(text.render(self.app.console)) or [Segment("")])
            self._strips[index] = strip
        strip = strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)
        if index == self.cursor:  # over the code's own colours, so the whole row shows it
            cursor = Style(bgcolor=self._cursor_colour(), bold=self.has_focus)
            strip = Strip(Segment.apply_style(iter(strip), post_style=cursor), strip.cell_length)
        return strip.apply_style(self.rich_style)

    def _cursor_colour(self) -> str:
        return "grey30" if self.app.current_theme.dark else "grey82"

    def _text(self, row: Row) -> Text:
        palette = colours(self.app)
        if row.kind == "summary":
            if row.file < 0:
                return Text(row.text, "bold")
            changes = self.files[row.file]
            return Text.assemble(
                "  ", inert(changes.path), "  ", (f"+{changes.added}", palette.good), " ",
                (f"\u2212{changes.removed}", palette.bad), _marker(changes),
            )  # fmt: skip
        if row.kind == "file":
            changes = self.files[row.file]
            return Text.assemble(
                ("\u2501 ", "bold"), (inert(changes.path), "bold underline"), "  ",
                (f"+{changes.added}", palette.good), " ", (f"\u2212{changes.removed}", palette.bad),
                _marker(changes),
            )  # fmt: skip
        if row.kind == "hunk":
            return Text(inert(self.files[row.file].hunks[row.hunk].header), palette.running)
        if row.kind == "line" and row.line is not None:
            return self._line_text(row.file, row.line)
        if row.comment is not None:
            return self._comment_text(row.comment)
        return Text(inert(row.text), "italic")

    def _line_text(self, file: int, line: DiffLine) -> Text:
        palette = colours(self.app)
        old = "" if line.old is None else str(line.old)
        new = "" if line.new is None else str(line.new)
        marker, code = line.text[:1], inert(line.text[1:]).expandtabs(4)
        colour = {"+": palette.good, "-": palette.bad}.get(marker, "")
        syntax = self._syntax_of(file)
        body = Text(code)
        if syntax is not None:
            highlighted = syntax.highlight(code)
            if highlighted.plain.rstrip("\n") == code:  # else its styles would land on other characters
                body.spans = [Span(s.start, s.end, _foreground(s.style)) for s in highlighted.spans]
        return Text.assemble((f"{old:>4} {new:>4} ", "dim"), (marker or " ", f"bold {colour}"), body)

    def _comment_text(self, comment: Comment) -> Text:
        label = "hunk" if comment.end_line is not None else str(comment.line)
        body = " \u23ce ".join(inert(comment.body).splitlines())
        return Text.assemble((f"{'':10}\u2503 \u270e {label}: ", "bold yellow"), (body, "yellow"))

    def _syntax_of(self, file: int) -> Syntax | None:
        if file not in self._syntax:
            from pygments.lexers import get_lexer_for_filename
            from pygments.util import ClassNotFound

            theme = DARK_CODE_THEME if self.app.current_theme.dark else LIGHT_CODE_THEME
            try:
                lexer = get_lexer_for_filename(self.files[file].path)
            except ClassNotFound:
                self._syntax[file] = None
            else:
                self._syntax[file] = Syntax("", lexer, theme=theme, background_color="default")
        return self._syntax[file]

    # --- the cursor ---

    def watch_cursor(self, cursor: int) -> None:
        height = self.scrollable_content_region.height
        top = self.scroll_offset.y
        if cursor < top:
            self.scroll_to(y=cursor, animate=False)
        elif height and cursor >= top + height:
            self.scroll_to(y=cursor - height + 1, animate=False)
        self.refresh()

    def _go(self, index: int) -> None:
        self.cursor = max(0, min(index, len(self.rows) - 1))

    def action_move(self, step: int) -> None:
        self._go(self.cursor + step)

    def action_page(self, pages: int) -> None:
        self._go(self.cursor + pages * max(1, self.scrollable_content_region.height - 1))

    def action_edge(self, end: bool) -> None:
        self._go(len(self.rows) - 1 if end else 0)

    def action_jump(self, kind: str, step: int) -> None:
        """To the next (or previous) hunk or file header."""
        indexes = range(self.cursor + 1, len(self.rows)) if step > 0 else range(self.cursor - 1, -1, -1)
        for index in indexes:
            if self.rows[index].kind == kind:
                self._go(index)
                return
        self.app.bell()

    def action_open(self) -> None:
        """On a line of the list of files: go to that file."""
        row = self.rows[self.cursor]
        if row.kind == "summary" and row.file >= 0:
            self._go(next(i for i, r in enumerate(self.rows) if r.kind == "file" and r.file == row.file))

    @property
    def current(self) -> Row:
        return self.rows[self.cursor]

    def action_comment(self) -> None:
        self.screen.compose_comment(hunk=self.current.kind == "hunk")  # type: ignore[attr-defined]

    def action_comment_hunk(self) -> None:
        self.screen.compose_comment(hunk=True)  # type: ignore[attr-defined]

    def action_edit(self) -> None:
        self.screen.edit_comment()  # type: ignore[attr-defined]

    async def action_remove(self) -> None:
        await self.screen.remove_comment()  # type: ignore[attr-defined]

    async def action_expand(self) -> None:
        await self.screen.expand()  # type: ignore[attr-defined]

    async def action_send(self) -> None:
        await self.screen.send()  # type: ignore[attr-defined]


KEYS = (
    ("n/N", "hunk"), ("f/F", "file"), ("x", "context"), ("c/h", "comment"), ("e", "edit"), ("D", "del"),
    ("S", "send"), ("M", "land"), ("esc", "close"),
)  # fmt: skip
"""The keys line: the keys bold, one space apart, so that it fits 80 columns."""


class ReviewScreen(Screen[None]):
    """A ticket's diff to review, and its draft comments (see the module docstring)."""

    DEFAULT_CSS = """
    ReviewScreen { layout: vertical; }
    ReviewScreen #review-head { height: 1; padding: 0 1; background: $panel; }
    ReviewScreen #review-diff { height: 1fr; }
    ReviewScreen #review-compose { height: auto; display: none; }
    ReviewScreen #review-compose.open { display: block; }
    ReviewScreen #review-status { height: auto; max-height: 3; padding: 0 1; }
    ReviewScreen #review-keys { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "M",
            "land",
            "Land",
            id="review.land",
            tooltip=(
                "land the ticket as `lfg land` does: asks first when drafts are not sent, then how (squash,"
                " merge or rebase) and the commit message; the screen says the landed commit, or which "
                "files conflict with everything left as it was"
            ),
        ),
        Binding(
            "escape,q",
            "close",
            "Close",
            id="review.close",
            tooltip="close the review (drafts are kept, in the history)",
        ),
    ]

    def __init__(
        self, ticket: str, title: str, diff: str, desk: ReviewDesk, landing: Landing | None = None
    ) -> None:
        """`landing`: None when the ticket has no worktree to land (or this lfg cannot land it)."""
        super().__init__()
        self.ticket, self.title_line, self.desk, self.landing = ticket, title, desk, landing
        self.files = parse_diff(diff)
        self.context = 3
        self.editing: Comment | None = None
        """The draft the input edits; None: it writes a new one (`target`)."""
        self.target: tuple[str, DiffLine | Hunk] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="review-head")
        yield DiffView(self.files, self.desk.drafts)
        with Vertical(id="review-compose"):
            yield Static(id="review-about")
            yield Input(placeholder="your comment (enter keeps it, escape drops it)", id="review-input")
        yield Static(id="review-status")
        keys = Text(" ").join(Text.assemble((key, "bold"), " ", does) for key, does in KEYS)
        yield Static(keys, id="review-keys")

    def on_mount(self) -> None:
        self._show_head()
        if not self.files:
            self.say("No changes yet.")
        self.view.focus()

    @property
    def view(self) -> DiffView:
        return self.query_one(DiffView)

    def _show_head(self) -> None:
        added = sum(f.added for f in self.files)
        removed = sum(f.removed for f in self.files)
        drafts, sent = len(self.desk.drafts), len(self.desk.comments) - len(self.desk.drafts)
        head = Text.assemble(
            ("review ", "bold"), (inert(self.ticket), "bold"), "  ", inert(self.title_line), "  ",
            f"{plural(len(self.files), 'file')} +{added} \u2212{removed}  ",
            (f"{drafts} draft(s)", "bold yellow"),
            f"  {sent} sent" if sent else "",
        )  # fmt: skip
        self.query_one("#review-head", Static).update(head)

    def say(self, message: str) -> None:
        self.query_one("#review-status", Static).update(Text(inert(message)))

    def _refresh(self) -> None:
        self.view.show(self.files, self.desk.drafts)
        self._show_head()

    # --- writing comments ---

    def compose_comment(self, hunk: bool) -> None:
        row = self.view.current
        if row.kind not in ("line", "hunk", "comment") or row.file < 0:
            self.say("Comment on a line (c) or a hunk (h): move to one first.")
            return
        path = self.files[row.file].path
        if hunk or row.line is None:
            chosen: DiffLine | Hunk = self.files[row.file].hunks[row.hunk]
            about = f"{path} hunk {chosen.header}"
        else:
            chosen = row.line
            about = f"{path}:{chosen.number} {chosen.text}"
        self.editing, self.target = None, (path, chosen)
        self._open_input(about, "")

    def edit_comment(self) -> None:
        comment = self._comment_here()
        if comment is None:
            self.say("No draft here: move to a comment (or the line it is on) to edit it.")
            return
        self.editing, self.target = comment, None
        self._open_input(f"editing {comment.where}", comment.body)

    def _comment_here(self) -> Comment | None:
        row = self.view.current
        if row.comment is not None:
            return row.comment
        if row.kind == "line" and row.line is not None:
            path = self.files[row.file].path
            found = [d for d in self.desk.drafts if _anchor(d) == (path, row.line.side, row.line.number)]
            return found[0] if found else None
        return None

    def _open_input(self, about: str, text: str) -> None:
        self.query_one("#review-about", Static).update(Text(inert(about[:200]), "dim"))
        self.query_one("#review-compose").add_class("open")
        field = self.query_one("#review-input", Input)
        field.value = text
        field.focus()

    def _close_input(self) -> None:
        self.query_one("#review-compose").remove_class("open")
        self.editing = self.target = None
        self.view.focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        body = event.value.strip()
        editing, target = self.editing, self.target
        self._close_input()
        if not body:
            self.say("An empty comment was not kept.")
            return
        if editing is not None:
            comment = replace(editing, body=body)
        else:
            assert target is not None, "the input opens on a line or a hunk"
            path, chosen = target
            made = (
                hunk_comment(path, chosen, body)
                if isinstance(chosen, Hunk)
                else line_comment(path, chosen, body)
            )
            comment = replace(made, created_at=time.time())
        problem = await self.desk.save(comment)
        self._refresh()
        self.say(problem or f"Kept {comment.where}: {len(self.desk.drafts)} draft(s). S sends them.")

    async def remove_comment(self) -> None:
        comment = self._comment_here()
        if comment is None:
            self.say("No draft here to remove.")
            return
        problem = await self.desk.remove(comment.key)
        self._refresh()
        self.say(problem or f"Removed the draft on {comment.where}.")

    # --- the diff, the follow-up, closing ---

    async def expand(self) -> None:
        if self.desk.diff is None:
            self.say("More context needs the ticket's worktree; this diff is the one it recorded.")
            return
        diff = await self.desk.diff(self.context + CONTEXT_STEP)
        if diff is None:
            self.say("The diff cannot be taken again: the worktree is gone.")
            return
        self.context += CONTEXT_STEP
        self.files = parse_diff(diff)
        self._refresh()
        self.say(f"{self.context} lines of context around each change.")

    async def send(self) -> None:
        count = len(self.desk.drafts)
        problem = await self.desk.send()
        if problem is not None and not problem.startswith("sent, but"):
            self.say(problem)
            self._show_head()
            return
        self.app.notify(
            inert(f"Sent {count} review comment(s) to {self.ticket}" + (f" ({problem})" if problem else "")),
            timeout=4,
            markup=False,
        )
        self.dismiss(None)

    def action_land(self) -> None:
        self.run_worker(self._land(), group="land", exclusive=True)

    async def _land(self) -> None:
        """Ask about unsent drafts, then how to land; land, and say what happened."""
        from lfgtui.ui.screens.land import LandScreen
        from lfgtui.ui.screens.modals import ConfirmScreen

        landing = self.landing
        if landing is None:
            self.say(
                "Nothing to land from here: this ticket has no worktree this lfg runs that knows its "
                "base branch (lfg land RUN TICKET --onto BRANCH lands one)."
            )
            return
        drafts = len(self.desk.drafts)
        if drafts:
            question = f"{drafts} review comment(s) are not sent. Land without them? (they stay drafts)"
            if not await self.app.push_screen(ConfirmScreen(question), wait_for_dismiss=True):
                self.say("Not landed: S sends the drafts first.")
                return
        asked = LandScreen(self.ticket, landing.branch, landing.onto, landing.message)
        options = await self.app.push_screen(asked, wait_for_dismiss=True)
        if options is None:
            self.say("Not landed.")
            return
        self.say(f"Landing {self.ticket} onto {landing.onto} ({options.strategy})\u2026")
        self.say(await landing.land(options))

    def action_close(self) -> None:
        if self.query_one("#review-compose").has_class("open"):
            self._close_input()
            self.say("Not kept.")
            return
        self.dismiss(None)
