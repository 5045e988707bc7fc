"""Keeps CPython's garbage collections out of the frames while tickets stream.

A full (generation 2) collection walks every object the collector tracks: the app's widgets, styles
and the rendered lines of every pane. At 16 streams it paused the event loop for 40-140 ms several
times in ten seconds, the largest single cause of late frames. While anything streams, the pacer
collects the young generations and freezes what survived (`gc.freeze`, an O(1) move into the
permanent generation), so the automatic full collections find almost nothing to walk. Refcounting
still frees everything that is not in a reference cycle; a cycle that becomes garbage after being
frozen waits until nothing has streamed for `IDLE_COLLECT_S`, when the pacer unfreezes and collects
everything once, or for the full collection it makes once a minute during a long stretch of streaming.

Rendering makes many short-lived objects, so the youngest generation is also collected less often
(every `YOUNG_THRESHOLD` allocations instead of 700): fewer, larger young collections cost less in
all, because most of those objects are freed by refcounting before a collection ever sees them.
"""

from __future__ import annotations

import gc

FREEZE_EVERY_S = 0.25
"""How often survivors are collected and frozen while streaming: often enough that the automatic full
collection (due when the long-lived objects grow by a quarter) never finds much to walk, and that
each young collection walks only a quarter second's survivors. At 16 streams, once a second paused
the loop up to 50-60 ms; four times a second, up to 15-20 ms (bench/render.py at 16 x 200: lag p95
0.16 -> 0.14 s, worst lag 0.39 -> 0.25 s, the same CPU)."""
RECLAIM_EVERY_S = 60.0
"""After this long of continuous streaming, one full collection all the same. What is alive at a
freeze includes the screen's short-lived lines, and those that die frozen in a reference cycle
(Textual's strips cache themselves) would otherwise pile up until streaming stops: about 0.25 MB/s
at 16 streams. One pause a minute instead of several every ten seconds."""
RECLAIM_EVERY_TICKS = round(RECLAIM_EVERY_S / FREEZE_EVERY_S)
IDLE_COLLECT_S = 2.0
"""How long nothing streams before the full collection of what died frozen. A full collection walks
every object (0.1-0.4 s of CPU); on the tick the last stream ended it fell among that stream's last
frames and the keys pressed on seeing it end, and an app that streams again or exits sooner never
needs it (it was a tenth of the UI tests' CPU: their apps end within a second of their streams).
The once-a-minute reclaim, and the collector once the app exits, bound what waits."""
IDLE_COLLECT_TICKS = round(IDLE_COLLECT_S / FREEZE_EVERY_S)
YOUNG_THRESHOLD = 5000


class GcPacer:
    """Call `started()` once the app runs (before its screens mount), `tick(streaming)` every
    `FREEZE_EVERY_S`, `stopped()` at exit."""

    def __init__(self) -> None:
        self._frozen_while_streaming = False
        self._streaming_ticks = 0
        self._idle_ticks = 0
        """Ticks without streaming since something was frozen while streaming."""
        self._thresholds = gc.get_threshold()

    def started(self) -> None:
        """Everything alive at start-up (modules, the app) lives as long as the app; the widgets
        mounted next are frozen with the first tick's survivors. Only the young generations are
        collected first: a full collection walks every module's objects, about 0.1 s of CPU at every
        start (more in a process that ran apps before, as a test's does), to find the few cycles that
        died while the modules were imported; those wait frozen for the first full collection, once
        idle after streaming (`_collect_all`)."""
        gc.collect(1)
        gc.freeze()
        _young, *older = self._thresholds
        gc.set_threshold(YOUNG_THRESHOLD, *older)

    def tick(self, streaming: bool) -> None:
        if streaming:
            self._streaming_ticks += 1
            if self._streaming_ticks % RECLAIM_EVERY_TICKS == 0:
                self._collect_all()
            else:
                gc.collect(1)
                gc.freeze()
            self._frozen_while_streaming = True
            self._idle_ticks = 0
        elif self._frozen_while_streaming:
            self._idle_ticks += 1
            if self._idle_ticks >= IDLE_COLLECT_TICKS:
                self._frozen_while_streaming = False
                self._collect_all()

    def stopped(self) -> None:
        """Hand every object back to the collector and restore its thresholds: nothing outlives the app."""
        gc.unfreeze()
        gc.set_threshold(*self._thresholds)

    def _collect_all(self) -> None:
        """One full collection of everything, then what still lives is frozen again."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
