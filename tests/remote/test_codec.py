"""The event codec: every event type round-trips through JSON, and decoding whatever a network sends
returns an event or raises `CodecError`, nothing else."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import types
import typing
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lfgtui import events
from lfgtui.events import (
    AttemptEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    Outcome,
    PlanStep,
    PlanUpdated,
    Queued,
    TextDelta,
    ToolCallReady,
)
from lfgtui.remote.codec import EVENT_TYPES, CodecError, UnknownType, decode, encode

ROUND_TRIP = settings(max_examples=15, deadline=None)
FUZZ = settings(max_examples=100, deadline=None)

INT64 = st.integers(-(2**63), 2**63 - 1)
COUNTS = st.integers(0, 2**63 - 1)
"""What an event's integers are: counts, statuses and sequence numbers, never negative."""
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
"""Any value `json.loads` can give, NaN and infinities included (it reads `NaN` and `Infinity`)."""
FINITE_JSON = st.recursive(
    st.none() | st.booleans() | INT64 | FLOATS | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
"""JSON values that compare equal after a round trip."""


def values_of(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a field type of `lfgtui.events`; text covers control characters and non-BMP."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType):
        return st.one_of(*(values_of(arg) for arg in args))
    if typing.get_origin(hint) is tuple:
        return st.lists(values_of(args[0]), max_size=4).map(tuple)
    if typing.get_origin(hint) is dict:
        return st.dictionaries(st.text(), FINITE_JSON, max_size=4)
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return st.sampled_from(hint)
    if dataclasses.is_dataclass(hint):
        return instances_of(hint)
    return {type(None): st.none(), str: st.text(), int: COUNTS, float: FLOATS, bool: st.booleans()}[hint]


def instances_of(cls: type, **overrides: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    strategies = {f.name: values_of(hints[f.name]) for f in dataclasses.fields(cls)}
    return st.builds(cls, **(strategies | overrides))


def events_of(cls: type[Event], times: st.SearchStrategy[float] = FLOATS) -> st.SearchStrategy[Event]:
    """Events of type `cls`; attempt and seq as a real run stamps them (>= 0)."""
    stamps = {"attempt": COUNTS, "seq": COUNTS, "t": times}
    if cls is Queued:
        stamps["until"] = st.none() | times
    return instances_of(cls, **stamps)


def shifted(event: Event, by: float) -> Event:
    """`event` with its times moved `by` seconds, as a reader on another clock sees it."""
    event = dataclasses.replace(event, t=event.t + by)
    if isinstance(event, Queued) and event.until is not None:
        event = dataclasses.replace(event, until=event.until + by)
    return event


def over_the_wire(event: Event, t0: float, offset: float) -> Event:
    return decode(json.loads(json.dumps(encode(event, t0))), offset)


def all_event_classes() -> set[type[Event]]:
    """Every subclass of `Event` that `lfgtui.events` defines (and names: `__subclasses__()` also
    lists the classes `@dataclass(slots=True)` replaced), but `RunFact`: the run's facts cross as
    messages of their own (hub.py `HUB`)."""
    found: set[type[Event]] = set()
    pending = [Event]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__ == events.__name__ and getattr(events, sub.__name__) is sub:
                found.add(sub)
    return found - {events.RunFact}


def stamp(**fields: Any) -> dict[str, Any]:
    return {"ticket": "a", "attempt": 1, "seq": 0, "t": 1.5} | fields


def test_every_event_type_has_a_name() -> None:
    named = set(EVENT_TYPES.values())
    missing = sorted(cls.__name__ for cls in all_event_classes() - named)
    assert not missing, f"event types the codec does not carry: {missing}"
    assert EVENT_TYPES["text_delta"] is TextDelta
    assert EVENT_TYPES["attempt_started"] is events.AttemptStarted
    assert EVENT_TYPES["tool_call_args_delta"] is events.ToolCallArgsDelta
    assert named == all_event_classes()


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
@ROUND_TRIP
@given(data=st.data())
def test_round_trip(cls: type[Event], data: st.DataObject) -> None:
    event = data.draw(events_of(cls))
    encoded = encode(event, 0.0)
    json.dumps(encoded, allow_nan=False)  # JSON-ready: nothing but dicts, lists, str, numbers, None
    assert over_the_wire(event, 0.0, 0.0) == event


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
@ROUND_TRIP
@given(data=st.data(), t0=st.floats(0, 1e6), offset=st.floats(-1e6, 1e6))
def test_times_move_to_the_readers_clock(
    cls: type[Event], data: st.DataObject, t0: float, offset: float
) -> None:
    event = data.draw(events_of(cls, times=st.floats(0, 1e6)))
    decoded = over_the_wire(event, t0, offset)
    expected = shifted(event, offset - t0)
    assert math.isclose(decoded.t, expected.t, abs_tol=1e-6)
    if isinstance(decoded, Queued) and isinstance(expected, Queued):
        assert (decoded.until is None) is (expected.until is None)
        assert decoded.until is None or math.isclose(decoded.until, expected.until or 0.0, abs_tol=1e-6)
    assert dataclasses.replace(decoded, t=expected.t, **_same_until(expected)) == expected


def _same_until(event: Event) -> dict[str, Any]:
    return {"until": event.until} if isinstance(event, Queued) else {}


def test_the_wire_format() -> None:
    error = ErrorInfo(ErrorKind.RATE_LIMITED, "slow down", 429, 2.5)
    ended = AttemptEnded(ticket="a", attempt=2, seq=7, t=101.25, outcome=Outcome.FAILED, error=error)
    assert encode(ended, 100.0) == {
        "type": "attempt_ended",
        "ticket": "a",
        "attempt": 2,
        "seq": 7,
        "t": 1.25,
        "outcome": "failed",
        "error": {"kind": "rate_limited", "message": "slow down", "status": 429, "retry_after": 2.5},
    }
    assert type(encode(ended, 0.0)["outcome"]) is str
    plan = PlanUpdated(
        ticket="a", attempt=1, seq=0, t=0.0, message="1 step", steps=(PlanStep("x", "pending"),)
    )
    assert encode(plan, 0.0)["steps"] == [{"content": "x", "status": "pending", "priority": "medium"}]
    queued = Queued(ticket="a", attempt=1, seq=0, t=10.0, message="m", reason="concurrency", until=12.0)
    assert encode(queued, 10.0)["until"] == 2.0
    assert decode(encode(queued, 10.0), 50.0).until == 52.0


@FUZZ
@given(JSON)
def test_any_json_decodes_to_an_event_or_a_codec_error(obj: object) -> None:
    with contextlib.suppress(CodecError):
        assert isinstance(decode(obj, 0.0), Event)


@FUZZ
@given(
    event=st.sampled_from(list(EVENT_TYPES.values())).flatmap(events_of),
    key=st.sampled_from(["type", "ticket", "attempt", "seq", "t", "text", "error", "steps", "arguments"]),
    value=JSON,
)
def test_one_bad_field_decodes_to_an_event_or_a_codec_error(event: Event, key: str, value: object) -> None:
    obj = encode(event, 0.0)
    obj[key] = value
    try:
        decoded = decode(obj, 0.0)
    except CodecError:
        return
    assert isinstance(decoded, Event)
    assert decoded.attempt >= 0 and decoded.seq >= 0 and math.isfinite(decoded.t)


@FUZZ
@given(
    event=st.sampled_from(list(EVENT_TYPES.values())).flatmap(events_of),
    data=st.data(),
)
def test_a_missing_field_is_an_error_only_when_it_has_no_default(event: Event, data: st.DataObject) -> None:
    obj = encode(event, 0.0)
    key = data.draw(st.sampled_from(sorted(obj)))
    del obj[key]
    field = {f.name: f for f in dataclasses.fields(event)}.get(key)
    if field is None or field.default is dataclasses.MISSING:
        with pytest.raises(CodecError, match=f"^{key}: missing$"):
            decode(obj, 0.0)
    else:
        assert decode(obj, 0.0) == dataclasses.replace(event, **{key: field.default})


def test_an_unknown_type_is_unknown() -> None:
    with pytest.raises(UnknownType, match="from_the_future"):
        decode(stamp(type="from_the_future"), 0.0)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([], "expected an object, got list"),
        ("text_delta", "expected an object, got str"),
        (stamp(text="hi"), "type: missing"),
        (stamp(type=3, text="hi"), "type: expected a string, got int"),
        ({"type": "text_delta", **stamp()}, "text: missing"),
        (stamp(type="text_delta", text=None), "text: expected a string, got NoneType"),
        (stamp(type="text_delta", text="hi", ticket=1), "ticket: expected a string"),
        (
            stamp(type="text_delta", text="hi", attempt=True),
            r"attempt: expected an integer from 0 to 2\*\*63 - 1, got bool",
        ),
        (stamp(type="text_delta", text="hi", attempt=1.0), "attempt: expected an integer from 0 .*, got 1.0"),
        (stamp(type="text_delta", text="hi", seq=-1), "seq: expected an integer from 0 .*, got -1"),
        (stamp(type="text_delta", text="hi", seq=2**64), "seq: expected an integer from 0"),
        (
            stamp(type="usage", input_tokens=-5, output_tokens=3),
            "input_tokens: expected an integer from 0 .*, got -5",
        ),
        (stamp(type="text_delta", text="hi", t=json.loads("NaN")), "t: expected a finite number, got nan"),
        (stamp(type="text_delta", text="hi", t=json.loads("-Infinity")), "t: expected a finite number"),
        (
            stamp(type="text_delta", text="hi", seq=10**5000),
            "seq: expected an integer from 0 .*, got a larger",
        ),
        (stamp(type="attempt_ended", outcome=10**5000), "outcome: expected one of .*, got a larger integer"),
        (stamp(type="text_delta", text="hi", t=10**400), "t: expected a finite number"),
        (stamp(type="text_delta", text="hi", t="1.5"), "t: expected a finite number, got str"),
        (stamp(type="attempt_ended", outcome="bogus"), "outcome: expected one of completed, .*, got 'bogus'"),
        (stamp(type="attempt_ended", outcome="failed", error={"kind": "auth"}), "error.message: missing"),
        (stamp(type="attempt_ended", outcome="failed", error=[]), "error: expected an object, got list"),
        (
            stamp(
                type="attempt_ended", outcome="failed", error={"kind": "auth", "message": "", "status": "401"}
            ),
            "error.status: expected an integer from 0 .*, got str",
        ),
        (
            stamp(type="tool_call_ready", call_id="c", name="n", raw_arguments="[]", arguments=[]),
            "arguments: expected an object, got list",
        ),
        (stamp(type="plan_updated", message="", steps={}), "steps: expected an array, got dict"),
        (
            stamp(type="plan_updated", message="", steps=[{"content": "a", "status": "b"}, {"content": "a"}]),
            r"steps\[1\].status: missing",
        ),
        (
            stamp(type="tool_result", call_id="c", output="o", is_error=1),
            "is_error: expected a boolean, got int",
        ),
        (
            stamp(type="queued", message="", reason="r", until=json.loads("Infinity")),
            "until: expected a finite",
        ),
    ],
)
def test_what_is_wrong_is_named(obj: object, message: str) -> None:
    with pytest.raises(CodecError, match=message) as raised:
        decode(obj, 0.0)
    assert type(raised.value) is CodecError


def test_a_time_that_overflows_the_readers_clock_is_an_error() -> None:
    with pytest.raises(CodecError, match="t: out of range once on this clock"):
        decode(stamp(type="text_delta", text="hi", t=1e308), 1e308)


def test_what_decode_accepts() -> None:
    delta = decode(stamp(type="text_delta", text="hi", from_a_newer_server={"x": [1]}), 0.5)
    assert delta == TextDelta(ticket="a", attempt=1, seq=0, t=2.0, text="hi")
    retrying = decode(
        stamp(
            type="retrying",
            message="m",
            error={"kind": "server", "message": "boom", "status": 503},
            retry=1,
            max_retries=3,
            delay_s=2,
        ),
        0.0,
    )
    assert isinstance(retrying, events.Retrying)
    assert retrying.delay_s == 2.0 and type(retrying.delay_s) is float  # an int where a float goes
    assert retrying.error == ErrorInfo(ErrorKind.SERVER, "boom", 503)
    ready = decode(
        stamp(type="tool_call_ready", call_id="c", name="n", raw_arguments="{}", arguments={}), 0.0
    )
    assert isinstance(ready, ToolCallReady) and ready.arguments == {} and ready.error is None


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
@ROUND_TRIP
@given(data=st.data())
def test_an_event_adopted_from_the_provider_worker_is_the_one_constructed(
    cls: type[Event], data: st.DataObject
) -> None:
    """The pipe from the provider worker carries events as tuples (`events.observed`); the parent
    fills each through its slots (`EventFactory.adopt`), not its `__init__`: the event must be the
    one the constructor makes, of every type, whatever its values."""
    made = data.draw(events_of(cls))
    factory = events.EventFactory("t1", 3)
    next(factory._seq)  # the factory's next number is 1
    adopted = factory.adopt(events.observed(made))
    assert adopted == dataclasses.replace(made, ticket="t1", attempt=3, seq=1)
    assert type(adopted) is cls
    assert not hasattr(cls, "__post_init__"), "adopt would skip it"


def test_a_tuple_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="TextDelta has 1 fields of its own, not 2"):
        events.EventFactory("t1", 1).adopt((TextDelta, 1.0, ("a", "b")))
