"""A coding agent's question as a form (ACP elicitation), filled in with the keyboard.

One widget per field of the requested schema (text and numbers in an input, a boolean as a checkbox,
one choice in a select, several in a selection list); what lfg cannot fill in is shown, never asked.
Everything the agent sent (its message, the form's title and description, field names and titles,
choices) is made inert and shown as plain text, never as markup. Accepting checks what was entered
against the schema (lfgtui/elicitation.py) and says what does not fit, next to its field; declining
and cancelling need nothing. Escape goes back to the pane undecided, keeping what was entered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, SelectionList, Static

from lfgtui.events import ElicitationAsked
from lfgtui.inert import revealed
from lfgtui.run.agents.elicitation import Entry, Form, FormField, Kind, check, read_form
from lfgtui.run.approvals import Reply
from lfgtui.ui.screens.modals import fit_scroll

if TYPE_CHECKING:
    from lfgtui.ui.services import Services

Drafts = dict[str, Any]
"""What was entered in each field, by the field's name (kept when the person goes back undecided)."""


def _plain(text: str, style: str = "") -> Text:
    """The agent's text as plain text, its controls and bidi characters shown (what the person
    answers must read as it is)."""
    return Text(revealed(text), style)


def field_label(field: FormField) -> Text:
    """`Name *  (integer, 1 to 10)`: its title or name, `*` when required, what it takes."""
    label = _plain(field.label, "bold")
    if field.title and field.title.casefold() != field.name.casefold():
        label.append(f" ({revealed(field.name)})", "dim")
    if field.required:
        label.append(" *", "bold")
    takes = "one of" if field.kind is Kind.CHOICE else "any of" if field.kind is Kind.CHOICES else field.kind
    bounds = field.bounds()
    label.append(f"  {takes}{', ' + bounds if bounds else ''}", "dim")
    return label


