"""The real app through Pilot, streaming from the sim server: every key of the run screen."""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path

import pytest
from rich.table import Table
from textual.css.styles import RulesMap
from textual.geometry import Region
from textual.visual import RichVisual
from textual.widgets import Collapsible, Static

from lfgtui.events import Event, Outcome, TextDelta
from lfgtui.sim.server import SimServer
from lfgtui.ui.screens.modals import ApprovalScreen, ConfirmScreen, HelpScreen
from lfgtui.ui.screens.run import RunScreen
from lfgtui.ui.widgets.pane import PaneState
from lfgtui.ui.widgets.tool_log import ToolState
from tests.support.app import SIZE, make_app, pane, tickets, until
from tests.support.compose import first_run
from tests.support.streams import write_scenario

TWO = '[[ticket]]\nid = "long"\nprompt = "x"\nmodel = "long-answer:repeat=40,tokens_per_s=200"\n\n'
TWO += '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'


async def test_panes_stream_and_finish(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: pane(app, "hi").state is PaneState.COMPLETED)
        hi = pane(app, "hi")
        assert hi.body.source.startswith("Hello! I am the **lfg simulator**")
        await until(pilot, lambda: str(hi.header.text).startswith("✓ "))
        assert str(hi.header.text) == "✓ hi unread  sim/hello", "an untitled ticket shows its id once"
        await until(pilot, lambda: "1 completed" in str(app.controller.screen.summary.render()))
        summary = str(app.controller.screen.summary.render())
        await pilot.pause(0.3)
        assert str(app.controller.screen.summary.render()) == summary, "a finished run's elapsed time stops"
        assert gc.get_freeze_count() > 0, "the GC pacer froze what lives while it streamed"
    assert gc.get_freeze_count() == 0, "nothing stays frozen after the app"


