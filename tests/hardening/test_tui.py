"""The fault rows the TUI shows differently from headless output, through Pilot and the real sim:
the retry countdown, the `r` a failed pane offers, and a terminal resized mid-stream."""

from __future__ import annotations

from pathlib import Path

from lfgtui.events import Event, TextDelta
from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, settle, texts, tickets, until, whole
from tests.support.streams import write_scenario


class ManualClock:
    """The app's clock, moved by the test: the countdown is checked without waiting it out."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def notice(app_pane: object) -> str:
    return str(app_pane.notice.render())  # type: ignore[attr-defined]


async def test_a_rate_limit_counts_down_in_the_pane(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    model = write_scenario(
        scenario_dir,
        "slow-down",
        '[[call]]\ntext = "ok"\n[[fault]]\nkind = "http"\nstatus = 429\nretry_after = 3\n'
        'message = "Rate limit reached"\ntimes = 1\n',
    )
    clock = ManualClock()
    app = make_app(
        sim, tickets(tmp_path, f'[[ticket]]\nid = "rl"\nprompt = "x"\nmodel = "{model}"\n'), clock=clock
    )
    async with app.run_test(size=SIZE) as pilot:
        rl = pane(app, "rl")
        await until(pilot, lambda: "retrying in 3s (1/2)" in notice(rl))
        assert notice(rl).startswith("HTTP 429 rate_limited: Rate limit reached")
        for said in ("retrying in 2s (1/2)", "retrying in 1s (1/2)", "retrying now (1/2)"):
            clock.now += 1.0
            await until(pilot, lambda said=said: said in notice(rl))
        assert rl.state is PaneState.QUEUED and len(sim.log) == 1, "it waits out the pause in line"


async def test_a_drop_mid_stream_keeps_the_text_and_offers_r(sim: SimServer, tmp_path: Path) -> None:
    toml = '[[ticket]]\nid = "drop"\nprompt = "x"\nmodel = "fault-drop"\n\n'
    toml += '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        drop = pane(app, "drop")
        await until(
            pilot, lambda: drop.state is PaneState.FAILED and pane(app, "hi").state is PaneState.COMPLETED
        )
        assert drop.body.source == "This answer will be cut off part of"
        await until(pilot, lambda: "r: retry" in notice(drop))
        assert "connection failed: peer closed connection" in notice(drop)
        assert len([r for r in sim.log if r.model == "fault-drop"]) == 1, "no automatic retry after a token"
        drop.shown.focus()
        await pilot.press("r")
        await until(pilot, lambda: drop.attempt == 2 and drop.state is PaneState.FAILED)
        assert len([r for r in sim.log if r.model == "fault-drop"]) == 2


async def test_a_resize_mid_stream_renders_every_pane_as_if_drawn_at_the_new_size(
    sim: SimServer, tmp_path: Path
) -> None:
    events: list[Event] = []
    toml = "".join(
        f'[[ticket]]\nid = "{t}"\nprompt = "x"\nmodel = "long-answer:tokens_per_s=300,ttft_ms=50"\n\n'
        for t in ("left", "right")
    )
    app = make_app(sim, tickets(tmp_path, toml), sinks=[events.append])
    async with app.run_test(size=SIZE) as pilot:
        panes = [pane(app, "left"), pane(app, "right")]
        await until(pilot, lambda: all(len(p.body.source) > 200 for p in panes))
        assert panes[0].shown.region.y == panes[1].shown.region.y, "side by side at 120 columns"
        await pilot.resize_terminal(70, 30)
        await until(pilot, lambda: all(p.state is PaneState.COMPLETED for p in panes), timeout=30)
        await until(pilot, lambda: panes[1].shown.region.y > panes[0].shown.region.y)  # one column at 70
        await until(pilot, lambda: not any(p.needs_frame for p in panes))  # the views took every token
        for each in panes:
            streamed = "".join(
                e.text for e in events if isinstance(e, TextDelta) and e.ticket == each.ticket.id
            )
            assert each.body.source == streamed
            body = each.shown.body
            settle(body)
            width = body.scrollable_content_region.width
            assert {strip.cell_length for strip in body.lines} == {width}
            assert texts(body) == [strip.text.rstrip() for strip in whole(body, streamed)]
