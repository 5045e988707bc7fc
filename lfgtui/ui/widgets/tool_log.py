"""The collapsible tool-call log of a pane: one row per call, expandable to its full I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rich.text import Text
from textual.content import Content
from textual.widgets import Collapsible, Static

from lfgtui.events import DIFF_ARGUMENTS
from lfgtui.formats import plural
from lfgtui.inert import inert, json_text, revealed
from lfgtui.ui.drawing.diff_lines import line_style
from lfgtui.ui.drawing.palette import DEFAULT, Palette

OUTPUT_TAIL_LINES = 40
SHORT_ARGS = 48
LIVE_OUTPUT_CHARS = 64 * 1024
"""The most of a running call's streamed output a row keeps (its last characters), as much as
`run_command` keeps of a command's."""
LAST_LINE = 60
"""The most of a running call's last line of output its heading shows."""


class ToolState(StrEnum):
    RUNNING = "running"
    WAITING = "waiting for approval"
    OK = "ok"
    ERROR = "error"
    DENIED = "denied"
    UNANSWERED = "not approved: the turn ended"
    STOPPED = "no result: the turn ended"


def short_arguments(arguments: dict[str, Any]) -> str:
    text = json_text(arguments, separators=(", ", ": "))
    return text if len(text) <= SHORT_ARGS else text[: SHORT_ARGS - 1] + "…"


def _shown_lines(text: str) -> str:
    """`text` revealed, each line break marked `⏎` so a multi-line value cannot pass for one line."""
    return revealed(text).replace("\n", "⏎\n")


def approval_request(name: str, arguments: dict[str, Any], palette: Palette = DEFAULT) -> Text:
    """Everything a person approves, nothing cut and every character visible (controls, carriage
    returns and bidi overrides shown, line breaks marked): a command with its timeout; a file's path,
    size and whole content; any other tool's arguments in full, one a line (`arguments_text`)."""
    text = Text.assemble(("approve ", f"bold {palette.attention}"), (revealed(name), "bold"), " ")
    command, path, content = arguments.get("command"), arguments.get("path"), arguments.get("content")
    if name == "run_command" and isinstance(command, str):
        text.append(_shown_lines(command), "bold")
        if "timeout_s" in arguments:
            text.append(f" (timeout {arguments['timeout_s']}s)")
    elif name == "write_file" and isinstance(path, str) and isinstance(content, str):
        size = len(content.encode(errors="replace"))
        text.append(_shown_lines(path), "bold")
        text.append(f" ({plural(size, 'byte')}, {plural(len(content.splitlines()), 'line')})")
        if content:
            text.append(":\n")
            text.append(revealed(content).rstrip("\n"), "dim")
    else:
        text.rstrip()
        text.append_text(arguments_text(arguments, palette))
    return text


GUTTER = "│ "
"""Marks each line of a value that spans lines, so none of its lines can pass for an argument."""


def arguments_text(arguments: dict[str, Any], palette: Palette = DEFAULT, indent: int = 1) -> Text:
    """Each argument on a line of its own, `name: value`, nested ones indented; a value that spans
    lines follows its name, each line behind a gutter; a diff with its added and removed lines in
    the theme's colours. Every character revealed: the agent's text stays text."""
    text = Text()
    pad = "  " * indent
    for key, value in arguments.items():
        text.append(f"\n{pad}")
        text.append(f"{_shown_lines(str(key))}:", "dim")
        if isinstance(value, dict) and value:
            text.append_text(arguments_text(value, palette, indent + 1))
        elif isinstance(value, str) and "\n" in value.rstrip("\n"):
            for line in value.rstrip("\n").split("\n"):
                text.append(f"\n{pad}  {GUTTER}", "dim")
                text.append(revealed(line), line_style(line, palette) if key in DIFF_ARGUMENTS else "")
        elif isinstance(value, str):
            text.append(f" {_shown_lines(value)}", "bold")
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            text.append(" " + ", ".join(_shown_lines(item) for item in value))
        else:
            text.append(f" {json_text(value)}")
    return text


