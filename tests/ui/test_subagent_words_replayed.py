"""A sub-agent's words in a pane rebuilt from the history, in the real app through Pilot: a real run
of the sim agent delegating to its sub-agent (`--subagent`), shown live and recorded to a real SQLite
file, then replayed, resumed and opened from the history screen (found there by a word only the
child said). Each rebuilt pane's sub-agent tree holds the child's words as the live one did; a
hostile child's words stay inert in the tree and whole in the file."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.cost.tokens import tokens_in
from lfgtui.events import AttemptEnded, AttemptStarted, EventFactory, Outcome, SubagentChanged, SubagentDelta
from lfgtui.history.recorded import ReplayClock
from lfgtui.history.recorder import Started
from lfgtui.history.writer import open_run_history, reopen_run_history
from lfgtui.providers.registry import Providers
from lfgtui.sim.acp_stable import SUBAGENT_TEXT
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.history import HistoryScreen
from lfgtui.ui.screens.run import Mode, RunScreen
from lfgtui.ui.widgets.pane import PaneState, TicketPane
from tests.support.agents import DELEGATING_TICKET, delegating, no_agent_left
from tests.support.app import keys, until
from tests.support.compose import first_run, lfg_app, replay_app, resumed_app
from tests.support.recording import WALL, Clock, load_recorded, record

SIZE = (140, 44)
UNSAFE = re.compile("[\x1b\x07\x80-\x9f]")
HOSTILE_TEXT = "# Not a ticket\n\x1b]52;c;cm0gLXJmIH4=\x07 said [/] and \x9b31m done"


@dataclass(frozen=True)
class Tree:
    """What a pane's sub-agent tree shows: each row's heading and, unfolded, its detail."""

    title: str
    rows: tuple[tuple[str, str], ...]


async def tree_of(pilot: object, pane: TicketPane) -> Tree:
    """The pane's tree as drawn, each row unfolded (its tool calls and the end of its words)."""
    log = pane.shown.subagents
    await until(pilot, lambda: len(log.rows) == len(pane.subagents.children), 30)
    for row in log.rows.values():
        row.collapsed = False
    children = pane.subagents.children

    def drawn() -> bool:
        return all(
            str(row.title) == str(children[c].heading())
            and str(row.detail.render()) == children[c].detail().plain
            for c, row in log.rows.items()
        )

    await until(pilot, drawn, 30)
    return Tree(
        str(log.title), tuple((str(row.title), str(row.detail.render())) for row in log.rows.values())
    )


def tickets_path(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.toml"
    path.write_text(DELEGATING_TICKET)
    return path


async def record_live(tmp_path: Path, db: Path) -> tuple[str, Tree]:
    """The sim agent delegating to its sub-agent in the live app, recorded as `lfg run` records it;
    the pane's tree once the child is done."""
    loaded = load_tickets(tickets_path(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    async with open_run_history(db, loaded, "lfg run", pytest.fail) as history:
        assert history is not None
        app = lfg_app(loaded.tickets, delegating(), yes=True, run_id=history.run_id, history=db)
        first_run(app).record(history)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.controller.panes["p"]
            await until(pilot, lambda: pane.state is PaneState.COMPLETED, 60)
            children = pane.subagents.children
            await until(pilot, lambda: [c.state for c in children.values()] == ["done"], 30)
            await until(pilot, lambda: ["".join(c.text) for c in children.values()] == [SUBAGENT_TEXT], 30)
            shown = await tree_of(pilot, pane)
    assert await no_agent_left(tmp_path)
    tokens = tokens_in(len(SUBAGENT_TEXT), None)
    assert shown.rows == (
        (f"✓ Read the notes · done · ~{tokens} tok · $0.0042", f"✓ Write notes.txt\n{SUBAGENT_TEXT}"),
    )
    return history.run_id, shown


async def test_a_replayed_resumed_or_opened_run_shows_the_sub_agents_words_as_the_live_pane_did(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "h.sqlite3"
    run_id, live = await record_live(tmp_path, db)

    app = replay_app(load_recorded(db, run_id), Providers(), clock=ReplayClock(50))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["p"]
        await until(pilot, lambda: pane.finished)
        assert await tree_of(pilot, pane) == live, "replayed"

    async with reopen_run_history(db, run_id, pytest.fail) as history:
        assert history is not None
        app = resumed_app(load_recorded(db, run_id), delegating(), history=db)
        first_run(app).record(history)
        async with app.run_test(size=SIZE) as pilot:
            assert app.controller.mode is Mode.RESUMED
            assert await tree_of(pilot, app.controller.panes["p"]) == live, "resumed"

    other = tmp_path / "other"
    other.mkdir()
    (other / "tickets.toml").write_text(
        '[[ticket]]\nid = "hey"\nprompt = "hey"\nprovider = "sim"\nmodel = "hello"\n'
    )
    loaded = load_tickets(other / "tickets.toml", Config(path=None), BUILTIN_TOOLS, env={})
    app = lfg_app(loaded.tickets, Providers(sim=sim), history=db)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.panes["hey"].finished)
        await pilot.press("slash")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await until(pilot, lambda: screen.shown_query == "")
        await pilot.press(*keys("reading"))  # a word only the sub-agent said
        await until(pilot, lambda: screen.shown_query == "reading")
        assert [(f.run_id, f.ticket) for f in screen.found] == [(run_id, "p")]
        assert "reading" in screen.found[0].snippet.plain
        assert screen.found[0].label == "p #1 · sub-agent Read the notes", "said by which child"
        await pilot.press("enter")
        await until(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.controller.mode is Mode.READ_ONLY
        )
        assert await tree_of(pilot, app.controller.panes["p"]) == live, "opened from the history screen"


async def test_a_hostile_sub_agents_words_are_inert_in_a_rebuilt_pane_and_whole_in_the_file(
    tmp_path: Path,
) -> None:
    """Escape sequences and markup a child said, recorded over two batches: its row in the resumed
    pane draws them as text (no escape reaches the terminal, no markup read), the file keeps them."""
    clock = Clock()
    ev = EventFactory("explore", 1, clock=clock)
    said = {"child": "c1", "task": "Read [/b] the \x1b]0;pwned\x07notes"}
    first = [
        Started(ev(AttemptStarted, provider="sim-acp", model="m"), WALL),
        ev(SubagentChanged, message="sub-agent started", state="running", **said),
        ev(SubagentDelta, child="c1", text=HOSTILE_TEXT[:20]),
    ]
    clock.now += 0.5
    then = [
        ev(SubagentDelta, child="c1", text=HOSTILE_TEXT[20:]),
        ev(SubagentChanged, message="sub-agent finished", state="done", **said),
        ev(AttemptEnded, outcome=Outcome.COMPLETED),
    ]
    db = tmp_path / "h.sqlite3"
    recorder = record(db, tmp_path, first, then)
    recorder.finish()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT text FROM subagent_texts ORDER BY id").fetchall()
    assert rows == [(HOSTILE_TEXT[:20],), (HOSTILE_TEXT[20:],)], "a row a batch, stored as said"
    app: LfgApp = resumed_app(load_recorded(db, recorder.run_id), Providers())
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["explore"]
        [child] = pane.subagents.children.values()
        assert "".join(child.text) == HOSTILE_TEXT, "the whole of it, in the pane's tree"
        tree = await tree_of(pilot, pane)
        [(heading, detail)] = tree.rows
        assert UNSAFE.search(heading + detail + tree.title) is None, tree
        assert heading.startswith("✓ Read [/b] the ") and "said [/] and" in detail
        assert detail.startswith("# Not a ticket\n"), "no markup read: the heading stays text"
