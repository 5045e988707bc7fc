"""A coding agent's question to the person as a form (ACP `elicitation/create`, form mode): its
requested JSON Schema read into fields, and what the person entered checked against it.

The schema comes from the agent, so it is read leniently and never trusted: `read_form` never raises.
What it cannot read becomes a field that cannot be filled in, or a problem the form lists, so the
person sees what can be shown and can still decline. Every text in it (titles, descriptions, field
names, choices) is kept as the agent sent it: whoever shows it makes it inert. What the person entered
is checked for what the schema says (required fields, types, choices, minimum and maximum, lengths and
counts); a string's `pattern` and `format` are left to the agent (a pattern is a regular expression
from outside, which could take unbounded time to match). The same `check` takes the person's entries in
the TUI and a watcher's JSON answer (run/approvals.py checks every answer with it before it is sent).

Nothing an agent sends can make a form too big to show: `entering` refuses a question whose form is
larger than `MAX_FORM_BYTES` where it enters lfg, and `read_form` shows at most `MAX_FIELDS` fields of
at most `MAX_CHOICES` choices, cuts long texts, leaves out names and choice values it cannot send back
whole, and caps `maxLength` at what lfg takes (`MAX_ANSWER_CHARS`); each cut is said in the form's
`problems`, so the person sees what they are not shown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

MAX_FIELDS = 50
"""The most fields a form shows: a larger one is cut (and cannot be accepted if it requires more)."""
MAX_CHOICES = 100
"""The most choices a field shows: the rest are cut (the form says how many)."""
MAX_TEXT_CHARS = 1000
"""The longest title or description shown whole: a longer one is cut, ending with `…`."""
MAX_NAME_CHARS = 200
"""The longest field name, choice value or choice title: a name or value is sent back as the agent
gave it, so a longer one cannot be shown whole and its field or choice is left out."""
MAX_ANSWER_CHARS = 10_000
"""The most characters a text answer may have, whatever the schema's `maxLength`."""
MAX_QUESTION_CHARS = 2000
"""The longest question shown whole: a longer one is cut where it enters (`entering`)."""
MAX_FORM_BYTES = 100_000
"""The largest form (its schema as JSON) lfg takes: a larger question is declined where it enters."""


class Kind(StrEnum):
    """What a field takes."""

    TEXT = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    """One of the schema's `enum` or `oneOf` values."""
    CHOICES = "choices"
    """Any of the values of an `array` of them (a multi-select)."""
    UNKNOWN = "unknown"
    """A type lfg does not know: shown, never filled in."""


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    title: str


@dataclass(frozen=True, slots=True)
class FormField:
    """One property of the requested schema; `problem` says why it cannot be filled in (else "")."""

    name: str
    kind: Kind
    required: bool = False
    title: str = ""
    description: str = ""
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    default: Any = None
    problem: str = ""

    @property
    def label(self) -> str:
        """Its title, else its name (as the agent sent them: show it inert)."""
        return self.title or self.name

    def bounds(self) -> str:
        """What the schema asks of its value, in words: `1 to 10`, `at most 80 characters`."""
        if self.kind in (Kind.NUMBER, Kind.INTEGER):
            return _between(self.minimum, self.maximum, "")
        if self.kind is Kind.TEXT:
            return _between(self.min_length, self.max_length, " characters")
        if self.kind is Kind.CHOICES:
            return _between(self.min_length, self.max_length, " chosen")
        return ""


@dataclass(frozen=True, slots=True)
class Form:
    """The form the agent asks to be filled in: `problems` is what of its schema lfg could not read."""

    fields: tuple[FormField, ...]
    title: str = ""
    description: str = ""
    problems: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """Whether it can be accepted at all: no required field is one lfg cannot fill in."""
        return not any(f.required and f.problem for f in self.fields) and not any(
            p.startswith(UNFILLABLE) for p in self.problems
        )


@dataclass(frozen=True, slots=True)
class Entering:
    """An agent's question as lfg keeps it (`entering`): `refused` says why it is declined at once
    (else "")."""

    question: str
    form: dict[str, Any]
    refused: str = ""


