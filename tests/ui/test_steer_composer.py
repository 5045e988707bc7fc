"""`i` on a running pane, through Pilot on the real app and the sim: the composer says what Enter will do
before anything is sent (steer this turn, or queue the next), ctrl+t switches; the held messages show
under the pane's answer in order, each editable and removable until sent; a steer shows as pending
until it lands, then as a user turn in the transcript; a queued one goes as the next turn. `i` on a
completed ticket is still its follow-up.

The ticket's first tool call waits for the person's approval, so it is running, with no safe point
passed, for as long as the test needs: nothing here waits on time."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from lfgtui.events import Outcome
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.ui.screens.modals import ConfirmScreen, FollowUpScreen
from lfgtui.ui.screens.steer import SteerScreen
from lfgtui.ui.widgets.pane import PaneState
from lfgtui.ui.widgets.tool_log import ToolState
from tests.support.agents import agent_app, approve, no_agent_left
from tests.support.app import SIZE, keys, make_app, pane, tickets, until

GATED = (
    '[[ticket]]\nid = "t"\nprompt = "Look around."\nmodel = "steer-rounds"\n'
    'tools = ["write_file", "list_dir", "read_file"]\n'
)


async def test_the_composer_steers_queues_edits_and_takes_back_then_each_is_sent_at_its_place(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(sim, tickets(tmp_path, GATED))
    async with app.run_test(size=SIZE) as pilot:
        ticket = pane(app, "t")
        await until(pilot, lambda: ticket.state is PaneState.APPROVAL)
        run = app.controller.run
        assert run is not None

        await pilot.press("i")
        composer = app.screen
        assert isinstance(composer, SteerScreen)
        assert (
            composer.says() == "Enter steers t: sent after this round's tool results, before its next call."
        )
        await pilot.press(*keys("answer in French"), "enter")
        await until(pilot, lambda: not isinstance(app.screen, SteerScreen))

        await pilot.press("i")
        composer = app.screen
        assert isinstance(composer, SteerScreen)
        await pilot.press("ctrl+t")
        assert composer.says() == "Enter queues this as t's next turn, sent once this turn ends."
        await pilot.press(*keys("then a haiku"), "enter")
        await until(pilot, lambda: not isinstance(app.screen, SteerScreen))
        await pilot.press("i")
        composer = app.screen
        assert isinstance(composer, SteerScreen)
        assert composer.says() == "Enter queues this as t's next turn, sent once this turn ends.", (
            "it opens as last switched: a second queued message is not a steer ahead of the first"
        )
        await pilot.press(*keys("dropped"), "enter")
        await until(pilot, lambda: len(ticket.held) == 3)
        view = ticket.shown
        shown = str(view.held.render())
        assert shown.splitlines() == [
            "↳ queued by you as the next turn: dropped",
            "#1 ⧗ steer from you: answer in French",
            "#2 queued from you: then a haiku",
            "#3 queued from you: dropped",
        ], "what the last change said, then each numbered by id, as the composer and the API name it"

        await pilot.press("i")
        composer = app.screen
        assert isinstance(composer, SteerScreen)
        await pilot.press("up")  # the last held: "dropped"
        assert composer.query_one(Input).value == "dropped"
        assert composer.says() == "Enter saves your edit of held message #3; ctrl+r takes it back."
        await pilot.press("ctrl+r")
        await pilot.press("up")  # now "then a haiku"
        composer.query_one(Input).value = ""
        await pilot.press(*keys("then a limerick"), "enter")
        await until(pilot, lambda: [m.text for m in ticket.held] == ["answer in French", "then a limerick"])

        await pilot.press("y")  # the first round's write_file: the run goes on, through its safe point
        await until(pilot, lambda: run.states["t"].outcome is Outcome.COMPLETED and not ticket.running)
        assert ticket.held == ()
        body = ticket.body.source
        assert body.index("*steer from you:*\n\n> answer in French") < body.index("Listing the folder")
        assert "> then a limerick" in body, "the queued message, quoted as the next turn's prompt"
        assert run.states["t"].attempt == 2

        await pilot.press("i")
        assert isinstance(app.screen, FollowUpScreen), "a completed ticket's i is its follow-up"


@pytest.mark.parametrize(
    ("switches", "says", "switched"),
    [
        (
            ("--steering", "injected"),
            "Enter steers w: sent to lfg simulator (ACP) now, which reads it in this turn at a call "
            "it picks; what it is still writing may be cut off there, a tool call in it then not run.",
            "Enter queues this as w's next prompt, sent to lfg simulator (ACP) once this turn ends.",
        ),
        (
            (),
            "lfg simulator (ACP) cannot be steered: Enter queues this as w's next prompt, sent once this "
            "turn ends.",
            "lfg simulator (ACP) cannot be steered: Enter queues this as w's next prompt, sent once this "
            "turn ends.",
        ),
        (
            ("--steering", "injected", "--agent-name", "@agentclientprotocol/claude-agent-acp"),
            "Enter steers w: kept until lfg simulator (ACP) goes on after your answer to its request (a "
            "steer it takes while it waits on you it reads only after its turn's last answer), then sent "
            "to lfg simulator (ACP), which reads it in this turn at a call it picks; what it is still "
            "writing may be cut off there, a tool call in it then not run.",
            "Enter queues this as w's next prompt, sent to lfg simulator (ACP) once this turn ends.",
        ),
    ],
    ids=["steers", "cannot", "claude-code-at-a-permission"],
)
async def test_the_composer_says_what_a_coding_agent_does_with_enter(
    tmp_path: Path, switches: tuple[str, ...], says: str, switched: str
) -> None:
    """A coding agent's own steering, named as the agent names itself; one without it is only queued.
    Issue 73: one taken for Claude Code, whose permission request waits, keeps the steer until it goes
    on after the answer (session/steering.py): the composer said "sent to … now" all the same."""
    sim = BUILTIN["sim-acp"]
    config = sim.with_agent(command=(*sim.agent.command, *switches))
    writer = 'provider = "sim-acp"\nmodel = "writer:ttft_ms=0,tokens_per_s=0"\n'
    app = agent_app(tmp_path, f'[[ticket]]\nid = "w"\nprompt = "x"\n{writer}', Providers({"sim-acp": config}))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: pane(app, "w").state is PaneState.APPROVAL, 20)
        await pilot.press("i")
        composer = app.screen
        assert isinstance(composer, SteerScreen)
        assert composer.says() == says
        await pilot.press("ctrl+t")
        assert composer.says() == switched
        await pilot.press("escape", "q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: app.return_value is not None, 20)
    assert await no_agent_left(tmp_path)


async def test_an_edit_stays_with_the_message_picked_when_one_before_it_leaves_meanwhile(
    sim: SimServer, tmp_path: Path
) -> None:
    """The pick is the message, not its place: a watcher takes back the first while the person edits the
    second, and the edit still lands on the second; one taken back under the edit is refused, saying so,
    and the words stay to send anew."""
    app = make_app(sim, tickets(tmp_path, GATED))
    async with app.run_test(size=SIZE) as pilot:
        ticket = pane(app, "t")
        await until(pilot, lambda: ticket.state is PaneState.APPROVAL)
        run = app.controller.run
        assert run is not None
        for text in ("then a haiku", "then a sonnet", "then a limerick"):
            assert run.queue("t", text) is None
        first, second, _ = run.states["t"].inbox.held

        await pilot.press("i", "up", "up")  # "then a sonnet", the second
        composer = app.screen
        assert isinstance(composer, SteerScreen)
        assert composer.says() == "Enter saves your edit of held message #2; ctrl+r takes it back."
        assert run.unqueue("t", first.id, "127.0.0.1 (ada)") is None
        composer.query_one(Input).value = ""
        await pilot.press(*keys("then an ode"), "enter")
        await until(pilot, lambda: not isinstance(app.screen, SteerScreen))
        assert [m.text for m in run.states["t"].inbox.held] == ["then an ode", "then a limerick"]

        await pilot.press("i", "up", "up")  # "then an ode", taken back under the edit
        composer = app.screen
        assert isinstance(composer, SteerScreen)
        assert run.unqueue("t", second.id, "127.0.0.1 (ada)") is None
        composer.query_one(Input).value = "then a rondeau"
        await pilot.press("enter")
        assert isinstance(app.screen, SteerScreen), "refused: the composer stays, with the words"
        assert composer.query_one(Input).value == "then a rondeau"
        assert composer.says().startswith("Enter steers t:"), "Enter now sends the words anew"
        assert [m.text for m in run.states["t"].inbox.held] == ["then a limerick"]
        await pilot.press("escape")


CLAUDE_LIKE = (
    "--steering",
    "injected",
    "--steer-cuts",
    "--steer-reads-late",
    "--message-ids",
    "--paced-tool-input",
    "--agent-name",
    "@agentclientprotocol/claude-agent-acp",
)
"""The sim agent as today's Claude Code steers (claude-agent-acp 0.101.0): a steer it takes while a
tool call's arguments stream cuts that model message off, and the call never runs."""