class ElicitationScreen(ModalScreen[Reply | None]):
    """The form of one open question; dismissed with the reply, or None (back, undecided)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+s",
            "accept",
            "Accept",
            id="elicitation.accept",
            priority=True,
            tooltip="(an agent's form) check what was entered and send it",
        ),
        Binding(
            "ctrl+n",
            "decline",
            "Decline",
            id="elicitation.decline",
            priority=True,
            tooltip="(an agent's form) decline to answer",
        ),
        Binding(
            "escape",
            "close",
            "Back",
            id="elicitation.close",
            tooltip="(an agent's form) back to the pane, undecided (what was entered is kept)",
        ),
    ]

    def __init__(self, ticket: str, asked: ElicitationAsked, services: Services, drafts: Drafts) -> None:
        """`drafts`: what was entered before (filled in again, and kept up to date here)."""
        super().__init__()
        self.ticket = ticket
        self.asked = asked
        self.services = services
        self.form: Form = read_form(asked.form)
        self.drafts = drafts
        self.inputs: dict[str, Widget] = {}
        self.dialog = Vertical(classes="dialog elicitation")

    def compose(self) -> ComposeResult:
        form = self.form
        with self.dialog:
            yield Static(_plain(f"{self.ticket} asks you: {self.asked.question}", "bold"), classes="question")
            with VerticalScroll(id="elicitation-form"):
                if form.title or form.description:
                    about = _plain(form.title, "bold")
                    if form.description:
                        about.append(("\n" if form.title else "") + revealed(form.description))
                    yield Static(about, classes="about")
                for problem in form.problems:
                    yield Static(_plain(f"⚠ {problem}"), classes="problem")
                for index, field in enumerate(form.fields):
                    yield from self._field(index, field)
            yield Static(id="elicitation-error")
            with Horizontal(id="elicitation-buttons"):
                yield Button(
                    "Accept", id="accept", variant="primary", disabled=not form.answerable, compact=True
                )
                yield Button("Decline", id="decline", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
            yield Static(self._keys(), classes="choices")

    def _field(self, index: int, field: FormField) -> ComposeResult:
        """The field's label, its description and its widget (or why it cannot be filled in)."""
        if field.kind is not Kind.BOOLEAN:
            yield Static(field_label(field), classes="field-label")
        if field.description:
            yield Static(_plain(field.description, "dim"), classes="field-about")
        if field.problem:
            yield Static(_plain(f"⚠ lfg cannot fill it in: {field.problem}"), classes="problem")
            return
        drafted = self.drafts.get(field.name, self._default(field))
        widget: Widget
        if field.kind is Kind.BOOLEAN:
            widget = Checkbox(field_label(field), value=drafted is True, compact=True)
        elif field.kind is Kind.CHOICE:
            options = [(_plain(choice.title), choice.value) for choice in field.choices]
            known = drafted if any(drafted == value for _, value in options) else Select.NULL
            widget = Select(options, value=known, allow_blank=True, prompt="choose one", compact=True)
        elif field.kind is Kind.CHOICES:
            chosen = set(drafted) if isinstance(drafted, tuple | list) else set()
            items = [(_plain(c.title), c.value, c.value in chosen) for c in field.choices]
            widget = SelectionList[str](*items, compact=True)
        else:
            value = drafted if isinstance(drafted, str) else ""
            widget = Input(value=value, placeholder=field.bounds(), compact=True)
        widget.id = f"field-{index}"
        self.inputs[field.name] = widget
        yield widget

    @staticmethod
    def _default(field: FormField) -> Any:
        """The schema's default as the field's widget takes it (a wrong one is left out)."""
        default = field.default
        if field.kind is Kind.BOOLEAN:
            return default if isinstance(default, bool) else None
        if field.kind is Kind.CHOICES:
            return tuple(v for v in default if isinstance(v, str)) if isinstance(default, list) else ()
        if isinstance(default, bool) or default is None:
            return None
        return str(default) if isinstance(default, str | int | float) else None

    def _keys(self) -> Text:
        accept, decline, back = (self._key(name) for name in ("accept", "decline", "close"))
        return Text(f"tab: next  {accept}: accept  {decline}: decline  {back}: back, undecided")

    def _key(self, name: str) -> str:
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == f"elicitation.{name}")
        return self.services.first_key(binding)

    def on_mount(self) -> None:
        first = next(iter(self.inputs.values()), None)
        (first or self.query_one("#decline", Button)).focus()
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        fit_scroll(self.dialog, self.query_one("#elicitation-form"), self.size.height)

    def entered(self) -> dict[str, Entry]:
        """What each field holds now."""
        values: dict[str, Entry] = {}
        for name, widget in self.inputs.items():
            if isinstance(widget, Input | Checkbox):
                values[name] = widget.value
            elif isinstance(widget, Select):
                values[name] = None if widget.is_blank() else str(widget.value)
            elif isinstance(widget, SelectionList):
                values[name] = tuple(str(value) for value in widget.selected)
        return values

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field goes to the next one."""
        event.stop()
        self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        match event.button.id:
            case "accept":
                self.action_accept()
            case "decline":
                self.action_decline()
            case _:
                self.dismiss(Reply("cancel"))

    def action_accept(self) -> None:
        """Send what was entered, once it fits the schema; else say what does not, and where."""
        error = self.query_one("#elicitation-error", Static)
        if not self.form.answerable:
            error.update(
                Text("This form cannot be accepted (see ⚠ above): decline or cancel it.", "bold red")
            )
            return
        content, problems = check(self.form, self.entered())
        if problems:
            said = [f"{revealed(self._label(name))}: {problem}" for name, problem in problems.items()]
            error.update(Text("Not sent: " + "; ".join(said), "bold red"))
            first = self.inputs.get(next(iter(problems)))
            if first is not None:
                first.focus()
            return
        self.dismiss(Reply("accept", content))

    def _label(self, name: str) -> str:
        return next((f.label for f in self.form.fields if f.name == name), name)

    def action_decline(self) -> None:
        self.dismiss(Reply("decline"))

    def action_close(self) -> None:
        self.drafts.clear()
        self.drafts.update(self.entered())
        self.dismiss(None)