def entering(question: str, schema: dict[str, Any]) -> Entering:
    """The question and form an agent asks, where they enter lfg: a question longer than
    `MAX_QUESTION_CHARS` is cut (saying so); a form larger than `MAX_FORM_BYTES` as JSON is refused,
    so no history, broker entry or page ever carries it."""
    if len(question) > MAX_QUESTION_CHARS:
        more = len(question) - MAX_QUESTION_CHARS
        question = f"{question[:MAX_QUESTION_CHARS]}… (lfg cut {more} more characters)"
    try:
        size = len(json.dumps(schema))  # ASCII: a byte a character, whatever the text holds
    except (TypeError, ValueError, RecursionError):
        return Entering(question, {}, "its form is not a JSON object")
    if size > MAX_FORM_BYTES:
        refused = f"its form is {size:,} bytes of JSON, more than lfg takes ({MAX_FORM_BYTES:,})"
        return Entering(question, {}, refused)
    return Entering(question, schema)


UNFILLABLE = "cannot be accepted: "
"""How a problem that stops the whole form from being accepted begins."""

Entry = str | bool | int | float | tuple[str, ...] | list[str] | None
"""What the person entered in a field: text as typed, a boolean, the chosen values; None: nothing. A
watcher's answer comes as JSON: a number as a number, the chosen values as a list."""


def _between(low: float | None, high: float | None, unit: str) -> str:
    def number(value: float) -> str:
        return f"{value:g}"

    if low is not None and high is not None:
        return f"{number(low)} to {number(high)}{unit}"
    if low is not None:
        return f"at least {number(low)}{unit}"
    if high is not None:
        return f"at most {number(high)}{unit}"
    return ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _choices(spec: Mapping[str, Any], problems: list[str], cuts: list[str]) -> tuple[Choice, ...]:
    """The values of an `enum` (untitled) or a `oneOf`/`anyOf` of `{const, title}` (titled): at most
    `MAX_CHOICES` of them (what is cut or left out is said in `cuts`)."""
    found: list[Choice] = []
    more = too_long = 0
    for key in ("enum", "oneOf", "anyOf"):
        options = spec.get(key)
        if options is None:
            continue
        if not isinstance(options, list):
            problems.append(f"its {key} is not a list")
            continue
        room = max(MAX_CHOICES - len(found), 0)
        more += max(len(options) - room, 0)
        for option in options[:room]:
            if isinstance(option, str):
                value, title = option, option
            elif isinstance(option, dict) and isinstance(option.get("const"), str):
                value, title = option["const"], _text(option.get("title")) or option["const"]
            else:
                problems.append(f"its {key} has a value that is not text")
                continue
            if len(value) > MAX_NAME_CHARS:
                too_long += 1
                continue
            found.append(Choice(value, _cut(title, MAX_NAME_CHARS)))
    if more:
        cuts.append(f"{more} more choices than lfg shows ({MAX_CHOICES}): choose from the first ones")
    if too_long:
        cuts.append(f"{too_long} choices longer than {MAX_NAME_CHARS} characters left out")
    problems[:] = dict.fromkeys(problems)  # each said once, however many values have it
    return tuple(found)


