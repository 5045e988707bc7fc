"""Forking at a turn picked on the pane's transcript: `k`/`j` move a turn cursor over the person's
turns as the pane shows them (marked there, the turns a fork after it leaves out dimmed), `f` forks
after the picked one through the same dialog and path as any fork, escape leaves picking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.strip import Strip

from lfgtui.config.load import Config
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.fork import ForkScreen
from lfgtui.ui.screens.modals import FollowUpScreen
from lfgtui.ui.widgets.pane import PaneState, TicketPane
from tests.support.agents import FAST, saved
from tests.support.app import SIZE, keys, make_app, tickets, until
from tests.support.compose import lfg_app


def drawn(pane: TicketPane) -> list[Strip]:
    """The pane's body as it draws its lines now, through its own `render_line`."""
    body = pane.shown.body
    return [body.render_line(y) for y in range(body.size.height)]


def styled(pane: TicketPane, attribute: str) -> list[str]:
    """The body's lines drawn with `attribute` (reverse: the picked turn; dim: the turns left out)."""
    return [
        line.text.strip()
        for line in drawn(pane)
        if line.text.strip() and any(seg.style and getattr(seg.style, attribute) for seg in line)
    ]


async def two_turns(app: LfgApp, pilot: Pilot[int], second: str, timeout: float = 10.0) -> TicketPane:
    """Ticket `hi` completed, then its follow-up `second` completed: two turns on its transcript."""
    parent = app.controller.panes["hi"]
    await until(pilot, lambda: parent.state is PaneState.COMPLETED, timeout)
    await pilot.press("i")
    assert isinstance(app.screen, FollowUpScreen)
    await pilot.press(*keys(second), "enter")
    await until(pilot, lambda: parent.attempt == 2 and parent.state is PaneState.COMPLETED, timeout)
    return parent


