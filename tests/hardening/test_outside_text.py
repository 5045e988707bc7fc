"""Every field of outside text, through every widget that draws it, is drawn as text: Textual markup
in it (`[/]`, `[@click=app.quit]`, `[link=…]`) is neither parsed nor obeyed, and no escape sequence,
control character or bidi control of it reaches a drawn line.

The pane's fields are enumerated from the code: every event type the pane handles (`PANE`) is made
with *every* `str` in it (its own fields, and those of the dataclasses, tuples and dicts it holds)
set to a hostile text, and handed to a real app's pane as the engine or a recorded run hands it, so
a field added to an event is fed here without anyone listing it. What the pane opens (the approval,
the form) and the screens that draw a run's outside text (verdict, review and diff file lists, land,
compare, an agent's log) are each driven with hostile values too; the fleet view's are in
tests/broker/test_fleet_view.py (it needs redis-server). The notices (`notify`) and confirmations
are checked in the source: one that quotes anything but lfg's own literal words says `markup=False`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.segment import Segment
from textual.geometry import Region
from textual.screen import Screen
from textual.widgets import Collapsible
from textual.widgets._toast import Toast

from lfgtui.contest import FACTS, Verdict
from lfgtui.events import AttemptEnded, AttemptStarted, ElicitationAsked, Event, RunFact
from lfgtui.inert import EXPLICIT_BIDI, SURROGATES
from lfgtui.sim.server import SimServer
from lfgtui.ui.screens.diff import DiffScreen
from lfgtui.ui.screens.elicitation import ElicitationScreen
from lfgtui.ui.screens.land import LandScreen
from lfgtui.ui.screens.modals import AgentLogScreen, ApprovalScreen, CompareScreen, ConfirmScreen
from lfgtui.ui.screens.review import ReviewDesk, ReviewScreen
from lfgtui.ui.screens.verdict import VerdictScreen
from lfgtui.ui.widgets.pane import PANE, PaneState
from lfgtui.ui.widgets.tool_log import approval_request
from lfgtui.worktrees.review import Comment
from tests.support.app import SIZE, make_app, tickets, until
from tests.support.hostile import HOSTILE, LONE_SURROGATES, hostile, hostile_event

TICKET = "t"


def pane_events(text: str) -> list[Event]:
    """One event of every type (each the pane handles or leaves to the rest of the screen, and every
    fact of the run), in an attempt's order: started first, ended last."""
    every = [*PANE.handlers, *PANE.ignored, *FACTS]
    middle = [k for k in every if k not in (AttemptStarted, AttemptEnded, RunFact)]
    kinds = [AttemptStarted, *dict.fromkeys(middle)]
    return [hostile_event(kind, text, seq, TICKET) for seq, kind in enumerate([*kinds, AttemptEnded])]


UNSAFE = {chr(code) for code in [*range(0x20), 0x7F, *range(0x80, 0xA0), *EXPLICIT_BIDI, *SURROGATES]}
"""What no drawn line may hold: a control character, a bidi control that reorders what follows
(the direction marks of right-to-left prose are not: `inert`), or a lone surrogate, which no terminal
can be written."""


def obeyed(segments: list[Segment]) -> list[str]:
    """What a drawn line took from outside text as something other than text: a control character,
    a bidi control, a hyperlink or a click action."""
    found = []
    for segment in segments:
        if bad := sorted({ch for ch in segment.text if ch in UNSAFE}):
            found.append(f"raw {bad!r} in {segment.text!r}")
        style = segment.style
        if style is not None and style.link:
            found.append(f"a hyperlink to {style.link!r}")
        if style is not None and "quit" in str((style.meta or {}).get("@click", "")):
            found.append(f"a click action {style.meta['@click']!r}")
    return found


def drawn(screen: Screen[Any]) -> list[str]:
    """Every line every shown widget of `screen` draws, checked: what each obeyed."""
    problems = []
    for widget in screen.walk_children():
        if not widget.display or not widget.size.area:
            continue
        for strip in widget.render_lines(Region(0, 0, *widget.size)):
            problems += [f"{type(widget).__name__}: {found}" for found in obeyed(list(strip))]
    return problems


def unfold(screen: Screen[Any]) -> None:
    for collapsible in screen.query(Collapsible):
        collapsible.collapsed = False


