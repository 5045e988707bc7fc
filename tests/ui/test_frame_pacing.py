"""The frame clock's pacing of streaming panes, counted in frames: every streaming pane drawn in turn
(every frame while up to 4 stream, every 2nd of 8 or 16, every 4th of 64), and a pane a person waits on or
acts on drawn at once whatever the pacing."""

from __future__ import annotations

import asyncio
import contextvars
from collections import Counter
from pathlib import Path

from lfgtui.alerts.states import Standing, State
from lfgtui.config.load import Config
from lfgtui.cost.metrics import Metrics
from lfgtui.events import AttemptEnded, AttemptStarted, Outcome, ReasoningDelta, TextDelta
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import STREAMS_PER_FRAME, paced, streams_per_frame
from lfgtui.ui.widgets.pane import Tally, TicketPane
from tests.support.app import make_app, texts, tickets, until


def streaming_panes(tmp_path: Path, count: int) -> list[TicketPane]:
    """`count` panes, each with an attempt under way (as its first events leave it)."""
    path = tickets(tmp_path, "".join(f'[[ticket]]\nid = "p{n}"\nprompt = "x"\n\n' for n in range(count)))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={}).tickets
    tally = Tally()
    panes = [TicketPane(t, tally, str, Standing(t.id, State.WAITING, 0.0)) for t in loaded]
    for pane in panes:
        started = AttemptStarted(ticket=pane.ticket.id, attempt=1, seq=0, t=0.0, provider="sim", model="m")
        pane.apply(started, Metrics())
    return panes


def run_frames(panes: list[TicketPane], frames: range, focused: TicketPane | None = None) -> Counter[str]:
    """Every pane due at every frame (each gets a token between two frames); how often each was
    drawn. A draw is what `render_frame` records of it: its frame, and nothing left urgent."""
    drawn: Counter[str] = Counter()
    for frame in frames:
        for pane in paced(panes, focused, frame):
            pane.drawn_frame, pane.urgent = frame, False
            drawn[pane.ticket.id] += 1
    return drawn


def test_how_many_streaming_panes_a_frame_draws() -> None:
    assert [streams_per_frame(n) for n in (0, 1, 4, STREAMS_PER_FRAME)] == [0, 1, 4, STREAMS_PER_FRAME]
    assert streams_per_frame(8) == 6, "each of 8 drawn every 2nd frame: 10 a second at 20 fps"
    assert streams_per_frame(16) == 8, "each of 16 drawn every 2nd frame: 10 a second at 20 fps"
    assert streams_per_frame(32) == 12
    assert streams_per_frame(64) == 16, "each of 64 drawn every 4th frame: 5 a second"


def test_few_streaming_panes_are_each_drawn_every_frame(tmp_path: Path) -> None:
    panes = streaming_panes(tmp_path, STREAMS_PER_FRAME)
    assert run_frames(panes, range(1, 41)) == Counter({p.ticket.id: 40 for p in panes})


def test_many_streaming_panes_are_drawn_in_turn_each_as_often(tmp_path: Path) -> None:
    for count, every in ((8, 2), (16, 2), (64, 4)):
        (folder := tmp_path / str(count)).mkdir()
        panes = streaming_panes(folder, count)
        run_frames(panes, range(1, 2))  # their first frame draws every new pane (urgent)
        drawn = run_frames(panes, range(2, 2 + 20 * every))
        assert drawn == Counter({p.ticket.id: 20 for p in panes}), f"{count} panes: every {every} frames"
        gaps = set()
        for frame in range(2 + 20 * every, 2 + 24 * every):
            before = {p.ticket.id: p.drawn_frame for p in panes}
            drawn = paced(panes, None, frame)
            assert len(drawn) == count // every
            assert drawn == panes[drawn[0].drawn_frame % every * len(drawn) :][: len(drawn)]
            for pane in drawn:
                gaps.add(frame - before[pane.ticket.id])
                pane.drawn_frame = frame
        assert gaps == {every}, "no pane waits longer than the others"


