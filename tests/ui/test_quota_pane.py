"""A ticket whose provider's quota is spent, in the TUI: its pane counts down to the reset and the
summary bar says the quota is spent (on_quota = "wait"), or its pane says it is paused and `p`
resumes it (on_quota = "pause"). The sim's one-request window is spent by the first ticket."""

from __future__ import annotations

import re
from pathlib import Path

from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until
from tests.support.streams import write_scenario

ONE_A_WINDOW = 'ttft_ms = 1\nratelimit_requests = 1\nratelimit_window_ms = 2500\n[[call]]\ntext = "ok"\n'


def two(on_quota: str) -> str:
    first = '[[ticket]]\nid = "first"\nprompt = "x"\nmodel = "quota"\n\n'
    return first + (
        '[[ticket]]\nid = "second"\nprompt = "x"\nmodel = "quota"\ndepends_on = ["first"]\n'
        f'on_quota = "{on_quota}"\n'
    )


def goes_in(app: object, ticket: str) -> int | None:
    """The seconds the pane's countdown shows, None when it shows none."""
    found = re.search(r"goes in (\d+) s", str(pane(app, ticket).notice.render()))  # type: ignore[arg-type]
    return None if found is None else int(found.group(1))


async def test_a_ticket_waiting_for_its_quotas_reset_counts_it_down_in_its_pane(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    write_scenario(scenario_dir, "quota", ONE_A_WINDOW)
    app = make_app(sim, tickets(tmp_path, two("wait")))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: goes_in(app, "second") is not None)
        second = pane(app, "second")
        assert second.state is PaneState.QUEUED
        assert str(second.notice.render()).startswith("queued: sim/quota has no requests left, goes in ")
        first = goes_in(app, "second")
        assert first is not None
        await until(pilot, lambda: (goes_in(app, "second") or first) < first)  # it counts down
        summary = app.controller.screen.summary
        await until(pilot, lambda: "sim/quota: quota spent, resets in" in str(summary.render()))
        await until(pilot, lambda: pane(app, "second").state is PaneState.COMPLETED)
    assert [r.status for r in sim.log] == [200, 200], "it went after the reset, not into a 429"


async def test_a_ticket_paused_for_its_quota_waits_for_p_past_the_reset(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    write_scenario(scenario_dir, "quota", ONE_A_WINDOW)
    app = make_app(sim, tickets(tmp_path, two("pause")))
    async with app.run_test(size=SIZE) as pilot:
        second = pane(app, "second")
        await until(pilot, lambda: "p: resume" in str(second.notice.render()))
        assert str(second.notice.render()).startswith("paused: sim/quota holds requests for ")
        limiter = app.controller.control.run.limiters["sim"]  # type: ignore[union-attr]
        await until(pilot, lambda: limiter.held_s() is None)
        assert second.state is PaneState.QUEUED and len(sim.log) == 1, "past the reset, still paused"
        await pilot.press("tab")
        assert app.controller.screen.focused_pane is second
        await pilot.press("p")
        await until(pilot, lambda: second.state is PaneState.COMPLETED)
    assert [r.status for r in sim.log] == [200, 200]
