"""A coding agent's question as a form (ACP elicitation) in the real app through Pilot, at 80 by 24: the
ticket asks you (certain, no "?"), `a` goes to it, `e` opens its form; what is entered is checked
against the schema, and accepted it reaches the agent, which says it back; declined, the agent hears
that. Whatever the agent sent is shown inert, never as markup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input, Static

from lfgtui import ui
from lfgtui.alerts.states import State
from lfgtui.events import ElicitationAsked, EventFactory, Outcome, Status
from lfgtui.providers.registry import Providers
from lfgtui.run.approvals import Reply
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.elicitation import ElicitationScreen
from lfgtui.ui.services import Services
from lfgtui.ui.widgets.pane import PaneState
from tests.support.agents import FAST, agent_app, attempt, ending, no_agent_left, of, text
from tests.support.app import keys, until

SMALL = (80, 24)
ELICIT = '[[ticket]]\nid = "rel"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "elicit:ttft_ms=0"\n'


@pytest.mark.timeout(120)  # an agent's start, two turns and the app: past 60 s on a loaded machine
async def test_the_filled_in_form_reaches_the_agent_and_a_decline_too(tmp_path: Path) -> None:
    """One agent session: its first question accepted, then (a follow-up asks again) what does not fit
    is said, the form left undecided and opened again as it was left, and declined."""
    app = agent_app(tmp_path, ELICIT)
    async with app.run_test(size=SMALL) as pilot:
        rel, screen = app.controller.panes["rel"], app.controller.screen
        await until(pilot, lambda: rel.question is not None, 60)  # the agent's start: slow when loaded
        assert rel.standing.state is State.ASKED and not rel.standing.inferred
        await until(pilot, lambda: "asked you · <1 min" in str(rel.header.text))
        await until(pilot, lambda: "asks you: Before I start" in str(rel.notice.render()))
        assert "e: answer its form" in str(rel.notice.render())
        await until(pilot, lambda: "⚑ 1 need you" in str(screen.summary.render()))
        await pilot.press("a")
        assert screen.focused_pane is rel
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ElicitationScreen))
        form = app.screen
        assert isinstance(form, ElicitationScreen)
        assert form.query_one("#field-1", Input).value == "3", "the schema's default"
        await pilot.press(*keys("v2"), "tab", "tab", "tab")  # past builds and the channel, to notify
        await pilot.press("space")
        assert form.query_one("#field-3", Checkbox).value
        await pilot.press("ctrl+s")
        await until(pilot, lambda: rel.state is PaneState.COMPLETED, 20)
        said = 'You answered the form: accepted: {"builds": 3, "name": "v2", "notify": true}'
        assert said in rel.body.source
        assert rel.standing.state is State.UNREAD
        assert "accepted: name=v2, builds=3, notify=yes by you" in rel.status_note

        await pilot.press("i", *keys("again"), "enter")  # the same session asks once more
        await until(pilot, lambda: rel.attempt == 2 and rel.question is not None, 20)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ElicitationScreen))
        await pilot.press("tab", "ctrl+u", *keys("11"), "ctrl+s")  # no name, too many builds
        error = str(app.screen.query_one("#elicitation-error", Static).render())
        assert error == "Not sent: Name: required; Builds to keep: 1 to 10"
        assert isinstance(app.screen, ElicitationScreen), "the form stays open"
        assert app.screen.focused is app.screen.query_one("#field-0", Input), "at the first that does not fit"
        await pilot.press(*keys("kept"), "escape")  # back to the pane, undecided
        await until(pilot, lambda: not isinstance(app.screen, ElicitationScreen))
        assert rel.question is not None and rel.standing.state is State.ASKED
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ElicitationScreen))
        assert app.screen.query_one("#field-0", Input).value == "kept", "what was entered is kept"
        await pilot.press("ctrl+n")
        await until(pilot, lambda: rel.attempt == 2 and rel.state is PaneState.COMPLETED, 20)
        assert "You answered the form: declined" in rel.body.source
    assert await no_agent_left(tmp_path)


async def test_an_attempt_nobody_can_answer_declines_the_question(project: Path) -> None:
    """Without anyone to ask (`lfg agents --check`, an attempt run bare) the question is declined at
    once, said in the pane, and the agent hears so."""
    events = await attempt(project, f"elicit:{FAST}")
    assert ending(events).outcome is Outcome.COMPLETED
    notes = [e.message for e in of(events, Status)]
    assert "declined the agent's question: nobody can answer it" in notes
    assert "You answered the form: declined" in text(events)


class FormApp(App[Reply | None]):
    """Only the form, over an empty screen, styled as lfg's app is: what an agent's question shows,
    without an agent."""

    CSS_PATH = str(Path(ui.__file__).parent / LfgApp.CSS_PATH)

    def __init__(self, asked: ElicitationAsked) -> None:
        super().__init__()
        self.asked = asked

    def compose(self) -> ComposeResult:
        yield Static()

    def on_mount(self) -> None:
        self.push_screen(ElicitationScreen("t", self.asked, Services(Providers()), {}), self.exit)


def release_form() -> ElicitationAsked:
    """The question the sim's `elicit` scenario asks, as the run asks it."""
    asked = json.loads(ScenarioLibrary(extra_dirs=()).resolve("elicit").elicit)
    return EventFactory("rel", 1)(
        ElicitationAsked,
        message="m",
        elicitation_id="elicitation-1",
        question=asked["message"],
        form=asked["schema"],
    )


def test_the_form_at_80_by_24(snap_compare: Any) -> None:
    """Every field, the buttons and the keys on one screen of 80 by 24."""

    async def typed(pilot: Pilot[Reply | None]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ElicitationScreen))
        await pilot.press(*keys("v3"), "tab", "ctrl+u", *keys("12"), "ctrl+s")

    assert snap_compare(FormApp(release_form()), terminal_size=SMALL, run_before=typed)


HOSTILE = "\x1b]0;pwned\x07[bold red]x[/] \u202eevil"


async def test_everything_the_agent_sent_is_shown_inert() -> None:
    schema = {
        "title": HOSTILE,
        "description": HOSTILE,
        "required": ["a", HOSTILE],
        "properties": {
            HOSTILE: {"type": "string", "title": HOSTILE, "description": HOSTILE},
            "a": {"type": "string", "enum": [HOSTILE]},
            "b": {"type": "date"},
        },
    }
    asked = EventFactory("t", 1)(
        ElicitationAsked, message="m", elicitation_id="elicitation-1", question=HOSTILE, form=schema
    )
    app = FormApp(asked)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ElicitationScreen))
        shown = "\n".join(str(static.render()) for static in app.screen.query(Static))
        assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
        assert "␛]0;pwned␇[bold red]x[/]" in shown, "markup shown as the text it is"
        assert "lfg cannot fill it in: type 'date'" in shown
        assert not app.screen.query_one("#accept", Button).disabled, (
            "b is optional: a and the other can be filled"
        )
        await pilot.press("ctrl+s")
        error = str(app.screen.query_one("#elicitation-error", Static).render())
        assert error.startswith("Not sent: ␛]0;pwned␇[bold red]x[/]") and "a: required" in error
        await pilot.press("ctrl+n")
    assert app.return_value == Reply("decline")