def approval_notice(
    request: Text,
    lines: list[Text],
    room: int,
    yes: str,
    no: str,
    attention: str = DEFAULT.attention,
    width: int = 0,
) -> tuple[Text, bool]:
    """What a pane's notice shows of an approval, and whether that is the whole request.

    `lines` is the request with its question wrapped at the notice's `width`; `room` is how many
    lines the notice has. When it all fits, `yes` approves there; otherwise the notice says how much
    is hidden and `yes` opens the whole request first (that line wrapped too, in a narrow pane, so it
    is never cut off itself).
    """
    if len(lines) <= room:
        return request, True

    def more(kept: int) -> str:
        return f"… {len(lines) - kept} more lines: {yes} = see it all, {no} = no"

    kept = room - 1
    while width > 0 and kept > 0 and kept + math.ceil(len(more(kept)) / width) > room:
        kept -= 1
    shown = Text("\n").join(lines[:kept])
    shown.append(f"\n{more(kept)}" if kept else more(kept), attention)
    return shown, False


def with_question(request: Text, yes: str, no: str, attention: str = DEFAULT.attention) -> Text:
    """The request followed by the keys that answer it."""
    return request + Text(f"?  {yes} = yes, {no} = no", attention)


def output_tail(output: str) -> str:
    """Huge output shows its tail, with a count of the lines hidden above it."""
    lines = output.splitlines()
    if len(lines) <= OUTPUT_TAIL_LINES:
        return output
    hidden = len(lines) - OUTPUT_TAIL_LINES
    return f"… {hidden} earlier lines hidden …\n" + "\n".join(lines[-OUTPUT_TAIL_LINES:])


@dataclass
class ToolCall:
    """One tool call as the pane knows it, whether or not its row is on screen."""

    call_id: str
    tool_name: str
    arguments: dict[str, Any]
    started: float
    state: ToolState = ToolState.RUNNING
    duration: float | None = None
    output: str = ""

    def heading(self) -> Content:
        """The row's title, as literal text: a tool's name and arguments are the model's, never markup.
        While the call runs, the last line of the output it streams follows."""
        duration = "" if self.duration is None else f" · {self.duration:.1f}s"
        name = revealed(self.tool_name)
        heading = f"{name} {short_arguments(self.arguments)} · {self.state.value}{duration}"
        last = self.output.rstrip().rpartition("\n")[2].strip() if self.duration is None else ""
        if last:
            heading += f" · ▸ {inert(last if len(last) <= LAST_LINE else last[: LAST_LINE - 1] + '…')}"
        return Content(heading)

    def detail(self) -> Text:
        body = Text(json_text(self.arguments, indent=2), "dim")
        if self.output:
            body.append("\n")
            body.append(revealed(output_tail(self.output)))
        return body

    def describe(self, name: str, arguments: dict[str, Any]) -> None:
        """The call as the agent now means it (a coding agent names and fills in a call after it
        announced it): the heading and the detail change, its state and output stay."""
        self.tool_name, self.arguments = name, arguments


TROUBLE = (
    (ToolState.ERROR, "failed"),
    (ToolState.DENIED, "denied"),
    (ToolState.UNANSWERED, "unanswered"),
    (ToolState.STOPPED, "stopped"),
)
"""What a tool log's title counts apart: a call the user denied did not fail, nor did one whose turn
ended first."""


class ToolCalls:
    """All tool calls of the current attempt, kept apart from the widgets that show them, so a pane
    scrolled out of view (its widgets gone) keeps them and a view built later shows them all.

    `changes` counts every change, so a view redraws only when it moved; `collapsed` is whether the
    log is folded (the `t` key) and `open_row` the call whose row the `]` key opened, kept here so a
    rebuilt view folds them the same way."""

    def __init__(self) -> None:
        self.rows: dict[str, ToolCall] = {}
        self.collapsed = True
        self.open_row: str | None = None
        self.changes = 0

    def open_next(self) -> None:
        """Open the row after the one open (the first, when none is), closing that one; past the
        last, none. The log unfolds to show it."""
        ids = list(self.rows)
        if not ids:
            return
        at = ids.index(self.open_row) + 1 if self.open_row in ids else 0
        self.open_row = ids[at] if at < len(ids) else None
        if self.open_row is not None:
            self.collapsed = False
        self.changes += 1

    @property
    def title(self) -> str:
        states = [row.state for row in self.rows.values()]
        counts = [str(len(states))]
        counts += [f"{n} {label}" for state, label in TROUBLE if (n := states.count(state))]
        waiting = " · approval needed" if ToolState.WAITING in states else ""
        return f"tools ({', '.join(counts)}){waiting}"

    def add(self, call_id: str, name: str, arguments: dict[str, Any], started: float) -> None:
        self.rows[call_id] = ToolCall(call_id, name, arguments, started)
        self.changes += 1

    def describe(self, call_id: str, name: str, arguments: dict[str, Any]) -> None:
        if call_id in self.rows:
            self.rows[call_id].describe(name, arguments)
            self.changes += 1

    def stream(self, call_id: str, text: str) -> None:
        """More output of a call still running, kept up to `LIVE_OUTPUT_CHARS` (its result replaces it)."""
        call = self.rows.get(call_id)
        if call is None or call.duration is not None:
            return
        output = call.output + text
        if len(output) > LIVE_OUTPUT_CHARS:
            output = "[… earlier output dropped]\n" + output[-LIVE_OUTPUT_CHARS:]
        call.output = output
        self.changes += 1

    def set_state(self, call_id: str, state: ToolState) -> None:
        if call_id in self.rows:
            self.rows[call_id].state = state
            self.changes += 1

    def finish(self, call_id: str, output: str, is_error: bool, ended: float) -> None:
        call = self.rows.get(call_id)
        if call is None:
            return
        call.duration = max(0.0, ended - call.started)
        denied = is_error and output.startswith("denied:")
        call.state = ToolState.DENIED if denied else ToolState.ERROR if is_error else ToolState.OK
        call.output = output
        self.changes += 1

    def turn_ended(self) -> None:
        """The attempt ended: a call still waiting for approval, or for its result, never gets it."""
        ended = {ToolState.WAITING: ToolState.UNANSWERED, ToolState.RUNNING: ToolState.STOPPED}
        for call in self.rows.values():
            if call.duration is None and call.state in ended:
                call.state = ended[call.state]
                self.changes += 1

    def clear(self) -> None:
        self.rows.clear()
        self.open_row = None
        self.changes += 1