async def test_f_forks_after_the_turn_picked_on_the_transcript(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "hello there"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        parent = await two_turns(app, pilot, "second words")
        second_turn = len(sim.log) - 1
        assert styled(parent, "reverse") == []
        await pilot.press("k")
        await until(pilot, lambda: "turn 2 of 2" in str(parent.notice.render()))
        assert "second words" in styled(parent, "reverse")[-1], "the picked turn is marked where it is"
        await pilot.press("k")
        await until(pilot, lambda: "turn 1 of 2" in str(parent.notice.render()))
        notice = str(parent.notice.render())
        assert "f: fork after it" in notice and "hello there" in notice
        marked, left_out = styled(parent, "reverse"), styled(parent, "dim")
        assert marked and not any("second words" in line for line in marked)
        assert any("second words" in line for line in left_out), "the turns after the cut, dimmed"
        await pilot.press("f")
        dialog = app.screen
        assert isinstance(dialog, ForkScreen)
        assert dialog.says() == "Fork hi after turn 1 of 2: the turns after it are left out."
        await pilot.press(*keys("or else"), "enter")
        await until(pilot, lambda: "hi-fork1" in app.controller.panes)
        fork = app.controller.panes["hi-fork1"]
        await until(pilot, lambda: fork.state is PaneState.COMPLETED)
        assert "*forked at turn 1 of 2: its provider messages up to there, verbatim*" in fork.body.source
        assert parent.picked is None, "the fork sent, picking is over"
    turn_1 = sim.log[second_turn].body["messages"][:-1]  # the follow-up's request: turn 1, then it
    sent = sim.log[-1].body["messages"]
    assert sent[:-1] == turn_1 and sent[-1] == {"role": "user", "content": "or else"}


async def test_a_turn_arriving_keeps_the_cursor_and_escape_leaves_picking(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "hello there"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        parent = await two_turns(app, pilot, "second words")
        await pilot.press("i")
        await pilot.press(*keys("third words"), "enter")
        await until(pilot, lambda: parent.attempt == 3 and parent.state is PaneState.COMPLETED)
        await pilot.pause()
        dim_unpicked = styled(parent, "dim")  # the rules between turns are dim of themselves
        assert not any("third words" in line for line in dim_unpicked)
        await pilot.press("k", "k", "k", "j")
        await until(pilot, lambda: "turn 2 of 3" in str(parent.notice.render()))
        await pilot.press("i")
        await pilot.press(*keys("fourth words"), "enter")
        await until(pilot, lambda: parent.attempt == 4 and parent.state is PaneState.COMPLETED)
        await until(pilot, lambda: "turn 2 of 4" in str(parent.notice.render()))
        assert any("second words" in line for line in styled(parent, "reverse"))
        assert any("third words" in line for line in styled(parent, "dim"))
        await pilot.press("escape")
        await until(pilot, lambda: "turn 2 of 4" not in str(parent.notice.render()))
        assert parent.picked is None and styled(parent, "reverse") == []
        assert not any("words" in line for line in styled(parent, "dim"))
        assert app.screen is app.controller.screen, "escape left picking, nothing else"
        await pilot.press("f")
        assert isinstance(app.screen, ForkScreen)
        assert app.screen.says() == "Fork hi, after its whole conversation (4 turns):"


@pytest.mark.timeout(120)  # two agent processes, one after the other: past 60 s on a loaded machine
async def test_an_agents_turn_picked_on_the_transcript_forks_with_the_conversation_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sim ACP agent (a real subprocess): a fork before its last turn cannot fork its session
    (it forks only whole), so it is told the conversation up to the picked turn in its prompt."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    toml = (
        f'[[ticket]]\nid = "hi"\nprompt = "What is this project?"\nprovider = "sim-acp"\n'
        f'model = "hello:{FAST}"\n'
    )
    loaded = load_tickets(tickets(tmp_path, toml), Config(path=None), BUILTIN_TOOLS, env={})
    app = lfg_app(loaded.tickets, Providers())
    async with app.run_test(size=SIZE) as pilot:
        parent = await two_turns(app, pilot, "And the second question?", timeout=30)
        await pilot.press("k", "k")
        await until(pilot, lambda: "turn 1 of 2" in str(parent.notice.render()))
        await pilot.press("f")
        dialog = app.screen
        assert isinstance(dialog, ForkScreen)
        assert dialog.says() == "Fork hi after turn 1 of 2: the turns after it are left out."
        await pilot.press(*keys("Which file matters most"), "enter")
        await until(pilot, lambda: "hi-fork1" in app.controller.panes, timeout=30)
        fork = app.controller.panes["hi-fork1"]
        await until(pilot, lambda: fork.state is PaneState.COMPLETED, timeout=30)
        assert (
            "*forked at turn 1 of 2: the conversation so far goes in the prompt "
            "(an agent's session forks only whole, at its last turn)*"
        ) in fork.body.source
        session = app.controller.control.run.states["hi-fork1"].agent_session
        assert session is not None
        await app.controller.control.run.close_agents()
    (asked, _) = saved(tmp_path / "state" / "lfgtui" / "sim-acp-sessions", session)
    assert "What is this project?" in asked["text"] and asked["text"].endswith("Which file matters most")
    assert "And the second question?" not in asked["text"], "turn 2 is after the cut"


GATED = (
    '[[ticket]]\nid = "t"\nprompt = "Look around."\nmodel = "steer-rounds"\n'
    'tools = ["write_file", "list_dir", "read_file"]\n'
)
"""A tool loop whose first round waits for an approval: a steer lands between its rounds."""


async def test_a_steer_and_a_queued_turn_are_turns_the_cursor_picks(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, GATED))
    async with app.run_test(size=SIZE) as pilot:
        ticket = app.controller.panes["t"]
        await until(pilot, lambda: ticket.state is PaneState.APPROVAL)
        await pilot.press("i", *keys("answer in French"), "enter")  # a steer, at the next safe point
        await pilot.press("i", "ctrl+t", *keys("then a haiku"), "enter")  # queued: the next turn
        await until(pilot, lambda: len(ticket.held) == 2)
        await pilot.press("y")
        await until(pilot, lambda: ticket.attempt == 2 and ticket.state is PaneState.COMPLETED)
        await pilot.press("k")
        await until(pilot, lambda: "turn 3 of 3" in str(ticket.notice.render()))
        assert any("then a haiku" in line for line in styled(ticket, "reverse"))
        await pilot.press("k")
        await until(pilot, lambda: "turn 2 of 3" in str(ticket.notice.render()))
        marked = styled(ticket, "reverse")
        assert any("steer from you" in line for line in marked), marked
        assert any("answer in French" in line for line in marked), marked
        assert any("then a haiku" in line for line in styled(ticket, "dim"))
        queued = next(r.body["messages"] for r in sim.log if "then a haiku" in json.dumps(r.body))
        assert "then a haiku" in json.dumps(queued[-1]), "the queued turn's first request: turns 1-2, then it"
        await pilot.press("f")
        dialog = app.screen
        assert isinstance(dialog, ForkScreen)
        assert dialog.says() == "Fork t after turn 2 of 3: the turns after it are left out."
        await pilot.press(*keys("or in German"), "enter")
        await until(pilot, lambda: "t-fork1" in app.controller.panes)
        fork = app.controller.panes["t-fork1"]
        await until(pilot, lambda: fork.state is PaneState.COMPLETED)
    sent = sim.log[-1].body["messages"]
    assert sent[:-1] == queued[:-1], "turns 1 and 2 (the steer and the rounds after it), verbatim"
    assert "or in German" in json.dumps(sent[-1]) and "answer in French" in json.dumps(sent)


