"""What the run says to one pane between two frames, handed to the pane once a frame.

A streaming pane gets a text piece per read off the network (hundreds a second at fast rates), but
shows them only when a frame draws it. The controller holds each pane's pieces of answer and thinking
here and the frame hands them over joined, one event per run of pieces of a kind, so the pane's
work grows with panes times frames, not with tokens. Only the drawing path waits: the run's metrics,
its history and its alerts see every event as it comes (they are the run's sinks, before the
controller), so every byte is recorded at its own time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from lfgtui.events import Event, ReasoningDelta, TextDelta

MERGED = frozenset({TextDelta, ReasoningDelta})
"""The events held for the frame: pieces of text that only append to what the pane shows."""


class Merge:
    """Each pane's held pieces, in the order they came (see the module docstring)."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[str, list[TextDelta | ReasoningDelta]] = {}
        """Per ticket, the pieces not yet handed to its pane."""

    def hold(self, event: Event) -> bool:
        """Keep `event` for the next frame when it is a piece of text; False for any other event,
        which the caller hands on now (after `release` of its ticket, so the order holds)."""
        if type(event) not in MERGED:
            return False
        held = self._held.get(event.ticket)
        if held is None:
            self._held[event.ticket] = [event]  # type: ignore[list-item]
        else:
            held.append(event)  # type: ignore[arg-type]
        return True

    def release(self, ticket: str, apply: Callable[[Event], object]) -> None:
        """Hand `ticket`'s held pieces to `apply`, each run of one kind of one attempt as one event."""
        held = self._held.pop(ticket, None)
        if held is not None:
            for event in joined(held):
                apply(event)

    def release_all(self, apply: Callable[[Event], object]) -> None:
        """Hand every pane its held pieces (the frame, before it draws)."""
        held, self._held = self._held, {}
        for events in held.values():
            for event in joined(events):
                apply(event)

    def __len__(self) -> int:
        """How many tickets have pieces held."""
        return len(self._held)


def joined(events: list[TextDelta | ReasoningDelta]) -> list[Event]:
    """`events` with each run of one kind and attempt as one event: the first's, with the run's text."""
    if len(events) == 1:
        return list(events)
    out: list[Event] = []
    first = events[0]
    parts = [first.text]
    for event in events[1:]:
        if type(event) is type(first) and event.attempt == first.attempt:
            parts.append(event.text)
            continue
        out.append(first if len(parts) == 1 else dataclasses.replace(first, text="".join(parts)))
        first, parts = event, [event.text]
    out.append(first if len(parts) == 1 else dataclasses.replace(first, text="".join(parts)))
    return out
