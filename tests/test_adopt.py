"""`EventFactory.adopt` fills an event through its slots rather than its `__init__`: the event it
makes must be the one the constructor makes, for every event type and any field values."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lfgtui.events import Event, EventFactory, TextDelta, event_types, observed
from tests.remote.test_codec import events_of


@pytest.mark.parametrize("cls", event_types(), ids=lambda cls: cls.__name__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_adopted_equals_constructed(cls: type[Event], data: st.DataObject) -> None:
    made = data.draw(events_of(cls))
    factory = EventFactory("t1", 3)
    next(factory._seq)  # the factory's next number is 1
    adopted = factory.adopt(observed(made))
    assert adopted == dataclasses.replace(made, ticket="t1", attempt=3, seq=1)
    assert type(adopted) is cls
    assert not hasattr(cls, "__post_init__"), "adopt would skip it"


def test_a_tuple_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="TextDelta has 1 fields of its own, not 2"):
        EventFactory("t1", 1).adopt((TextDelta, 1.0, ("a", "b")))