def _field(name: str, spec: Any, required: bool, cuts: list[str]) -> FormField:
    """One property read; whatever it lacks or has wrong is its `problem`, never an exception. What is
    cut to fit (choices, texts, a `maxLength` above what lfg takes) is said in `cuts`."""
    if len(name) > MAX_NAME_CHARS:
        problem = f"its name is longer than {MAX_NAME_CHARS} characters"
        return FormField(_cut(name, MAX_NAME_CHARS), Kind.UNKNOWN, required, problem=problem)
    if not isinstance(spec, dict):
        return FormField(name, Kind.UNKNOWN, required, problem="its schema is not an object")
    problems: list[str] = []
    kind_name = spec.get("type")
    title, description = _text(spec.get("title")), _text(spec.get("description"))
    if len(title) > MAX_NAME_CHARS or len(description) > MAX_TEXT_CHARS:
        cuts.append("its title or description is cut")
    default = spec.get("default")
    common: dict[str, Any] = {
        "title": _cut(title, MAX_NAME_CHARS),
        "description": _cut(description, MAX_TEXT_CHARS),
        "default": None if isinstance(default, str) and len(default) > MAX_ANSWER_CHARS else default,
    }
    if kind_name == "string":
        choices = _choices(spec, problems, cuts)
        if choices:
            kind = Kind.CHOICE
        elif {"enum", "oneOf", "anyOf"} & set(spec):
            reason = "; ".join(problems) or "no choices to pick from"
            return FormField(name, Kind.CHOICE, required, **common, problem=reason)
        else:
            kind = Kind.TEXT
        field = FormField(
            name,
            kind,
            required,
            choices=choices,
            min_length=_count(spec.get("minLength")),
            max_length=_count(spec.get("maxLength")),
            **common,
        )
        if kind is Kind.TEXT:
            field = _capped(field, problems, cuts)
    elif kind_name in ("number", "integer"):
        field = FormField(
            name,
            Kind(kind_name),
            required,
            minimum=_number(spec.get("minimum")),
            maximum=_number(spec.get("maximum")),
            **common,
        )
    elif kind_name == "boolean":
        field = FormField(name, Kind.BOOLEAN, required, **common)
    elif kind_name == "array":
        items = spec.get("items")
        choices = _choices(items, problems, cuts) if isinstance(items, dict) else ()
        if not choices:
            reason = "; ".join(problems) or "a list without choices to pick from"
            return FormField(name, Kind.CHOICES, required, **common, problem=reason)
        field = FormField(
            name,
            Kind.CHOICES,
            required,
            choices=choices,
            min_length=_count(spec.get("minItems")),
            max_length=_count(spec.get("maxItems")),
            **common,
        )
        if field.min_length is not None and field.min_length > len(choices):
            problems.append(f"it asks for at least {field.min_length} chosen of {len(choices)} choices")
    else:
        what = f"type {kind_name!r}" if isinstance(kind_name, str) else "no type"
        return FormField(name, Kind.UNKNOWN, required, **common, problem=f"{what}, which lfg cannot fill in")
    numeric = kind_name in ("number", "integer")
    low, high = (field.minimum, field.maximum) if numeric else (field.min_length, field.max_length)
    if low is not None and high is not None and low > high:
        problems.append(f"it asks for at least {low:g} and at most {high:g}: no value can be both")
    return replace(field, problem="; ".join(problems)) if problems else field


def _capped(field: FormField, problems: list[str], cuts: list[str]) -> FormField:
    """A text field whose lengths fit what lfg takes: a `maxLength` above `MAX_ANSWER_CHARS` is
    lowered to it (said in `cuts`); a `minLength` above it cannot be met (said in `problems`)."""
    if field.min_length is not None and field.min_length > MAX_ANSWER_CHARS:
        problems.append(
            f"it asks for at least {field.min_length} characters, more than lfg takes ({MAX_ANSWER_CHARS})"
        )
        return replace(field, min_length=None, max_length=None)
    if field.max_length is not None and field.max_length > MAX_ANSWER_CHARS:
        cuts.append(f"it takes at most {MAX_ANSWER_CHARS} characters here (its schema: {field.max_length})")
        return replace(field, max_length=MAX_ANSWER_CHARS)
    return field


def read_form(schema: Any) -> Form:
    """The form a requested schema describes, read leniently (see the module's docstring)."""
    if not isinstance(schema, dict):
        return Form((), problems=(f"{UNFILLABLE}its schema is not an object",))
    problems: list[str] = []
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        problems.append(f"{UNFILLABLE}its properties are not an object")
        properties = {}
    required_list = schema.get("required", [])
    if not isinstance(required_list, list) or not all(isinstance(r, str) for r in required_list):
        problems.append("its required list is not a list of names: every field is taken as optional")
        required_list = []
    required = set(required_list)
    names = list(properties)
    fields: list[FormField] = []
    for name in names[:MAX_FIELDS]:
        cuts: list[str] = []
        field = _field(name, properties[name], name in required, cuts)
        fields.append(field)
        problems += (f"{_cut(field.label, 60)}: {cut}" for cut in cuts)
    if len(names) > MAX_FIELDS:
        cut = names[MAX_FIELDS:]
        needed = UNFILLABLE if required & set(cut) else ""
        problems.append(f"{needed}{len(cut)} more fields than lfg shows ({MAX_FIELDS})")
    missing = sorted(required - set(names))
    if missing:
        listed = _cut(", ".join(missing), MAX_TEXT_CHARS)
        problems.append(f"{UNFILLABLE}it requires fields it does not describe: {listed}")
    title, description = _text(schema.get("title")), _text(schema.get("description"))
    if len(title) > MAX_NAME_CHARS or len(description) > MAX_TEXT_CHARS:
        problems.append("its title or description is cut")
    return Form(
        tuple(fields), _cut(title, MAX_NAME_CHARS), _cut(description, MAX_TEXT_CHARS), tuple(problems)
    )


