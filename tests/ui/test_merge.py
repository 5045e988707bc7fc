"""A pane takes what the run said to it between two frames once, joined (`ui/run/merge.py`): many
text pieces become one update of the pane with the same text, the run's own sinks (its history, its
metrics) still get every piece, and a piece never comes after an event said later."""

from __future__ import annotations

from pathlib import Path

from lfgtui.cost.metrics import Metrics
from lfgtui.events import Event, ReasoningDelta, Status, TextDelta
from lfgtui.sim.server import SimServer
from lfgtui.ui.run.merge import joined
from tests.support.app import make_app, tickets, until


def test_joined_keeps_each_run_of_one_kind_and_attempt_in_order() -> None:
    def text(seq: int, piece: str, attempt: int = 1) -> TextDelta:
        return TextDelta(ticket="t", attempt=attempt, seq=seq, t=seq / 10, text=piece)

    thought = ReasoningDelta(ticket="t", attempt=1, seq=2, t=0.2, text="hmm")
    merged = joined([text(0, "a"), text(1, "b"), thought, text(3, "c"), text(4, "d"), text(5, "e", 2)])
    assert [(type(e), e.text, e.seq, e.t, e.attempt) for e in merged] == [
        (TextDelta, "ab", 0, 0.0, 1),
        (ReasoningDelta, "hmm", 2, 0.2, 1),
        (TextDelta, "cd", 3, 0.3, 1),
        (TextDelta, "e", 5, 0.5, 2),
    ]


async def test_many_pieces_between_two_frames_are_one_pane_update_with_the_same_text(
    sim: SimServer, tmp_path: Path
) -> None:
    """A long time to first token leaves the words to this test."""
    toml = '[[ticket]]\nid = "t"\nprompt = "x"\nmodel = "hello:ttft_ms=600000"\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test() as pilot:
        pane, controller = app.controller.panes["t"], app.controller
        await until(pilot, lambda: pane.on_screen and pane.awaiting_words and not pane.urgent)
        attempt = pane.attempt
        controller.heard(TextDelta(ticket="t", attempt=attempt, seq=90, t=0.0, text="First "))
        await until(pilot, lambda: not pane.urgent)  # the first words, drawn at once
        applied: list[Event] = []
        apply = pane.apply

        def counted(event: Event, metrics: Metrics) -> bool:
            applied.append(event)
            return apply(event, metrics)

        pane.apply = counted  # type: ignore[method-assign]
        pieces = [f"w{n} " for n in range(40)]
        frames = app.frames
        for n, piece in enumerate(pieces):  # all between two frames: nothing awaits in between
            controller.heard(TextDelta(ticket="t", attempt=attempt, seq=100 + n, t=float(n), text=piece))
        assert applied == [], "held for the frame"
        await until(pilot, lambda: app.frames > frames)
        assert [(type(e), e.text, e.seq) for e in applied] == [(TextDelta, "".join(pieces), 100)]
        assert pane.body.source == "First " + "".join(pieces)

        applied.clear()
        controller.heard(TextDelta(ticket="t", attempt=attempt, seq=200, t=50.0, text="x"))
        controller.heard(TextDelta(ticket="t", attempt=attempt, seq=201, t=50.1, text="y"))
        controller.heard(Status(ticket="t", attempt=attempt, seq=202, t=50.2, message="retrying"))
        assert [(type(e), e.seq) for e in applied] == [(TextDelta, 200), (Status, 202)], "in order"
        assert pane.body.source.endswith("w39 xy")


async def test_a_streamed_answer_shows_whole_as_the_run_recorded_it(sim: SimServer, tmp_path: Path) -> None:
    """The run's answer is what its sinks (the history among them) were told, piece by piece; at
    1,000 tokens a second, far more pieces come than frames are drawn."""
    toml = '[[ticket]]\nid = "t"\nprompt = "x"\nmodel = "long-answer:tokens_per_s=1000,ttft_ms=300"\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test() as pilot:
        run, pane = app.controller.control.run, app.controller.panes["t"]
        assert run is not None
        applied: list[Event] = []
        apply = pane.apply

        def counted(event: Event, metrics: Metrics) -> bool:
            applied.append(event)
            return apply(event, metrics)

        pane.apply = counted  # type: ignore[method-assign]
        said: list[Event] = []  # what the run said from now on, as its history hears it
        run.sinks.append(lambda event: said.append(event) if type(event) is TextDelta else None)
        state = run.states["t"]
        await until(pilot, lambda: state.outcome is not None and not pane.running, timeout=60)
        assert state.answer and len(state.answer_parts) > 1
        await until(pilot, lambda: pane.body.source.strip() == state.answer.strip())
        updates = sum(type(event) is TextDelta for event in applied)
        assert len(said) > 100, "streamed after the counting began"
        assert updates < len(said), "pieces that came between two frames were joined"
