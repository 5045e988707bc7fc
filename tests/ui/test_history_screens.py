"""The history in the real app through Pilot: resume, follow-up, retry all, the `/` search screen,
read-only runs and re-runs, and replay, all against the sim server and real history files."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.widgets import Input

from lfgtui.config.load import Config
from lfgtui.history.recorded import ReplayClock, replay_events
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import open_run_history, reopen_run_history
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.history import HistoryScreen
from lfgtui.ui.screens.modals import FollowUpScreen, HelpScreen
from lfgtui.ui.screens.run import Mode, RunScreen
from lfgtui.ui.widgets.gauges import elapsed_text
from lfgtui.ui.widgets.pane import PaneState, TicketPane
from tests.support.app import keys, until
from tests.support.compose import first_run, lfg_app, replay_app, resumed_app
from tests.support.recording import FAST_AGENT, exchange, load_recorded, record_tickets, tickets_file
from tests.support.streams import write_scenario

SIZE = (140, 44)


@pytest.fixture(autouse=True)
def fast_agent(scenario_dir: Path) -> None:
    write_scenario(scenario_dir, "fast-agent", FAST_AGENT)


@dataclass(frozen=True)
class PaneView:
    """What a finished pane shows: its text, thinking, tool log, state and the steady gauges."""

    state: PaneState
    attempt: int
    body: str
    reasoning: str
    tools: tuple[tuple[str, str, str], ...]
    ttft: str
    tokens: str
    elapsed: str
    requests: tuple[tuple[int, int, float, float], ...]

    @classmethod
    def of(cls, pane: TicketPane) -> PaneView:
        gauges = pane.gauges.text.plain.split("·")
        tools = tuple((r.tool_name, str(r.arguments), r.state.value) for r in pane.tools.rows.values())
        return cls(
            pane.state,
            pane.attempt,
            pane.body.source,
            pane.reasoning.source,
            tools,
            gauges[0].strip(),
            gauges[2].strip(),
            gauges[3].strip(),
            tuple(
                (
                    r.chunks,
                    r.output_tokens,
                    (r.first_token or 0) - r.request_sent,
                    (r.last_token or 0) - r.request_sent,
                )
                for r in pane.metrics.requests
            ),
        )

    def same(self, other: PaneView) -> None:
        """Equal; each request's token times to the millisecond the history stores them at."""
        assert {**vars(self), "requests": ()} == {**vars(other), "requests": ()}
        assert [r[:2] for r in self.requests] == [r[:2] for r in other.requests], (
            "chunks and tokens per request"
        )
        for mine, theirs in zip(self.requests, other.requests, strict=True):
            assert mine[2:] == pytest.approx(theirs[2:], abs=0.0011)


async def record_live(sim: SimServer, path: Path, db: Path) -> tuple[str, dict[str, PaneView]]:
    """Run a tickets file in the live app, recorded as `lfg run` records it; what each pane showed."""
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    async with open_run_history(db, loaded, "lfg run", pytest.fail) as history:
        assert history is not None
        app = lfg_app(loaded.tickets, Providers(sim=sim), yes=True, run_id=history.run_id, history=db)
        first_run(app).record(history)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: all(p.finished for p in app.controller.panes.values()))
            await pilot.pause(0.2)
            views = {ticket: PaneView.of(pane) for ticket, pane in app.controller.panes.items()}
    return history.run_id, views


@contextlib.asynccontextmanager
async def resumed(sim: SimServer, db: Path, run_id: str) -> AsyncIterator[LfgApp]:
    """The app as `lfg resume` builds it, recording into the same run."""
    recorded = load_recorded(db, run_id)
    async with reopen_run_history(db, run_id, pytest.fail) as history:
        assert history is not None
        app = resumed_app(recorded, Providers(sim=sim), history=db)
        first_run(app).record(history)
        yield app


def counts(db: Path) -> tuple[int, ...]:
    with sqlite3.connect(db) as conn:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("runs", "attempts", "parts")
        )


async def test_a_resumed_run_shows_how_long_it_ran_not_a_time_before_it(
    sim: SimServer, tmp_path: Path
) -> None:
    """Restored panes are timed on the controller's clock, the record ending as it starts."""
    db = tmp_path / "h.sqlite3"
    run_id = await record_tickets(sim, tickets_file(tmp_path), db)
    took = replay_events(load_recorded(db, run_id))[-1].t
    async with resumed(sim, db, run_id) as app, app.run_test(size=SIZE) as pilot:
        summary = app.controller.screen.summary
        await until(pilot, lambda: "completed" in str(summary.render()))
        shown = str(summary.render()).split()[-1]
    assert shown == elapsed_text(took)