def check(form: Form, entered: Mapping[str, Entry]) -> tuple[dict[str, Any], dict[str, str]]:
    """The content to send for what the person `entered` (by field name), and the problem of each
    field that does not fit the schema (none: the content may be sent). A name the form does not
    show is a problem of its own: nothing is sent that the person was not asked."""
    content: dict[str, Any] = {}
    problems: dict[str, str] = {}
    shown = {field.name for field in form.fields}
    for name in entered:
        if name not in shown:
            problems[_cut(name, MAX_NAME_CHARS)] = "not a field of this form"
    for field in form.fields:
        value = entered.get(field.name)
        empty = value is None or value == "" or value == () or value == []
        if field.problem:
            if field.required:
                problems[field.name] = f"lfg cannot fill it in: {field.problem}"
            continue
        if empty:
            if field.required:
                problems[field.name] = "required"
            continue
        try:
            content[field.name] = _value(field, value)
        except ValueError as exc:
            problems[field.name] = str(exc)
    return content, problems


def _value(field: FormField, value: Entry) -> Any:
    """The value to send for one field, or ValueError saying what is wrong with it."""
    if field.kind is Kind.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError("yes or no")
        return value
    if field.kind is Kind.CHOICES:
        chosen = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else value
        if not isinstance(chosen, tuple) or len(set(chosen)) != len(chosen):
            raise ValueError("choose from the list")
        allowed = {choice.value for choice in field.choices}
        if any(item not in allowed for item in chosen):
            raise ValueError("choose from the list")
        _within(len(chosen), field.min_length, field.max_length, field.bounds())
        return list(chosen)
    numeric = field.kind in (Kind.NUMBER, Kind.INTEGER)
    if numeric and isinstance(value, int | float) and not isinstance(value, bool):
        number = _json_number(value, field.kind is Kind.INTEGER)
        _within(number, field.minimum, field.maximum, field.bounds())
        return number
    if not isinstance(value, str):
        raise ValueError("a number" if numeric else "expected text")
    if field.kind is Kind.CHOICE:
        if value not in {choice.value for choice in field.choices}:
            raise ValueError("choose one of the choices")
        return value
    if field.kind is Kind.TEXT:
        high = MAX_ANSWER_CHARS if field.max_length is None else field.max_length
        _within(len(value), field.min_length, high, field.bounds() or f"at most {high} characters")
        return value
    number = _read_number(value.strip(), field.kind is Kind.INTEGER)
    _within(number, field.minimum, field.maximum, field.bounds())
    return number


def _json_number(value: float, whole: bool) -> int | float:
    """A number as JSON carried it: a whole field takes `2` and `2.0` (as 2), not `2.5`."""
    if not math.isfinite(value):
        raise ValueError("a finite number")
    if whole:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("a whole number")
        return int(value)
    return value


def _read_number(text: str, whole: bool) -> int | float:
    try:
        return int(text)
    except ValueError:
        if whole:
            raise ValueError("a whole number") from None
    try:
        number = float(text)
    except ValueError:
        raise ValueError("a number") from None
    if not math.isfinite(number):
        raise ValueError("a finite number")
    return number


def _within(value: float, low: float | None, high: float | None, bounds: str) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(bounds)


def answer_text(action: str, content: Mapping[str, Any] | None) -> str:
    """An answer in one line, as the history and the NDJSON progress say it: `accepted: name=Ada,
    count=3`, `declined`, `cancelled` (values as the person gave them: show it inert)."""
    if action != "accept":
        return {"decline": "declined", "cancel": "cancelled"}.get(action, action)
    if not content:
        return "accepted"
    return "accepted: " + ", ".join(f"{name}={_shown(value)}" for name, value in content.items())


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)
