"""Events as JSON, for a run watched over the network (`lfg serve`, `lfg attach`), and the messages
of a conversation, which a follow-up sends to a broker's worker.

An event that crosses a network is read by a program that has no reason to trust what sent it, so
`decode` is strict: whatever `json.loads` produced, it returns an event whose every field has the type
its dataclass declares, or raises `CodecError`. `encode` runs once per streamed token on the server,
so what each event type needs is worked out once, from the dataclasses' own type hints.

Times are the server's monotonic clock: they go out relative to the server's `t0` and come back on the
reader's clock, plus the `offset` the reader chose.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import reprlib
import types
import typing
from collections.abc import Callable
from enum import StrEnum
from functools import partial
from operator import attrgetter
from typing import Any, NamedTuple

from lfgtui import events
from lfgtui.contest import FACTS, CheckResult, Contestant, Verdict
from lfgtui.events import Event, Translation
from lfgtui.providers.base import AssistantMessage, Message, ToolResultMessage, UserMessage
from lfgtui.surrogates import mended_fields

if typing.TYPE_CHECKING:
    from collections.abc import Mapping

    from lfgtui.cost.metrics import Metrics

Encoder = Callable[[Any], Any]
Decoder = Callable[[object], Any]


class CodecError(ValueError):
    """Input that is not a valid event; `path` names the field at fault (`error.kind`, `steps[2]`)."""

    def __init__(self, problem: str, path: str = "") -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.problem = problem
        self.path = path

    def inside(self, step: str) -> CodecError:
        """The same error, seen from one level out: `step` is a field name or `[index]`."""
        if self.path and not self.path.startswith("["):
            step += "."
        return type(self)(self.problem, step + self.path)


class UnknownType(CodecError):
    """An event `type` this codec does not know: perhaps from a newer server; a reader skips it."""


def _wire_name(cls: type) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


EVENT_TYPES: dict[str, type[Event]] = {_wire_name(cls): cls for cls in events.event_types()}
"""Every event type of `lfgtui.events` by its name on the wire: `TextDelta` is `text_delta`."""

CODEC: Translation[str] = Translation(
    "remote codec",
    {cls: name for name, cls in EVENT_TYPES.items()},
    dict.fromkeys(
        FACTS,
        "a fact of the run crosses as a message of its own (hub.py `HUB`: `check`, `verdict`), a "
        "verdict's contestants without the metrics each watcher works out from the events",
    ),
)
"""Every event type and its name on the wire; none is left out, since a watcher rebuilds the run
from these alone. What goes with each type comes from its dataclass (`_plan`), not written by hand."""
_TIMES = ("until",)
"""Fields that, like every `t`, hold a time on the server's monotonic clock (`Queued.until`)."""
_INT_RANGE = range(2**63)
"""The integers an event carries (counts, statuses, sequence numbers: none is ever negative), up to
what SQLite can store."""


def _str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise CodecError(f"expected a string, got {type(value).__name__}")


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in _INT_RANGE:
        return value
    raise CodecError(f"expected an integer from 0 to 2**63 - 1, got {_describe(value)}")