async def test_a_steer_while_claude_code_writes_a_tool_call_is_kept_until_the_call_has_run(
    tmp_path: Path,
) -> None:
    """Issue 73: steered while it streamed a `Write`, Claude Code dropped the write (`Claude stopped
    this tool call before it ran.`) and the composer had said `sent to … now`. Its adapter announces
    a call (`pending`) as the call begins to stream and says nothing as it starts to run, so lfg keeps
    a steer while a call it announced has not run, the composer saying so before Enter, and sends it
    once the call has run: the file is written, then the model reads the steer in the same turn."""
    sim = BUILTIN["sim-acp"]
    config = sim.with_agent(command=(*sim.agent.command, *CLAUDE_LIKE))
    writer = 'provider = "sim-acp"\nmodel = "writer:ttft_ms=0,tokens_per_s=4,late_tool_input=1"\n'
    ticket = f'[[ticket]]\nid = "w"\nprompt = "x"\nworkdir = "{tmp_path}"\n{writer}'
    app = agent_app(tmp_path, ticket, Providers({"sim-acp": config}))
    async with app.run_test(size=SIZE) as pilot:
        w = pane(app, "w")
        run = app.controller.run
        assert run is not None
        await until(pilot, lambda: len(w.tools.rows) == 1, 20)  # the write, announced as it streams
        assert w.state is not PaneState.APPROVAL, "its arguments still stream: nobody is asked yet"

        await pilot.press("i")
        composer = app.screen
        assert isinstance(composer, SteerScreen)
        assert composer.says().startswith(
            "Enter steers w: kept until the tool call lfg simulator (ACP) is writing or running has run "
            "(a steer it takes while it writes a tool call stops that call before it runs), then sent"
        ), composer.says()
        composer.query_one(Input).value = "Also say PELICAN."
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, SteerScreen))

        while run.states["w"].outcome is None:  # each request answered yes
            await until(
                pilot, lambda: w.state is PaneState.APPROVAL or run.states["w"].outcome is not None, 30
            )
            if w.state is PaneState.APPROVAL:
                await approve(pilot, app)
                await until(pilot, lambda: w.state is not PaneState.APPROVAL)
        await until(pilot, lambda: w.state is PaneState.COMPLETED, 20)
        assert (tmp_path / "notes" / "summary.md").exists(), "the write ran: the steer did not drop it"
        outputs = [row.output for row in w.tools.rows.values()]
        assert not [o for o in outputs if "stopped this tool call" in o], outputs
        assert {row.state for row in w.tools.rows.values()} == {ToolState.OK}
        body = w.body.source
        assert "*steer from you:*\n\n> Also say PELICAN." in body
        read = "(steered mid-turn, idleBehavior promptRequired: Also say PELICAN.)"
        assert body.count(read) == 1, "read once, in the turn"
        assert body.index("*steer from you:*") < body.index(read) < body.index("Done: the notes are in")
        await pilot.press("q")
        if isinstance(app.screen, ConfirmScreen):
            await pilot.press("y")
        await until(pilot, lambda: app.return_value is not None, 20)
    assert await no_agent_left(tmp_path)