class ToolRow(Collapsible):
    """One tool call's row: name, short arguments, state and duration; expands to arguments and output."""

    def __init__(self, call: ToolCall) -> None:
        self.call_id = call.call_id
        self.detail = Static(classes="tool-detail")
        self._shown: tuple[ToolState, float | None, str, str, dict[str, Any]] | None = None
        super().__init__(self.detail, title=call.heading(), collapsed=True, classes="tool-row")
        self.show(call)

    def show(self, call: ToolCall) -> None:
        """Draw the call as it is now (nothing, if it has not changed since last drawn)."""
        shown = (call.state, call.duration, call.output, call.tool_name, call.arguments)
        if shown == self._shown:
            return
        self._shown = shown
        self.title = call.heading()
        self.set_class(call.state in (ToolState.ERROR, ToolState.DENIED), "-failed")
        self.set_class(call.state is ToolState.WAITING, "-waiting")
        self.detail.update(call.detail())


def folded(classes: str, collapsed: bool) -> str:
    """A `Collapsible`'s `classes`, with the `-collapsed` it gets on mount when it starts folded: set
    before, so its mount does not restyle its whole subtree (three per pane, about a fifth of the CPU
    of mounting 64 panes)."""
    return f"{classes} -collapsed" if collapsed else classes


class ToolLog(Collapsible):
    """The widgets of a pane's `ToolCalls`: its title counts them and flags trouble."""

    def __init__(self, calls: ToolCalls) -> None:
        collapsed = calls.collapsed
        super().__init__(title=calls.title, collapsed=collapsed, classes=folded("tool-log", collapsed))
        self.calls = calls
        self.rows: dict[str, ToolRow] = {}
        self._changes = -1
        self._open_row: str | None = None
        """The row the keys last opened, as applied: a row the mouse opens stays open until they move."""
        self._mounted = False

    def on_mount(self) -> None:
        """A pane mounts its log with its first call (pane.py `PaneView.place`): its rows now."""
        self._mounted = True
        self.show()

    def show(self) -> None:
        """Bring the rows up to date with the calls, once mounted (rows are mounted into it)."""
        calls = self.calls
        if calls.changes == self._changes or not self._mounted:
            return
        contents = self.query_one_optional(Collapsible.Contents)
        if contents is None:
            return  # removed while it mounted (its pane view went): Textual composed nothing into it
        self._changes = calls.changes
        for call_id in [call_id for call_id in self.rows if call_id not in calls.rows]:
            self.rows.pop(call_id).remove()
        for call_id, call in calls.rows.items():
            row = self.rows.get(call_id)
            if row is None:
                self.rows[call_id] = ToolRow(call)
                contents.mount(self.rows[call_id])
            else:
                row.show(call)
        if calls.open_row != self._open_row:
            self._open_row = calls.open_row
            for call_id, row in self.rows.items():
                row.collapsed = call_id != calls.open_row
        self.title = calls.title
        self.display = bool(calls.rows)
