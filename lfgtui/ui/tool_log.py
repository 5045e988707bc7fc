"""The collapsible tool-call log of a pane: one row per call, expandable to its full I/O."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from rich.text import Text
from textual.widgets import Collapsible, Static

OUTPUT_TAIL_LINES = 40
SHORT_ARGS = 48
APPROVAL_ARGS = 300


class ToolState(StrEnum):
    RUNNING = "running"
    WAITING = "waiting for approval"
    OK = "ok"
    ERROR = "error"
    DENIED = "denied"


def short_arguments(arguments: dict[str, Any]) -> str:
    text = json.dumps(arguments, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= SHORT_ARGS else text[: SHORT_ARGS - 1] + "…"


def approval_question(name: str, arguments: dict[str, Any], yes: str, no: str, tools: str) -> Text:
    """What the user approves, with nothing that matters cut: a command in full; a file's path and
    size (its content is in the tool row, which `tools` shows); other arguments up to
    `APPROVAL_ARGS`, saying what is left."""
    text = Text.assemble(("approve ", "bold magenta"), (name, "bold"), " ")
    if name == "run_command" and isinstance(arguments.get("command"), str):
        text.append(arguments["command"], "bold")
        if "timeout_s" in arguments:
            text.append(f" (timeout {arguments['timeout_s']}s)")
    elif name == "write_file" and isinstance(arguments.get("content"), str):
        content: str = arguments["content"]
        size = f"{len(content.encode())} bytes, {len(content.splitlines())} lines"
        text.append(str(arguments.get("path")), "bold")
        text.append(f" ({size}; {tools} shows it)")
    else:
        raw = json.dumps(arguments, ensure_ascii=False, separators=(", ", ": "))
        text.append(raw[:APPROVAL_ARGS], "bold")
        if len(raw) > APPROVAL_ARGS:
            text.append(f"… ({len(raw) - APPROVAL_ARGS} more characters; {tools} shows them)")
    text.append(f"?  {yes} = yes, {no} = no", "magenta")
    return text


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
        self.detail = Static(classes="tool-detail")
        super().__init__(self.detail, title=self._heading(), collapsed=True, classes="tool-row")
        self._show_detail("")

    def _heading(self) -> str:
        duration = "" if self.duration is None else f" · {self.duration:.1f}s"
        return f"{self.tool_name} {short_arguments(self.arguments)} · {self.state.value}{duration}"

    def _show_detail(self, output: str) -> None:
        body = Text(json.dumps(self.arguments, indent=2, ensure_ascii=False), "dim")
        if output:
            body.append("\n")
            body.append(output_tail(output))
        self.detail.update(body)

    def set_state(self, state: ToolState) -> None:
        self.state = state
        self.title = self._heading()
        self.set_class(state in (ToolState.ERROR, ToolState.DENIED), "-failed")
        self.set_class(state is ToolState.WAITING, "-waiting")

    def finish(self, output: str, is_error: bool, ended: float) -> None:
        self.duration = max(0.0, ended - self.started)
        denied = is_error and output.startswith("denied:")
        self.set_state(ToolState.DENIED if denied else ToolState.ERROR if is_error else ToolState.OK)
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