def test_a_pane_ending_and_the_focused_pane_are_drawn_at_once(tmp_path: Path) -> None:
    panes = streaming_panes(tmp_path, 64)
    focused = panes[-1]
    run_frames(panes, range(1, 10), focused)
    assert focused.drawn_frame == 9, "the focused pane is drawn every frame"
    ending = next(p for p in panes if p.drawn_frame == 9 and p is not focused)
    assert ending not in paced(panes, focused, 10), "pacing alone leaves it for 3 more frames"
    ended = AttemptEnded(ticket=ending.ticket.id, attempt=1, seq=1, t=1.0, outcome=Outcome.COMPLETED)
    ending.apply(ended, ending.metrics)
    drawn = paced(panes, focused, 10)
    assert set(drawn[:2]) == {ending, focused}
    assert len(drawn) - 2 in (15, 16), "on top of the 62 streaming panes' turn: a quarter of them"


async def test_twelve_streaming_panes_in_the_app_are_drawn_in_turn(sim: SimServer, tmp_path: Path) -> None:
    """The real frame clock over 12 panes streaming: while they stream, no frame draws more than the
    focused pane and the others' share (without pacing, every pane that got a token would be)."""
    model = "long-answer:tokens_per_s=40,ttft_ms=0,repeat=50"  # streams for minutes: the app ends it
    toml = "".join(f'[[ticket]]\nid = "p{n:02d}"\nprompt = "x"\nmodel = "{model}"\n\n' for n in range(12))
    app = make_app(sim, tickets(tmp_path, toml), max_concurrency=12)
    async with app.run_test(size=(200, 60)) as pilot:
        panes = app.controller.screen.panes
        await until(pilot, lambda: all(p.on_screen and p.body.length for p in panes), timeout=30)
        frames, drawn = app.frames, app.frame_work.drawn
        await until(pilot, lambda: app.frames >= frames + 10)
        assert all(p.running for p in panes), "no state changed: every draw was paced"
        assert streams_per_frame(11) < 11
        assert app.frame_work.drawn - drawn <= (1 + streams_per_frame(11)) * (app.frames - frames)


WAITING = '[[ticket]]\nid = "t"\nprompt = "x"\nmodel = "hello:ttft_ms=600000"\n'
"""A ticket whose first token is ten minutes away: its first words are the test's."""


def first_words(attempt: int) -> list[ReasoningDelta | TextDelta]:
    """An attempt's first thinking and first words, as the run would tell the controller."""
    return [
        ReasoningDelta(ticket="t", attempt=attempt, seq=90, t=0.0, text="Pondering"),
        TextDelta(ticket="t", attempt=attempt, seq=91, t=0.0, text="First words"),
    ]


async def test_an_attempts_first_words_are_drawn_once_taken_in_not_on_the_next_frame(
    sim: SimServer, tmp_path: Path
) -> None:
    """The first words of an attempt, text or thinking, are what a person waits for once a ticket
    starts: the pane draws them as soon as the loop has taken them in, not on the next frame (up to
    50 ms later). A long time to first token leaves the words to this test."""
    app = make_app(sim, tickets(tmp_path, WAITING))
    async with app.run_test() as pilot:
        waiting = app.controller.panes["t"]
        await until(pilot, lambda: waiting.on_screen and waiting.awaiting_words and not waiting.urgent)
        view = waiting.shown
        for words in first_words(waiting.attempt):
            app.controller.heard(words)
        await asyncio.sleep(0)  # the loop's next pass: no frame is due (one was just drawn)
        assert not waiting.urgent, "drawn"
        assert "First words" in texts(view.body)
        assert not waiting.awaiting_words


async def test_first_words_that_come_on_a_task_outside_the_app_are_drawn_in_the_app(
    sim: SimServer, tmp_path: Path
) -> None:
    """A ticket a watcher's request started (a synthesis) runs on a task the server made, outside the
    app's context, where no widget can be made: its first words are still drawn, in the app's."""
    app = make_app(sim, tickets(tmp_path, WAITING))
    async with app.run_test() as pilot:
        waiting = app.controller.panes["t"]
        await until(pilot, lambda: waiting.on_screen and waiting.awaiting_words and not waiting.urgent)
        view = waiting.shown
        outside = contextvars.Context()  # a task's context that has no app, as the server's has none
        for words in first_words(waiting.attempt):
            outside.run(app.controller.heard, words)
        await asyncio.sleep(0)
        assert "First words" in texts(view.body) and not waiting.urgent, "drawn, and the app is fine"
        await pilot.pause()
    assert app.return_code in (0, None), "no widget was made outside the app"