def finite(value: object) -> float:
    """`value` as a float when it is a finite JSON number (a 400-digit integer is not); else
    `CodecError`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            return number
    raise CodecError(f"expected a finite number, got {_describe(value)}")


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise CodecError(f"expected a boolean, got {type(value).__name__}")


def _json_object(value: object) -> dict[str, Any]:
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return value
    raise CodecError(f"expected an object, got {type(value).__name__}")


def _describe(value: object) -> str:
    """A number itself (but never thousands of digits), else its type."""
    if isinstance(value, float) or (type(value) is int and abs(value) < 2**63):
        return repr(value)
    return "a larger integer" if type(value) is int else type(value).__name__


_SCALARS: dict[Any, Decoder] = {str: _str, int: _int, float: finite, bool: _bool}


class _Field(NamedTuple):
    name: str
    required: bool
    encode: Encoder | None
    """None: the value is JSON as it is."""
    decode: Decoder


@functools.cache
def _fields(cls: type, but: tuple[str, ...] = ()) -> tuple[_Field, ...]:
    """How each field of dataclass `cls` (but those named `but`) goes to JSON and back, from its type hint."""
    hints = typing.get_type_hints(cls)
    fields = (f for f in dataclasses.fields(cls) if f.name not in but)
    return tuple(_Field(f.name, _required(f), *_codec(hints[f.name])) for f in fields)


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


@functools.cache
def _codec(hint: Any) -> tuple[Encoder | None, Decoder]:
    """How a value of type `hint` goes to JSON (None: as it is) and comes back, checked."""
    args = typing.get_args(hint)
    if hint in _SCALARS:
        return None, _SCALARS[hint]
    if hint == dict[str, Any]:  # ToolCallReady.arguments: parsed from JSON already
        return None, _json_object
    if isinstance(hint, types.UnionType) and len(args) == 2 and type(None) in args:
        encode, decode = _codec(args[0] if args[1] is type(None) else args[1])
        return None if encode is None else partial(_optional, encode), partial(_optional, decode)
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        encode, decode = _codec(args[0])
        return list if encode is None else partial(_encode_list, encode), partial(_decode_tuple, decode)
    if typing.get_origin(hint) is tuple and all(arg in _SCALARS for arg in args):  # Verdict.labels' pairs
        return list, partial(_decode_row, tuple(_SCALARS[arg] for arg in args))
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return attrgetter("value"), partial(_decode_member, hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return partial(_encode_dataclass, _fields(hint)), partial(_decode_dataclass, hint)
    raise TypeError(f"the event codec cannot carry a {hint!r}")


def _optional(convert: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else convert(value)


def _encode_list(encode: Encoder, values: tuple[Any, ...]) -> list[Any]:
    return [encode(value) for value in values]


def _encode_dataclass(fields: tuple[_Field, ...], value: Any) -> dict[str, Any]:
    return {
        f.name: getattr(value, f.name) if f.encode is None else f.encode(getattr(value, f.name))
        for f in fields
    }


def _decode_dataclass(cls: type, obj: object) -> Any:
    return cls(**_decode_fields(cls, obj))


def _decode_fields(cls: type, obj: object, but: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise CodecError(f"expected an object, got {type(obj).__name__}")
    values = {}
    for name, required, _, decode in _fields(cls, but):
        if name in obj:
            try:
                values[name] = decode(obj[name])
            except CodecError as error:
                raise error.inside(name) from None
        elif required:
            raise CodecError("missing", name)
    # text UTF-8 cannot hold, as another process's JSON may escape it: mended here, for every decoder
    return mended_fields(values, lambda: f"{obj.get('ticket')} attempt {obj.get('attempt')}: {cls.__name__}")


def _decode_tuple(decode: Decoder, value: object) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise CodecError(f"expected an array, got {type(value).__name__}")
    items = []
    for index, item in enumerate(value):
        try:
            items.append(decode(item))
        except CodecError as error:
            raise error.inside(f"[{index}]") from None
    return tuple(items)


def _decode_row(decodes: tuple[Decoder, ...], value: object) -> tuple[Any, ...]:
    if not isinstance(value, list) or len(value) != len(decodes):
        raise CodecError(f"expected an array of {len(decodes)}, got {_describe(value)}")
    items = []
    for index, (decode, item) in enumerate(zip(decodes, value, strict=True)):
        try:
            items.append(decode(item))
        except CodecError as error:
            raise error.inside(f"[{index}]") from None
    return tuple(items)


def _decode_member(enum: type[StrEnum], value: object) -> StrEnum:
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    allowed = ", ".join(member.value for member in enum)
    got = reprlib.repr(value) if isinstance(value, str) else _describe(value)
    raise CodecError(f"expected one of {allowed}, got {got}")


class _Plan(NamedTuple):
    """What `encode` does for one event type beyond the stamp every event carries."""

    name: str
    plain: tuple[str, ...]
    converted: tuple[tuple[str, Encoder], ...]
    times: tuple[str, ...]


@functools.cache
def _plan(cls: type[Event]) -> _Plan:
    hints = typing.get_type_hints(cls)
    own = [f for f in _fields(cls) if f.name in events.payload_fields(cls)]
    times = tuple(f.name for f in own if f.name in _TIMES)
    if any(hints[name] not in (float, float | None) for name in times):
        raise TypeError(f"{cls.__name__}: a time field must be a float")
    return _Plan(
        CODEC.handlers[cls],
        tuple(f.name for f in own if f.encode is None and f.name not in times),
        tuple((f.name, f.encode) for f in own if f.encode is not None),
        times,
    )


for _cls in EVENT_TYPES.values():  # a field type the codec cannot carry fails here, at import
    _plan(_cls)


def encode(event: Event, t0: float) -> dict[str, Any]:
    """The event as a JSON-ready dict: its `type`, its stamp with `t` relative to `t0`, its own fields."""
    plan = _plan(type(event))
    out = {
        "type": plan.name,
        "ticket": event.ticket,
        "attempt": event.attempt,
        "seq": event.seq,
        "t": event.t - t0,
    }
    for name in plan.plain:
        out[name] = getattr(event, name)
    for name, convert in plan.converted:
        out[name] = convert(getattr(event, name))
    for name in plan.times:
        value = getattr(event, name)
        out[name] = None if value is None else value - t0
    return out


def decode(obj: object, offset: float) -> Event:
    """The event `obj` (from `json.loads`) stands for, its times plus `offset`; raises `CodecError`
    (`UnknownType` for a type this codec does not know) for anything else. Unknown fields are ignored."""
    if not isinstance(obj, dict):
        raise CodecError(f"expected an object, got {type(obj).__name__}")
    name = obj.get("type")
    if name is None:
        raise CodecError("missing", "type")
    if not isinstance(name, str):
        raise CodecError(f"expected a string, got {type(name).__name__}", "type")
    cls = EVENT_TYPES.get(name)
    if cls is None:
        raise UnknownType(f"unknown event type {reprlib.repr(name)}", "type")
    values = _decode_fields(cls, obj)
    for time in ("t", *_plan(cls).times):
        if values.get(time) is not None:
            values[time] += offset
            if not math.isfinite(values[time]):
                raise CodecError("out of range once on this clock", time)
    return cls(**values)


MESSAGE_ROLES: dict[str, type[Message]] = {
    "user": UserMessage,
    "assistant": AssistantMessage,
    "tool": ToolResultMessage,
}
"""A conversation's messages by their `role` on the wire (a follow-up sent to a broker's worker)."""


def encode_message(message: Message) -> dict[str, Any]:
    """A message of a conversation as a JSON-ready dict: its `role` and its fields, losslessly."""
    role = next(role for role, cls in MESSAGE_ROLES.items() if isinstance(message, cls))
    return {"role": role, **_encode_dataclass(_fields(type(message)), message)}


def decode_message(obj: object) -> Message:
    """The message `obj` (from `json.loads`) stands for, every field of the type it declares; raises
    `CodecError` for anything else."""
    if not isinstance(obj, dict):
        raise CodecError(f"expected an object, got {type(obj).__name__}")
    role = obj.get("role")
    cls = MESSAGE_ROLES.get(role) if isinstance(role, str) else None
    if cls is None:
        raise CodecError(f"expected one of {', '.join(MESSAGE_ROLES)}, got {reprlib.repr(role)}", "role")
    return _decode_dataclass(cls, obj)  # type: ignore[no-any-return]


_OWN = ("metrics",)
"""What a contestant's wire form leaves out: the watcher works out its metrics from the events, as the
runner did (the same `Metrics`, the same price card)."""
_PER_VERDICT = ("contestants",)


def encode_check(ticket: str, attempt: int, result: CheckResult, t: float) -> dict[str, Any]:
    """A contestant's check result (a served run's `check` message), `t` relative to the server's start."""
    return {
        "ticket": ticket,
        "attempt": attempt,
        "t": t,
        "check": _encode_dataclass(_fields(CheckResult), result),
    }