async def test_a_resumed_runs_sparklines_show_the_recorded_rates_not_a_flat_line(
    sim: SimServer, tmp_path: Path
) -> None:
    """The sparkline is drawn from the events' own times: a view that opens after the stream (resumed,
    attached, a browser tab) draws the rates it had, not the flat line of samples it never took."""
    db = tmp_path / "h.sqlite3"
    run_id = await record_tickets(sim, tickets_file(tmp_path), db)
    async with resumed(sim, db, run_id) as app, app.run_test(size=SIZE) as pilot:
        await until(
            pilot, lambda: all("█" in pane.gauges.text.plain for pane in app.controller.panes.values())
        )
        lines = {ticket: pane.gauges.text.plain for ticket, pane in app.controller.panes.items()}
    assert all("█" in line for line in lines.values()), lines


async def test_resume_restores_every_pane_as_it_was_shown(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    run_id, shown = await record_live(sim, tickets_file(tmp_path), db)
    sent = len(sim.log)
    async with resumed(sim, db, run_id) as app, app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        assert app.controller.mode is Mode.RESUMED
        for ticket, view in shown.items():
            PaneView.of(app.controller.panes[ticket]).same(view)
        explore = shown["explore"]
        assert "renders **widgets**" in explore.body and explore.reasoning == "Look at the files first."
        assert [name for name, _, state in explore.tools] == ["list_dir", "read_file"]
        assert explore.ttft.startswith("TTFT") and explore.tokens.endswith("tok")
        assert f"{run_id} · resumed" in str(app.controller.screen.summary.render())
    assert len(sim.log) == sent, "restoring sends nothing"


async def test_follow_up_key_continues_a_completed_ticket_in_its_pane(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    run_id, shown = await record_live(sim, tickets_file(tmp_path), db)
    earlier = exchange([r for r in sim.log if r.model == "fast-agent"][-1])
    async with resumed(sim, db, run_id) as app, app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["explore"]
        assert app.controller.screen.focused_pane is pane
        await pilot.press("i")
        assert isinstance(app.screen, FollowUpScreen)
        await pilot.press(*keys("Which file matters?"), "enter")
        await until(pilot, lambda: pane.attempt == 2 and pane.state is PaneState.COMPLETED)
        await pilot.pause(0.1)
        before, _, after = pane.body.source.partition("> Which file matters?")
        assert before.startswith(shown["explore"].body), "the earlier conversation stays in the pane"
        assert "renders **widgets**" in after, "and the answer to the follow-up follows it"
        assert len(pane.tools.rows) == 2
    calls, results, last_user = exchange(sim.log[-1])
    assert (calls, results) == earlier[:2], "the follow-up request carried the earlier tool calls and results"
    assert last_user == "Which file matters?"
    with Store.open(db) as store:
        (ticket,) = store.load(Selection(run_id, ticket="explore")).tickets
    prompt = ticket.attempts[-1].parts[0]
    assert (prompt.text, prompt.info, ticket.attempts[-1].row.outcome) == (
        "Which file matters?",
        {"continues": 1},
        "completed",
    )


async def test_retry_all_retries_what_did_not_complete_into_the_same_run(
    sim: SimServer, tmp_path: Path, scenario_dir: Path
) -> None:
    flaky = 'ttft_ms = 1\n[[call]]\ntext = "fine now"\n[[fault]]\nkind = "http"\nstatus = 401\ntimes = 1\n'
    write_scenario(scenario_dir, "flaky-a", flaky)
    write_scenario(scenario_dir, "flaky-b", flaky)
    toml = "".join(
        f'[[ticket]]\nid = "{t}"\nprompt = "x"\nprovider = "sim"\nmodel = "{m}"\n\n'
        for t, m in (("a", "flaky-a"), ("b", "flaky-b"), ("ok", "hello"))
    )
    db = tmp_path / "h.sqlite3"
    run_id = await record_tickets(sim, tickets_file(tmp_path, toml), db)
    async with resumed(sim, db, run_id) as app, app.run_test(size=SIZE) as pilot:
        a, b, ok = (app.controller.panes[t] for t in ("a", "b", "ok"))
        assert (a.state, b.state, ok.state) == (PaneState.FAILED, PaneState.FAILED, PaneState.COMPLETED)
        await pilot.press("i")
        assert not isinstance(app.screen, FollowUpScreen), "a failed ticket cannot be followed up"
        await pilot.press("R")
        await until(pilot, lambda: a.state is b.state is PaneState.COMPLETED)
        assert (a.attempt, b.attempt, ok.attempt) == (2, 2, 1)
        assert a.body.source == "fine now", "a retry starts its pane afresh"
        await pilot.press("R")
        await pilot.pause(0.1)
        assert ok.attempt == 1, "nothing left to retry"
    with Store.open(db) as store:
        assert [r.id for r in store.list_runs()] == [run_id]
        record = store.load(Selection(run_id))
    outcomes = {t.row.ticket: [a.row.outcome for a in t.attempts] for t in record.tickets}
    assert outcomes == {"a": ["failed", "completed"], "b": ["failed", "completed"], "ok": ["completed"]}


async def test_history_screen_searches_opens_read_only_and_reruns(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    recorded_id = await record_tickets(sim, tickets_file(tmp_path / "one"), db)
    live = tmp_path / "live"
    live.mkdir()
    (live / "tickets.toml").write_text(
        '[[ticket]]\nid = "hey"\nprompt = "hey"\nprovider = "sim"\nmodel = "hello"\n'
    )
    loaded = load_tickets(live / "tickets.toml", Config(path=None), BUILTIN_TOOLS, env={})
    app = lfg_app(loaded.tickets, Providers(sim=sim), history=db)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.panes["hey"].finished)
        await pilot.press("slash")
        history = app.screen
        assert isinstance(history, HistoryScreen)
        await until(pilot, lambda: history.shown_query == "")
        assert [f.run_id for f in history.found] == [recorded_id], "an empty query lists the recent runs"
        hint = "1 recent run · type to search prompts, answers, tool calls, sub-agents and review comments"
        assert str(history.status.render()) == hint, "all that search finds (HistoryStore.search)"
        await pilot.press(*keys("wid"))
        await pilot.press(*keys("gets dashboards"))
        await until(pilot, lambda: history.shown_query == "widgets dashboards")
        assert {(f.run_id, f.ticket) for f in history.found} == {(recorded_id, "explore")}
        assert "widgets" in history.found[0].snippet.plain.lower()

        await pilot.press("enter")
        await until(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.controller.mode is Mode.READ_ONLY
        )
        await pilot.pause(0.1)
        controller = app.controller
        assert controller.run is None and controller.run_id == recorded_id
        assert app.controller.screen.focused_pane is controller.panes["explore"]
        assert "renders **widgets**" in controller.panes["explore"].body.source
        await until(
            pilot, lambda: f"{recorded_id} · read-only" in str(app.controller.screen.summary.render())
        )
        assert "tok/s" not in str(app.controller.screen.summary.render()), (
            "a record has no live rate or clock"
        )
        sent = len(sim.log)
        await pilot.press("c", "i", "R")
        assert len(sim.log) == sent and not isinstance(app.screen, FollowUpScreen), (
            "read-only keys act on nothing"
        )

        await pilot.press("r")
        await until(pilot, lambda: app.controller.mode is Mode.LIVE and len(app.controllers) == 3)
        rerun = app.controller
        await until(pilot, lambda: rerun.panes["explore"].state is PaneState.COMPLETED)
        assert list(rerun.panes) == ["explore"] and rerun.run_id not in (
            recorded_id,
            app.controllers[0].run_id,
        )

        await pilot.press("escape")
        await until(pilot, lambda: len(app.controllers) == 2)
        assert app.controller is controller
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.controllers[0].screen)
        assert len(app.controllers) == 1
    with Store.open(db) as store:
        record = store.load(Selection(rerun.run_id))
    (ticket,) = record.tickets
    assert ticket.row.ticket == "explore" and ticket.row.prompt == "What is this project?"
    assert [a.row.outcome for a in ticket.attempts] == ["completed"]


async def test_a_search_too_big_to_run_says_so_on_the_history_screen(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    await record_tickets(sim, tickets_file(tmp_path / "one"), db)
    loaded = load_tickets(tickets_file(tmp_path / "two"), Config(path=None), BUILTIN_TOOLS, env={})
    app = lfg_app(loaded.tickets, Providers(sim=sim), history=db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        history = app.screen
        assert isinstance(history, HistoryScreen)
        await until(pilot, lambda: history.shown_query == "")
        await pilot.press(*keys(" ".join(f"w{n}*" for n in range(9))))
        await until(pilot, lambda: "at most 64 terms and 8 prefixes" in str(history.status.render()))


async def test_history_is_off_without_a_history_file(sim: SimServer, tmp_path: Path) -> None:
    (tmp_path / "tickets.toml").write_text(
        '[[ticket]]\nid = "hey"\nprompt = "x"\nprovider = "sim"\nmodel = "hello"\n'
    )
    loaded = load_tickets(tmp_path / "tickets.toml", Config(path=None), BUILTIN_TOOLS, env={})
    app = lfg_app(loaded.tickets, Providers(sim=sim))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        assert not isinstance(app.screen, HistoryScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {row[2] for row in app.screen.rows}
        assert {"run.retry_all", "pane.follow_up", "run.history"} <= ids
        assert not {"pane.rerun", "run.close"} & ids, "a live first run can neither re-run nor be left"
        assert ("/", "search the history; open a recorded run", "run.history") in app.screen.rows


async def test_replay_streams_the_record_through_the_panes_and_sends_nothing(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "h.sqlite3"
    run_id, shown = await record_live(sim, tickets_file(tmp_path), db)
    sent, rows = len(sim.log), counts(db)
    recorded = load_recorded(db, run_id)
    app = replay_app(recorded, Providers(sim=sim), clock=ReplayClock(50))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all(p.finished for p in app.controller.panes.values()))
        await pilot.pause(0.2)
        for ticket, view in shown.items():
            PaneView.of(app.controller.panes[ticket]).same(view)
        await pilot.press("r", "R", "i", "slash")
        await pilot.pause(0.1)
        assert app.screen is app.controller.screen and all(
            p.attempt == 1 for p in app.controller.panes.values()
        )
        assert "replay at 50x" in str(app.controller.screen.summary.render())
    assert len(sim.log) == sent, "a replay sends nothing to any provider"
    assert counts(db) == rows, "and writes nothing to the history"

    one = load_recorded(db, f"{run_id}/hi")
    app = replay_app(one, Providers(sim=sim), clock=ReplayClock(50))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.panes["hi"].finished)
        await pilot.pause(0.1)
        assert list(app.controller.panes) == ["hi"]
        PaneView.of(app.controller.panes["hi"]).same(shown["hi"])


async def test_a_replay_pauses_and_its_keys_move_the_record_ahead(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    run_id, shown = await record_live(sim, tickets_file(tmp_path), db)
    frozen = ReplayClock(1, clock=lambda: 0.0)  # time stands still: only the replay's keys move it
    app = replay_app(load_recorded(db, run_id), Providers(sim=sim), clock=frozen)
    async with app.run_test(size=SIZE) as pilot:
        panes = app.controller.panes
        await pilot.pause()
        assert not any(p.finished for p in panes.values())
        await pilot.press("space")
        assert frozen.paused
        await pilot.press("greater_than_sign")
        assert frozen() == 10.0, "paused, a skip still moves the record on"
        await pilot.press("space")
        assert not frozen.paused
        for _ in range(100):
            if all(p.finished for p in panes.values()):
                break
            await pilot.press("greater_than_sign")
            await pilot.pause()
        assert all(p.finished for p in panes.values())
        for ticket, view in shown.items():
            PaneView.of(panes[ticket]).same(view)


async def test_follow_up_in_a_live_run_is_recorded_as_a_continuation(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    loaded = load_tickets(tickets_file(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    async with open_run_history(db, loaded, "lfg run", pytest.fail) as history:
        assert history is not None
        app = lfg_app(loaded.tickets, Providers(sim=sim), yes=True, run_id=history.run_id, history=db)
        first_run(app).record(history)
        async with app.run_test(size=SIZE) as pilot:
            hi = app.controller.panes["hi"]
            await until(pilot, lambda: hi.state is PaneState.COMPLETED)
            await pilot.press("tab", "i")
            follow_up = app.screen
            assert isinstance(follow_up, FollowUpScreen)
            follow_up.query_one(Input).value = "Again, louder."
            await pilot.press("enter")
            await until(pilot, lambda: hi.attempt == 2 and hi.state is PaneState.COMPLETED)
    messages = sim.log[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"].startswith("Hello!") and messages[2]["content"] == "Again, louder."
    recorded = load_recorded(db, f"{history.run_id}/hi")
    (hi_record,) = recorded.tickets
    assert [(a.number, a.continues, a.prompt) for a in hi_record.attempts] == [
        (1, None, "Say hello."),
        (2, 1, "Again, louder."),
    ]
