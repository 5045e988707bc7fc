"""The collapsible tool-call log of a pane: one row per call, expandable to its full I/O."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from rich.text import Text
from textual.content import Content
from textual.widgets import Collapsible, Static

from lfgtui.inert import json_text, revealed
from lfgtui.ui.palette import DEFAULT

OUTPUT_TAIL_LINES = 40
SHORT_ARGS = 48


class ToolState(StrEnum):
    RUNNING = "running"
    WAITING = "waiting for approval"
    OK = "ok"
    ERROR = "error"
    DENIED = "denied"


def short_arguments(arguments: dict[str, Any]) -> str:
    text = json_text(arguments, separators=(", ", ": "))
    return text if len(text) <= SHORT_ARGS else text[: SHORT_ARGS - 1] + "…"


def _shown_lines(text: str) -> str:
    """`text` revealed, each line break marked `⏎` so a multi-line value cannot pass for one line."""
    return revealed(text).replace("\n", "⏎\n")


def approval_request(name: str, arguments: dict[str, Any], attention: str = DEFAULT.attention) -> Text:
    """Everything a person approves, nothing cut and every character visible (controls, carriage
    returns and bidi overrides shown, line breaks marked): a command with its timeout; a file's path,
    size and whole content; any other tool's arguments in full."""
    text = Text.assemble(("approve ", f"bold {attention}"), (revealed(name), "bold"), " ")
    command, path, content = arguments.get("command"), arguments.get("path"), arguments.get("content")
    if name == "run_command" and isinstance(command, str):
        text.append(_shown_lines(command), "bold")
        if "timeout_s" in arguments:
            text.append(f" (timeout {arguments['timeout_s']}s)")
    elif name == "write_file" and isinstance(path, str) and isinstance(content, str):
        size = len(content.encode(errors="replace"))
        text.append(_shown_lines(path), "bold")
        text.append(f" ({size} bytes, {len(content.splitlines())} lines)")
        if content:
            text.append(":\n")
            text.append(revealed(content).rstrip("\n"), "dim")
    else:
        text.append(json_text(arguments, indent=2), "bold")
    return text


def approval_notice(
    request: Text, lines: list[Text], room: int, yes: str, no: str, attention: str = DEFAULT.attention
) -> tuple[Text, bool]:
    """What a pane's notice shows of an approval, and whether that is the whole request.

    `lines` is the request with its question wrapped at the notice's width; `room` is how many lines
    the notice has. When it all fits, `yes` approves there; otherwise the notice says how much is
    hidden and `yes` opens the whole request first.
    """
    if len(lines) <= room:
        return request, True
    shown = Text("\n").join(lines[: room - 1])
    hidden = len(lines) - room + 1
    shown.append(f"\n… {hidden} more lines: {yes} = see it all, {no} = no", attention)
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


class ToolRow(Collapsible):
    """One tool call: name, short arguments, state and duration; expands to arguments and output."""

    def __init__(self, call_id: str, name: str, arguments: dict[str, Any], started: float) -> None:
        self.call_id = call_id
        self.tool_name = name
        self.arguments = arguments
        self.started = started
        self.state = ToolState.RUNNING
        self.duration: float | None = None
        self.output = ""
        self.detail = Static(classes="tool-detail")
        super().__init__(self.detail, title=self._heading(), collapsed=True, classes="tool-row")
        self._show_detail("")

    def _heading(self) -> Content:
        """The row's title, as literal text: a tool's name and arguments are the model's, never markup."""
        duration = "" if self.duration is None else f" · {self.duration:.1f}s"
        name = revealed(self.tool_name)
        return Content(f"{name} {short_arguments(self.arguments)} · {self.state.value}{duration}")

    def _show_detail(self, output: str) -> None:
        body = Text(json_text(self.arguments, indent=2), "dim")
        if output:
            body.append("\n")
            body.append(revealed(output_tail(output)))
        self.detail.update(body)

    def describe(self, name: str, arguments: dict[str, Any]) -> None:
        """The call as the agent now means it (a coding agent names and fills in a call after it
        announced it): the heading and the detail change, its state and output stay."""
        self.tool_name, self.arguments = name, arguments
        self.title = self._heading()
        self._show_detail(self.output)

    def set_state(self, state: ToolState) -> None:
        self.state = state
        self.title = self._heading()
        self.set_class(state in (ToolState.ERROR, ToolState.DENIED), "-failed")
        self.set_class(state is ToolState.WAITING, "-waiting")

    def finish(self, output: str, is_error: bool, ended: float) -> None:
        self.duration = max(0.0, ended - self.started)
        denied = is_error and output.startswith("denied:")
        self.set_state(ToolState.DENIED if denied else ToolState.ERROR if is_error else ToolState.OK)
        self.output = output
        self._show_detail(output)


TROUBLE = ((ToolState.ERROR, "failed"), (ToolState.DENIED, "denied"))
"""What a tool log's title counts apart: a call the user denied did not fail."""


class ToolLog(Collapsible):
    """All tool calls of the current attempt; its title counts them and flags trouble."""

    def __init__(self) -> None:
        super().__init__(title="tools", collapsed=True, classes="tool-log")
        self.rows: dict[str, ToolRow] = {}

    def _retitle(self) -> None:
        states = [row.state for row in self.rows.values()]
        counts = [str(len(states))]
        counts += [f"{n} {label}" for state, label in TROUBLE if (n := states.count(state))]
        waiting = " · approval needed" if ToolState.WAITING in states else ""
        self.title = f"tools ({', '.join(counts)}){waiting}"
        self.display = bool(self.rows)

    def add(self, call_id: str, name: str, arguments: dict[str, Any], started: float) -> ToolRow:
        row = ToolRow(call_id, name, arguments, started)
        self.rows[call_id] = row
        self.query_one(Collapsible.Contents).mount(row)
        self._retitle()
        return row

    def describe(self, call_id: str, name: str, arguments: dict[str, Any]) -> None:
        if call_id in self.rows:
            self.rows[call_id].describe(name, arguments)

    def set_state(self, call_id: str, state: ToolState) -> None:
        if call_id in self.rows:
            self.rows[call_id].set_state(state)
            self._retitle()

    def finish(self, call_id: str, output: str, is_error: bool, ended: float) -> None:
        if call_id in self.rows:
            self.rows[call_id].finish(output, is_error, ended)
            self._retitle()

    def clear(self) -> None:
        for row in self.rows.values():
            row.remove()
        self.rows.clear()
        self._retitle()