def decode_check(obj: object, offset: float) -> tuple[str, int, CheckResult, float]:
    """A `check` message: ticket, attempt, result and time (plus `offset`); else `CodecError`."""
    values = _json_object(obj)
    try:
        ticket, attempt = _str(values.get("ticket")), _int(values.get("attempt"))
        t = finite(values.get("t")) + offset
        return ticket, attempt, _decode_dataclass(CheckResult, values.get("check")), t
    except CodecError as error:
        raise error.inside("check") from None


def encode_verdict(verdict: Verdict) -> dict[str, Any]:
    """A tournament's verdict as JSON, every field but each contestant's metrics (see `_OWN`)."""
    out = _encode_dataclass(_fields(Verdict, _PER_VERDICT), verdict)
    out["contestants"] = [_encode_dataclass(_fields(Contestant, _OWN), c) for c in verdict.contestants]
    return out


def decode_verdict(obj: object, metrics: Mapping[tuple[str, int], Metrics]) -> Verdict:
    """The verdict `obj` stands for, each contestant with its attempt's `metrics` (none: empty ones);
    `CodecError` for anything else, including a ranking, winner or label that names no contestant, a
    contestant named twice, or a ranking that leaves one out."""
    from lfgtui.cost.metrics import Metrics

    values = _decode_fields(Verdict, obj, _PER_VERDICT)
    items = _json_object(obj).get("contestants")
    if not isinstance(items, list):
        raise CodecError(f"expected an array, got {_describe(items)}", "contestants")
    contestants = []
    for index, item in enumerate(items):
        try:
            own = _decode_fields(Contestant, item, _OWN)
        except CodecError as error:
            raise error.inside(f"[{index}]").inside("contestants") from None
        key = (own["ticket"], own["attempt"])
        contestants.append(Contestant(**own, metrics=metrics.get(key) or Metrics()))
    verdict = Verdict(**values, contestants=tuple(contestants))
    tickets = [c.ticket for c in contestants]
    ranked = [placing.ticket for placing in verdict.ranking]
    if len(set(tickets)) != len(tickets) or sorted(ranked) != sorted(tickets):
        raise CodecError("the ranking is not each contestant once", "ranking")
    if verdict.winner is not None and verdict.winner not in tickets:
        raise CodecError("names no contestant", "winner")
    if any(ticket not in tickets for _, ticket in verdict.labels):
        raise CodecError("names no contestant", "labels")
    return verdict