async def test_every_event_field_the_pane_draws_is_text(sim: SimServer, tmp_path: Path) -> None:
    """Each event with every string in it hostile, handed to the pane as a recorded run hands it
    (`deliver`), the pane drawn and unfolded (its tool rows, sub-agent rows, thinking, agent
    details), then every drawn line checked, after each event: a notice shows one thing at a time.
    Made around the run's boundary (surrogates.py), each still holds its lone surrogates."""
    text = f"{HOSTILE} {LONE_SURROGATES} END"
    path = tickets(tmp_path, f'[[ticket]]\nid = "{TICKET}"\nprompt = "x"\nmodel = "hello:ttft_ms=600000"\n')
    app = make_app(sim, path)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes[TICKET]
        await until(pilot, lambda: pane.state is PaneState.RUNNING)
        problems: list[str] = []
        for frame, event in enumerate(pane_events(text), start=1000):
            app.controller.deliver(event)
            await pilot.pause()
            unfold(app.screen)
            pane.lines_stale = True
            pane.render_frame(time.monotonic(), frame)
            await pilot.pause()
            assert app.is_running, f"{type(event).__name__} ended the app"
            problems += [f"after {type(event).__name__}, {found}" for found in drawn(app.screen)]
        assert not problems, "\n".join(dict.fromkeys(problems))


DIFF = "diff --git a/{0} b/{0}\n--- a/{0}\n+++ b/{0}\n@@ -1,2 +1,2 @@\n a {1}\n-b {1}\n+c {1}\n"


def hostile_screens(text: str, services: Any, workdir: Path) -> dict[str, Callable[[], Screen[Any]]]:
    """Each screen that draws a run's outside text, made with every value of it `text`: the
    approval of a tool call, an agent's form, a tournament's verdict (made from its types, so every
    string in a verdict is hostile), the diff and review file lists, landing, comparing, a log."""
    path = text.replace("/", "|")
    diff = DIFF.format(path, text)
    verdict = hostile(Verdict, text)
    log = workdir / f"agent {path[:40]}.log"
    log.write_text(f"{text}\n" * 3)
    draft = Comment(path=path, line=1, body=text, quote=text)
    desk = ReviewDesk(text, text, None, [draft], lambda prompt: text)
    asked = hostile_event(ElicitationAsked, text, 0, TICKET)
    arguments = {"command": text, "path": text, text: {text: [text]}}
    columns = len(CompareScreen.COLUMNS)
    return {
        "approval": lambda: ApprovalScreen(approval_request(text, arguments), services),
        "approval of a command": lambda: ApprovalScreen(approval_request("run_command", arguments), services),
        "form": lambda: ElicitationScreen(text, asked, services, {}),
        "verdict": lambda: VerdictScreen(verdict),
        "diff": lambda: DiffScreen(text, text, diff),
        "review": lambda: ReviewScreen(text, text, diff, desk),
        "land": lambda: LandScreen(text, text, text, text),
        "compare": lambda: CompareScreen(text, [(text,) * columns]),
        "agent log": lambda: AgentLogScreen(str(log)),
        "confirmation": lambda: ConfirmScreen(f"Land {text}?"),
    }


async def test_every_screen_that_shows_outside_text_draws_it_as_text(sim: SimServer, tmp_path: Path) -> None:
    text = f"{HOSTILE} END"
    path = tickets(tmp_path, f'[[ticket]]\nid = "{TICKET}"\nprompt = "x"\nmodel = "hello:ttft_ms=600000"\n')
    app = make_app(sim, path)
    problems: list[str] = []
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        for name, make in hostile_screens(text, app.services, tmp_path).items():
            await app.push_screen(make())
            await pilot.pause()
            unfold(app.screen)
            await pilot.pause()
            assert app.is_running, f"the {name} screen ended the app"
            problems += [f"{name}: {found}" for found in drawn(app.screen)]
            app.pop_screen()
            await pilot.pause()
        app.screen.notify(f"from a screen: {text}")  # no markup=False: none may forget it
        app.controller.panes[TICKET].shown.notify(f"from a widget: {text}", title=text)
        await until(pilot, lambda: len(app.screen.query(Toast)) == 2)
        await pilot.pause()
        assert app.is_running, "a notice ended the app"
        problems += [f"notice: {found}" for found in drawn(app.screen)]
    assert not problems, "\n".join(dict.fromkeys(problems))