async def test_a_forks_pane_numbers_its_turns_as_the_whole_conversation_does(
    sim: SimServer, tmp_path: Path
) -> None:
    """A fork's pane shows only its own turns, after the parent's it went on from: the turn cursor
    numbers them as the fork dialog and `lfg fork --at` do, across the whole conversation."""
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "hello there"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        parent = await two_turns(app, pilot, "second words")
        await pilot.press("k", "k", "f")
        await pilot.press(*keys("or else"), "enter")  # the fork: turn 1 of hi, then its own
        await until(pilot, lambda: "hi-fork1" in app.controller.panes)
        fork = app.controller.panes["hi-fork1"]
        await until(pilot, lambda: fork.state is PaneState.COMPLETED)
        assert app.controller.screen.focused_pane is fork
        await pilot.press("i", *keys("and then"), "enter")
        await until(pilot, lambda: fork.attempt == 2 and fork.state is PaneState.COMPLETED)
        follow_up = sim.log[-1].body["messages"]  # turns 1-2 of the fork's conversation, then turn 3
        await pilot.press("k")
        await until(pilot, lambda: "turn 3 of 3" in str(fork.notice.render()))
        await pilot.press("k")
        await until(pilot, lambda: "turn 2 of 3" in str(fork.notice.render()))
        assert "or else" in str(fork.notice.render())
        await pilot.press("f")
        dialog = app.screen
        assert isinstance(dialog, ForkScreen)
        assert dialog.says() == "Fork hi-fork1 after turn 2 of 3: the turns after it are left out."
        await pilot.press(*keys("or not"), "enter")
        await until(pilot, lambda: "hi-fork1-fork1" in app.controller.panes)
        again = app.controller.panes["hi-fork1-fork1"]
        await until(pilot, lambda: again.state is PaneState.COMPLETED)
        assert "*forked at turn 2 of 3: its provider messages up to there, verbatim*" in again.body.source
        assert parent.picked is None and fork.picked is None
    sent = sim.log[-1].body["messages"]
    assert sent[:-1] == follow_up[:-1], "hi's turn 1 and the fork's own 'or else', verbatim"
    assert [m["content"] for m in sent if m["role"] == "user"] == ["hello there", "or else", "or not"]