async def test_a_fresh_run_starts_before_its_screen_is_up_and_shows_all_it_said_meanwhile(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 33: the first request does not wait on the UI composing and mounting its screen (it
    did: the run started in the screen's mount); what the run says meanwhile is held, then shown."""
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'))
    screen = app.controllers[0].screen
    mounted: list[bool] = []
    first_run(app).sinks.append(lambda event: mounted.append(screen.is_mounted))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: pane(app, "hi").state is PaneState.COMPLETED)
        assert pane(app, "hi").body.source.startswith("Hello! I am the **lfg simulator**")
    assert mounted[0] is False, "the ticket started before its screen was mounted"


async def test_a_pane_mounts_its_thinking_and_tool_log_only_once_it_has_some(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 33: 64 panes mount while their first tokens arrive; a pane that never thinks or calls a
    tool mounts none of those widgets, and one that does shows them in their place."""
    toml = '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n\n'
    toml += '[[ticket]]\nid = "r"\nprompt = "x"\nmodel = "reasoning"\n\n'
    toml += '[[ticket]]\nid = "w"\nprompt = "x"\nmodel = "writer"\ntools = ["write_file"]\n'
    app = make_app(sim, tickets(tmp_path, toml), yes=True)
    async with app.run_test(size=SIZE) as pilot:
        hi, r, w = (pane(app, ticket) for ticket in ("hi", "r", "w"))
        await until(pilot, lambda: hi.finished and r.finished and w.finished, timeout=30)
        await until(pilot, lambda: not any(p.needs_frame for p in (hi, r, w)))
        assert not hi.shown.query(Collapsible), "no thinking, no tool log, no agent details"
        view = r.shown
        assert list(view.children)[:3] == [view.header, view.thinking, view.body]
        assert view.thinking.display and not view.tools.is_attached
        log = w.shown.tools
        await until(pilot, lambda: log.display and len(log.rows) == len(w.tools.rows) > 0)
        assert list(w.shown.children).index(log) > list(w.shown.children).index(w.shown.body)


async def test_a_finished_pane_costs_no_frame_and_its_thinking_shows_when_unfolded(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "r"\nprompt = "x"\nmodel = "reasoning"\n'))
    async with app.run_test(size=SIZE) as pilot:
        r = pane(app, "r")
        await until(pilot, lambda: r.state is PaneState.COMPLETED)
        await until(pilot, lambda: not r.needs_frame)  # the folded thinking waits, undrawn, for a look
        view = r.shown
        assert view.thinking.display and view.thinking.collapsed
        view.thinking.collapsed = False
        await until(pilot, lambda: any(strip.text.strip() for strip in view.reasoning.lines))
        drawn = " ".join(strip.text.strip() for strip in view.reasoning.lines)
        assert drawn.split() == r.reasoning.source.split()


async def test_each_model_calls_thinking_starts_a_paragraph_of_its_own(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    """Reasoning of two model calls (a tool call between them) is not glued into one sentence."""
    model = write_scenario(
        scenario_dir,
        "two-thoughts",
        '[[call]]\nreasoning = "First I list the folder."\n'
        '[[call.tool_call]]\nname = "list_files"\narguments = { path = "." }\n'
        '[[call]]\nreasoning = "There is one file."\ntext = "done"\n',
    )
    app = make_app(sim, tickets(tmp_path, f'[[ticket]]\nid = "r"\nprompt = "x"\nmodel = "{model}"\n'))
    async with app.run_test(size=SIZE) as pilot:
        r = pane(app, "r")
        await until(pilot, lambda: r.state is PaneState.COMPLETED)
        assert r.reasoning.source == "First I list the folder.\n\nThere is one file."


async def test_tab_and_arrows_move_between_panes(sim: SimServer, tmp_path: Path) -> None:
    toml = "".join(f'[[ticket]]\nid = "t{i}"\nprompt = "x"\nmodel = "hello"\n\n' for i in range(4))
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.controller.screen
        assert screen.focused_pane is pane(app, "t0")
        await pilot.press("tab")
        assert screen.focused_pane is pane(app, "t1")
        await pilot.press("shift+tab", "shift+tab")
        assert screen.focused_pane is pane(app, "t3")
        await pilot.press("right")
        assert screen.focused_pane is pane(app, "t0")
        await pilot.press("down")
        assert screen.focused_pane is pane(app, "t2"), "two columns fit in 120 cells: down moves a row"
        await pilot.press("up", "left")
        assert screen.focused_pane is pane(app, "t3")


async def test_cancel_mid_stream_then_retry_in_the_same_pane(sim: SimServer, tmp_path: Path) -> None:
    events: list[Event] = []
    app = make_app(sim, tickets(tmp_path, TWO), sinks=[events.append])
    async with app.run_test(size=SIZE) as pilot:
        long = pane(app, "long")
        await until(pilot, lambda: len(long.body.source) > 20)
        await pilot.press("c")
        await until(pilot, lambda: long.state is PaneState.CANCELLED)
        assert long.body.source, "the partial answer stays in the pane"
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert screen.focused_pane is long and not screen.applies("follow_up"), (
            "issue 73: the footer offered `i Follow up` on a cancelled pane; only a completed ticket has one"
        )
        await until(pilot, lambda: sim.log[0].disconnected_at is not None)  # the sim hears it after the pane
        await pilot.press("r")
        await until(pilot, lambda: long.attempt == 2 and len(long.body.source) > 0)
        assert first_run(app).states["long"].attempt == 2
        await pilot.press("c")
        await until(pilot, lambda: long.state is PaneState.CANCELLED)
        second = "".join(
            e.text for e in events if isinstance(e, TextDelta) and e.attempt == 2 and e.ticket == "long"
        )
        assert long.body.source == second, "a retry starts the pane afresh with the new attempt's text"
        assert any(isinstance(e, TextDelta) and e.attempt == 1 for e in events), "attempt 1 was streamed too"


async def test_c_on_a_ticket_that_has_ended_says_why_nothing_happened(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: pane(app, "hi").state is PaneState.COMPLETED)
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.applies("follow_up"), "a completed ticket's follow-up"
        await pilot.press("c")
        await until(pilot, lambda: any("Nothing to cancel" in n.message for n in app._notifications))
        (said,) = [n.message for n in app._notifications if "Nothing to cancel" in n.message]
        assert (
            said == "Nothing to cancel: this ticket is not running (only a running ticket can be cancelled)."
        )
        assert pane(app, "hi").state is PaneState.COMPLETED


async def test_cancel_all_asks_first(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, TWO.replace('model = "hello"', 'model = "long-answer:repeat=40"')))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all(p.state is PaneState.RUNNING for p in app.controller.panes.values()))
        await pilot.press("C")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert all(p.running for p in app.controller.panes.values())
        await pilot.press("C")
        await pilot.press("y")
        await until(pilot, lambda: all(p.state is PaneState.CANCELLED for p in app.controller.panes.values()))


async def test_zoom_shows_one_pane_and_back(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, TWO))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "z")
        await pilot.pause()
        assert app.controller.screen.zoomed is pane(app, "hi")
        assert not pane(app, "long").on_screen
        assert pane(app, "hi").shown.size.width > SIZE[0] - 6
        await pilot.press("z")
        await pilot.pause()
        assert app.controller.screen.zoomed is None
        assert pane(app, "long").on_screen


async def test_tool_log_toggles_and_approvals_are_asked(sim: SimServer, tmp_path: Path) -> None:
    toml = '[[ticket]]\nid = "w"\nprompt = "x"\nmodel = "writer"\ntools = ["write_file", "run_command"]\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        w = pane(app, "w")
        await until(pilot, lambda: w.state is PaneState.APPROVAL)
        assert w.tools.rows and next(iter(w.tools.rows.values())).state is ToolState.WAITING
        assert str(w.tools.title) == "tools (2) · approval needed"
        notice = "approve write_file notes/summary.md (47 bytes, 3 lines):\n# Summary\n"
        notice += "… 2 more lines: y = see it all, n = no"
        await until(pilot, lambda: str(w.notice.render()) == notice)
        assert w.tools.collapsed
        await pilot.press("t")
        assert not w.tools.collapsed
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        assert "Written by the lfg writer scenario." in app.screen.request.plain
        assert w.state is PaneState.APPROVAL, "opening the whole request approves nothing"
        await pilot.press("y")
        await until(pilot, lambda: w.state is PaneState.APPROVAL and len(w.tools.rows) == 2)
        await pilot.press("n")
        await until(pilot, lambda: w.state is PaneState.COMPLETED)
        write, command = w.tools.rows.values()
        assert write.state is ToolState.OK
        assert command.state is ToolState.DENIED
        assert str(w.tools.title) == "tools (2, 1 denied)", "a denied call is not counted as failed"
        assert (tmp_path / "notes" / "summary.md").exists()
        await pilot.press("t")
        assert w.tools.collapsed


async def test_a_cancelled_pane_no_longer_says_approval_needed(sim: SimServer, tmp_path: Path) -> None:
    """Issue 73: cancelled while its write waited for approval, the pane's tool log still said
    `approval needed`, the write `waiting for approval` and the command after it `running`, though
    nothing could answer or run them any more."""
    toml = '[[ticket]]\nid = "w"\nprompt = "x"\nmodel = "writer"\ntools = ["write_file", "run_command"]\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        w = pane(app, "w")
        await until(pilot, lambda: w.state is PaneState.APPROVAL)
        await pilot.press("c")
        await until(pilot, lambda: w.state is PaneState.CANCELLED)
        write, command = w.tools.rows.values()
        assert write.state is ToolState.UNANSWERED and "not approved: the turn ended" in str(write.heading())
        assert command.state is ToolState.STOPPED, "it was never run"
        assert str(w.tools.title) == "tools (2, 1 unanswered, 1 stopped)"


def hidden_parts(scenario_dir: Path, command: str, content: str) -> str:
    """A scenario whose model asks for `run_command` and then `write_file`, with the given values."""
    return write_scenario(
        scenario_dir,
        "hidden-parts",
        '[[call]]\n[[call.tool_call]]\nname = "run_command"\n'
        f"arguments = {{ command = {json.dumps(command)} }}\n"
        '[[call.tool_call]]\nname = "write_file"\n'
        f'arguments = {{ path = "long.txt", content = {json.dumps(content)} }}\n'
        '[[call]]\ntext = "done"\n',
    )


async def test_a_request_longer_than_its_notice_is_approved_only_once_seen_whole(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "hidden-ran"
    content = "".join(f"line {n}\n" for n in range(200))
    model = hidden_parts(scenario_dir, f"ls -la\n\n\n\ntouch {marker}", content)
    toml = f'[[ticket]]\nid = "h"\nprompt = "x"\nmodel = "{model}"\ntools = ["write_file", "run_command"]\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=(60, 24)) as pilot:
        h = pane(app, "h")
        await until(pilot, lambda: h.state is PaneState.APPROVAL)
        await until(pilot, lambda: "more lines: y = see it all" in str(h.notice.render()))
        assert str(h.notice.render()).startswith("approve run_command ls -la⏎\n⏎")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        assert f"⏎\ntouch {marker}" in app.screen.request.plain
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ApprovalScreen))
        assert h.state is PaneState.APPROVAL and not marker.exists(), "escape decides nothing"
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("y")
        await until(pilot, lambda: marker.exists())

        await until(pilot, lambda: "long.txt" in str(h.notice.render()))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, ApprovalScreen), "y is refused while the end is off-screen"
        assert h.state is PaneState.APPROVAL and not (tmp_path / "long.txt").exists()
        await pilot.press("end")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: h.state is PaneState.COMPLETED)
        assert (tmp_path / "long.txt").read_text() == content


async def test_an_open_approval_that_nothing_changes_lays_the_screen_out_no_more(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 77: the approval's choices line, looked at ten times a second, was set again each time,
    the same words or not: each a layout of the whole screen while the approval stayed open."""
    model = hidden_parts(scenario_dir, "\n".join(f"echo {n}" for n in range(100)), "x")
    toml = f'[[ticket]]\nid = "h"\nprompt = "x"\nmodel = "{model}"\ntools = ["write_file", "run_command"]\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=(60, 24)) as pilot:
        h = pane(app, "h")
        await until(pilot, lambda: "more lines: y = see it all" in str(h.notice.render()))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.placed)
        screen = app.screen
        choices = screen.query_one("#approval-choices", Static)
        await pilot.pause()
        looks: list[bool] = []
        all_seen = ApprovalScreen.all_seen.fget
        monkeypatch.setattr(
            ApprovalScreen, "all_seen", property(lambda s: looks.append(all_seen(s)) or looks[-1])
        )
        layouts: list[object] = []
        refresh_layout = screen._refresh_layout
        screen._refresh_layout = lambda *args, **kwargs: (  # type: ignore[method-assign]
            layouts.append(args) or refresh_layout(*args, **kwargs)
        )
        await until(pilot, lambda: len(looks) >= 5)
        assert not layouts, f"{len(layouts)} layouts in {len(looks)} looks at an unchanged request"
        assert str(choices.render()).startswith("more below: end or page down")
        await pilot.press("end")
        await until(pilot, lambda: str(choices.render()).startswith("y = approve"))
        assert layouts, "changed choices are shown (a layout)"


async def test_attention_jumps_to_failed_and_waiting_panes(sim: SimServer, tmp_path: Path) -> None:
    toml = '[[ticket]]\nid = "ok"\nprompt = "x"\nmodel = "hello"\n\n'
    toml += '[[ticket]]\nid = "bad"\nprompt = "x"\nmodel = "fault-401"\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: pane(app, "bad").state is PaneState.FAILED)
        assert app.controller.screen.focused_pane is pane(app, "ok")
        await pilot.press("a")
        assert app.controller.screen.focused_pane is pane(app, "bad")
        await until(pilot, lambda: "HTTP 401" in str(pane(app, "bad").notice.render()))
        notice = str(pane(app, "bad").notice.render())
        assert "HTTP 401" in notice and "Incorrect API key" in notice


async def test_help_lists_every_binding_with_its_id(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {row[2] for row in app.screen.rows}
        assert {"pane.cancel", "pane.retry", "run.cancel_all", "pane.zoom", "pane.tools"} <= ids
        assert {"pane.approve", "pane.deny", "run.attention", "app.quit", "app.help", "pane.next"} <= ids
        assert {"pane.page_up", "pane.page_down", "pane.top", "pane.bottom"} <= ids
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_help_measures_its_key_table_once_at_each_width(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 77: the help's scroll measures its table at two widths on each layout (with and without
    its scrollbar's gutter) and Textual kept one width's height, forgotten at every repaint besides:
    each layout of the help rendered its whole table twice just to measure it."""
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        await pilot.pause()
        measured: list[int] = []
        get_height = RichVisual.get_height

        def measure(visual: RichVisual, styles: RulesMap, width: int) -> int:
            if isinstance(visual._renderable, Table):
                measured.append(width)
            return get_height(visual, styles, width)

        monkeypatch.setattr(RichVisual, "get_height", measure)
        layouts: list[object] = []
        refresh_layout = screen._refresh_layout
        screen._refresh_layout = lambda *args, **kwargs: (  # type: ignore[method-assign]
            layouts.append(args) or refresh_layout(*args, **kwargs)
        )
        keys = screen.query_one("#help-keys")
        keys.styles.max_height = keys.outer_size.height - 1  # as its fit to a shorter screen does
        await until(pilot, lambda: bool(layouts) and keys.outer_size.height == keys.styles.max_height.value)
        assert not measured, f"measured again at {measured}"


async def test_a_served_runs_address_and_token_stay_in_help_whole(sim: SimServer, tmp_path: Path) -> None:
    """They were only in a 30 s toast, too narrow for the token: it wrapped mid-token."""
    token = "tok_" + "x" * 40
    served = f"lfg attach http://127.0.0.1:8700 --token {token}, or open its inbox in a browser: "
    served += f"http://127.0.0.1:8700/inbox#token={token}"
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'))
    app.served = served
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("? shows how to watch it" in n.message for n in app._notifications))
        assert not any(token in n.message for n in app._notifications), "no toast cuts the token"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        shown = app.screen.query_one("#help-served", Static)
        lines = [strip.text for strip in shown.render_lines(Region(0, 0, *shown.size))]
        assert sum(line.count(token) for line in lines) == 2, "each whole on its line"
        assert " ".join(line.strip() for line in lines) == f"served: {served}"


async def test_page_keys_scroll_the_focused_answer_and_end_follows_again(
    sim: SimServer, tmp_path: Path
) -> None:
    toml = '[[ticket]]\nid = "long"\nprompt = "x"\nmodel = "long-answer:repeat=60,tokens_per_s=400"\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        body = pane(app, "long").shown.body
        await until(pilot, lambda: body.max_scroll_y > 2 * body.size.height)
        await pilot.press("home")
        assert body.scroll_offset.y == 0
        await pilot.press("pagedown")
        assert body.scroll_offset.y == body.size.height
        grown = len(body.source)
        await until(pilot, lambda: len(body.source) > grown + 500)
        await pilot.pause(0.1)
        assert body.scroll_offset.y == body.size.height, "scrolled up, it does not follow"
        await pilot.press("pageup")
        assert body.scroll_offset.y == 0
        await pilot.press("end")
        assert body.scroll_offset.y == body.max_scroll_y
        grown = len(body.source)
        await until(pilot, lambda: len(body.source) > grown + 500)
        await until(pilot, lambda: body.scroll_offset.y == body.max_scroll_y)  # at the end, it follows again


async def test_keymap_rebinds_by_id(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, TWO), keymap={"pane.cancel": "x"})
    async with app.run_test(size=SIZE) as pilot:
        long = pane(app, "long")
        await until(pilot, lambda: len(long.body.source) > 0)
        await pilot.press("c")
        await pilot.pause(0.2)
        assert long.running, "c no longer cancels"
        await pilot.press("x")
        await until(pilot, lambda: long.state is PaneState.CANCELLED)


async def test_quit_asks_while_tickets_run_and_cancels_them(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, TWO))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: pane(app, "long").running)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == 1
    assert first_run(app).states["long"].outcome is Outcome.CANCELLED


@pytest.mark.parametrize("theme", ["dark", "light"])
async def test_themes_load_by_name(sim: SimServer, tmp_path: Path, theme: str) -> None:
    app = make_app(
        sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'), theme=theme
    )
    async with app.run_test(size=SIZE):
        assert app.theme == theme
        assert app.current_theme.dark is (theme == "dark")


async def test_the_summary_bar_shows_what_each_provider_has_left_and_when_it_resets(
    sim: SimServer, tmp_path: Path
) -> None:
    model = "hello:ttft_ms=1,ratelimit_requests=500,ratelimit_tokens=90000,ratelimit_window_ms=360000"
    app = make_app(sim, tickets(tmp_path, f'[[ticket]]\nid = "q"\nprompt = "x"\nmodel = "{model}"\n'))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "1 completed" in str(app.controller.screen.summary.render()))
        await until(pilot, lambda: "sim 499/500 req" in str(app.controller.screen.summary.render()))
        shown = str(app.controller.screen.summary.render())
        quota = shown[shown.index("sim 499/500 req") :]
        assert re.fullmatch(r"sim 499/500 req ↻[56]m\d\ds · 89,\d\d\d/90,000 tok ↻[56]m\d\ds", quota), quota


async def test_the_thinking_and_each_tool_row_open_and_close_from_the_keyboard(
    sim: SimServer, tmp_path: Path
) -> None:
    toml = '[[ticket]]\nid = "r"\nprompt = "x"\nmodel = "reasoning"\n\n'
    toml += '[[ticket]]\nid = "w"\nprompt = "x"\nmodel = "writer"\ntools = ["write_file", "run_command"]\n'
    app = make_app(sim, tickets(tmp_path, toml), yes=True)
    async with app.run_test(size=SIZE) as pilot:
        r, w = pane(app, "r"), pane(app, "w")
        await until(pilot, lambda: r.finished and w.finished and len(w.tools.rows) == 2)
        await until(pilot, lambda: r.shown.thinking.display)
        assert r.shown.thinking.collapsed
        await pilot.press("T")
        assert not r.shown.thinking.collapsed and not r.thinking_collapsed
        await until(pilot, lambda: any(strip.text.strip() for strip in r.shown.reasoning.lines))
        await pilot.press("T")
        assert r.shown.thinking.collapsed

        await pilot.press("tab")
        log = w.shown.tools
        first, second = log.rows.values()
        await pilot.press("right_square_bracket")
        assert not log.collapsed and not first.collapsed and second.collapsed, "the log opens on the first"
        await pilot.press("right_square_bracket")
        assert first.collapsed and not second.collapsed
        await pilot.press("right_square_bracket")
        assert first.collapsed and second.collapsed and not log.collapsed, "past the last: none open"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = {ident: keys for keys, _, ident in app.screen.rows}
        assert (shown["pane.thinking"], shown["pane.tool_row"], shown["pane.compare"]) == ("T", "]", "=")
        assert shown["app.help"] == "?" and "question_mark" not in str(app.screen.rows)


async def test_the_palette_offers_lfgs_keys_themes_and_tickets_not_textuals_themes(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(sim, tickets(tmp_path, TWO))
    async with app.run_test(size=SIZE):
        screen = app.controller.screen
        titles = {command.title: command for command in app.get_system_commands(screen)}
        assert {"Cancel", "Retry", "Zoom", "Tools", "Thinking", "History", "Help", "Quit"} <= set(titles)
        assert "Re-run" not in titles, "a live run cannot re-run: the palette leaves it out as help does"
        assert {t for t in titles if t.startswith("Theme")} == {"Theme: dark", "Theme: light"}
        assert titles["Cancel"].help == "c: cancel the focused ticket"
        await titles["Go to hi"].callback()  # type: ignore[misc]
        assert screen.focused_pane is pane(app, "hi")
        titles["Theme: light"].callback()
        assert app.theme == "light"
