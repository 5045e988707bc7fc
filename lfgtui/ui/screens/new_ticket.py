"""The form `N` opens on the run grid: a new ticket for the running run (the add-ticket request), its
prompt, provider, model and tools. What it sends is a `[[ticket]]` table of those fields; the run
checks it as it checked its tickets file, and what it refuses is said in the form, in its words, the
fields kept for the person to fix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from lfgtui.inert import inert

FIELDS = ("prompt", "provider", "model", "tools")
"""The form's fields, in order: a `[[ticket]]`'s of the same names (the rest come from [defaults])."""

Send = Callable[[dict[str, Any]], Awaitable[str | None]]
"""What adds the ticket to the run: why it did not (the run's words), or None once it did."""


def table(values: dict[str, str]) -> dict[str, Any]:
    """The ticket's fields as the form has them: a blank field is left to the run's [defaults], the
    tools a list of names (commas or spaces between them)."""
    fields: dict[str, Any] = {}
    for name in FIELDS:
        value = values.get(name, "")
        if name == "tools":
            if names := value.replace(",", " ").split():
                fields[name] = names
        elif value.strip():
            fields[name] = value if name == "prompt" else value.strip()
    return fields


class NewTicketScreen(ModalScreen[None]):
    """Asks for a new ticket's fields; enter sends them (`send`), escape gives up. Closes once the run
    added the ticket; else says why, in words, and keeps what was typed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="new_ticket.cancel", tooltip="close, adding nothing")
    ]

    def __init__(self, send: Send) -> None:
        super().__init__()
        self.send = send
        self.problem = Static(id="new-ticket-problem")
        self.sending = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("A new ticket for this run:", "bold"), classes="question")
            yield Input(placeholder="its prompt", id="new-ticket-prompt")
            yield Input(placeholder="provider (blank: the run's default)", id="new-ticket-provider")
            yield Input(placeholder="model (blank: the provider's default)", id="new-ticket-model")
            tools = "tools, such as read_file, run_command (blank: none)"
            yield Input(placeholder=tools, id="new-ticket-tools")
            yield self.problem
            keys = "[b]enter[/b] add    [b]tab[/b] next field    [b]escape[/b] cancel"
            yield Static(keys, classes="choices")

    def on_mount(self) -> None:
        self.problem.display = False

    def values(self) -> dict[str, str]:
        """What each field holds now."""
        return {name: self.query_one(f"#new-ticket-{name}", Input).value for name in FIELDS}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.sending:
            return
        fields = table(self.values())
        if "prompt" not in fields:
            self.say("a ticket needs a prompt")
            return
        self.sending = True
        self.run_worker(self._send(fields), group="new-ticket", exclusive=True)

    async def _send(self, fields: dict[str, Any]) -> None:
        try:
            problem = await self.send(fields)
        finally:
            self.sending = False
        if problem is None:
            self.dismiss(None)
        else:
            self.say(problem)

    def say(self, problem: str) -> None:
        """Why the ticket was not added, in the form: the run's words, inert."""
        self.problem.update(Text(inert(problem), "bold red"))
        self.problem.display = True

    def action_cancel(self) -> None:
        self.dismiss(None)
