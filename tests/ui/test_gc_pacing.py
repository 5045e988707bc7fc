"""The GC pacer: frozen while streaming, everything collected again once idle, nothing left frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from lfgtui.ui.drawing.gc_pacing import IDLE_COLLECT_TICKS, RECLAIM_EVERY_TICKS, YOUNG_THRESHOLD, GcPacer


class Node:
    """An object in a reference cycle: only the cycle collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def pacer() -> Iterator[GcPacer]:
    before = gc.get_threshold()
    pacer = GcPacer()
    pacer.started()
    yield pacer
    pacer.stopped()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_start_freezes_what_lives_and_collects_the_young_less_often(pacer: GcPacer) -> None:
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD


def test_start_walks_only_the_young_generations() -> None:
    """A full collection at start walks every module's objects (about 0.1 s of CPU each time an app
    starts); the young ones are enough to leave out what just died."""
    collected: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collected.append(info["generation"])

    pacer = GcPacer()
    gc.callbacks.append(seen)
    try:
        pacer.started()
    finally:
        gc.callbacks.remove(seen)
        pacer.stopped()
    assert collected and max(collected) < 2, f"generations collected at start: {collected}"


def test_a_cycle_frozen_while_streaming_is_collected_once_idle(pacer: GcPacer) -> None:
    node = Node()
    alive = weakref.ref(node)
    pacer.tick(streaming=True)
    del node
    gc.collect()
    assert alive() is not None, "frozen: not even a full collection walks it while streaming"

    for _ in range(IDLE_COLLECT_TICKS):
        pacer.tick(streaming=False)
    assert alive() is None
    assert gc.get_freeze_count() > 0, "what still lives is frozen again"


def test_the_idle_collection_waits_until_nothing_has_streamed_for_a_while(pacer: GcPacer) -> None:
    """Issue 77: a full collection (0.1-0.4 s) on the very tick the last stream ended fell among its
    last frames, and an app that streams again or exits within the pause never needs it."""
    full: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    node = Node()
    alive = weakref.ref(node)
    pacer.tick(streaming=True)
    del node
    gc.callbacks.append(seen)
    try:
        for _ in range(IDLE_COLLECT_TICKS - 1):
            pacer.tick(streaming=False)
        pacer.tick(streaming=True)  # streaming again before the pause was up: it starts over
        for _ in range(IDLE_COLLECT_TICKS - 1):
            pacer.tick(streaming=False)
        assert not full, "no full collection before the pause is up"
        assert alive() is not None
        pacer.tick(streaming=False)
    finally:
        gc.callbacks.remove(seen)
    assert full == [1], "one full collection once idle for the whole pause"
    assert alive() is None


def test_young_garbage_is_collected_before_freezing(pacer: GcPacer) -> None:
    node = Node()
    alive = weakref.ref(node)
    del node
    pacer.tick(streaming=True)
    assert alive() is None


def test_idle_ticks_after_idle_do_nothing(pacer: GcPacer) -> None:
    """The young object is still the collector's, not frozen: the freeze count alone is no witness, a
    frozen object that dies (another thread's, pytest-xdist's) leaves it meanwhile."""
    pacer.tick(streaming=False)
    node = Node()
    pacer.tick(streaming=False)
    assert any(o is node for o in gc.get_objects()), "nothing is frozen again without streaming in between"
    del node


def test_a_long_stretch_of_streaming_collects_fully_once_a_minute(pacer: GcPacer) -> None:
    node = Node()
    alive = weakref.ref(node)
    pacer.tick(streaming=True)
    del node
    for _ in range(RECLAIM_EVERY_TICKS - 2):
        pacer.tick(streaming=True)
    assert alive() is not None, "frozen until the minute is up"
    pacer.tick(streaming=True)
    assert alive() is None
