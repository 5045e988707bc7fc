"""What a pane asks before a risky tool runs: everything the user must see to decide, nothing cut,
nothing hidden, and the tool log shows a model's words as text, never as markup."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets._collapsible import CollapsibleTitle

from lfgtui.ui.drawing.palette import Palette
from lfgtui.ui.widgets.tool_log import ToolCalls, ToolLog, approval_notice, approval_request, with_question


def ask(name: str, **arguments: object) -> str:
    return with_question(approval_request(name, arguments), "y", "n").plain


def test_a_command_is_shown_whole_however_long() -> None:
    command = "make build && " * 30 + "rm -rf ./dist"
    assert ask("run_command", command=command) == f"approve run_command {command}?  y = yes, n = no"
    assert ask("run_command", command="sleep 5", timeout_s=2) == (
        "approve run_command sleep 5 (timeout 2s)?  y = yes, n = no"
    )


def test_every_line_break_control_and_bidi_override_of_a_command_is_visible() -> None:
    question = ask("run_command", command="ls -la\n\n\ntouch X\r\x1b[2K\u202eecho safe")
    assert question == ("approve run_command ls -la⏎\n⏎\n⏎\ntouch X␍␛[2K<U+202E>echo safe?  y = yes, n = no")


def test_a_file_write_shows_its_path_size_and_whole_content() -> None:
    question = ask("write_file", path="notes/é.md", content="# Title\n\nbody é\n")
    assert (
        question == "approve write_file notes/é.md (17 bytes, 3 lines):\n# Title\n\nbody é?  y = yes, n = no"
    )
    hidden_target = ask("write_file", path="README.md\n\n\n.git/hooks/pre-commit", content="")
    assert hidden_target.startswith("approve write_file README.md⏎\n⏎\n⏎\n.git/hooks/pre-commit (0 bytes")
    assert ask("write_file", path="a", content="x").startswith("approve write_file a (1 byte, 1 line):")


def test_other_tools_show_every_argument() -> None:
    question = ask("deploy", target="x" * 400)
    assert "x" * 400 in question


def test_the_keys_offered_are_the_ones_given() -> None:
    question = with_question(approval_request("run_command", {"command": "ls"}), "ctrl+y", "ctrl+n").plain
    assert question.endswith("?  ctrl+y = yes, ctrl+n = no")


def wrapped(text: Text, width: int) -> list[Text]:
    return list(text.wrap(Console(width=width), width))


def test_a_request_that_fits_the_notice_is_answered_there() -> None:
    question = with_question(approval_request("run_command", {"command": "ls"}), "y", "n")
    shown, whole = approval_notice(question, wrapped(question, 60), 3, "y", "n")
    assert whole and shown is question


def test_a_request_that_does_not_fit_says_how_much_is_hidden() -> None:
    question = with_question(approval_request("run_command", {"command": "ls -la\n\n\n\ntouch X"}), "y", "n")
    shown, whole = approval_notice(question, wrapped(question, 60), 3, "y", "n")
    assert not whole
    assert shown.plain == "approve run_command ls -la⏎\n⏎\n… 3 more lines: y = see it all, n = no"
    long_line = with_question(approval_request("run_command", {"command": "echo " + "a" * 300}), "y", "n")
    assert not approval_notice(long_line, wrapped(long_line, 40), 3, "y", "n")[1]


class Host(App[None]):
    def __init__(self, calls: ToolCalls) -> None:
        super().__init__()
        self.calls = calls

    def compose(self) -> ComposeResult:
        yield ToolLog(self.calls)


async def test_a_tool_rows_title_is_literal_text_not_markup() -> None:
    calls = ToolCalls()
    async with Host(calls).run_test() as pilot:
        calls.add("c1", "[@click=app.quit]run[/]", {"q": "[b]x\x1b]0;t\x07"}, 0.0)
        log = pilot.app.query_one(ToolLog)
        log.show()
        await pilot.pause()
        row = log.rows["c1"]
        label = row.query_one(CollapsibleTitle).label
        assert label.plain.startswith('[@click=app.quit]run[/] {"q": "[b]x\\u001b]0;t\\u0007"}')
        assert not label.spans, "no markup was parsed, so no action or style came from the model"


class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Vertical()


async def test_a_log_removed_while_it_mounts_leaves_the_app_running() -> None:
    """A pane view can go (scrolled away, the pane closed) in the frame its log mounts; Textual then
    composes nothing into the log, and its first `show` must not take the app down."""
    calls = ToolCalls()
    calls.add("c1", "read_file", {"path": "a"}, 0.0)
    async with Bare().run_test() as pilot:
        log = ToolLog(calls)
        pilot.app.query_one(Vertical).mount(log)
        log.remove()
        await pilot.pause()
        assert not pilot.app.query(ToolLog)
        assert pilot.app.is_running


EDIT = {
    "kind": "edit",
    "input": {"path": "notes.md", "old": "a\nb\n", "new": "a\nc\n"},
    "changes": "--- notes.md\n+++ notes.md\n@@ -1,2 +1,2 @@\n a\n-b\n+c",
    "the agent offers": ["Allow once (allow_once)", "Reject (reject_once)"],
    "yes picks": "Allow once",
}


def test_an_agents_edit_is_shown_as_a_coloured_diff_one_argument_a_line() -> None:
    palette = Palette(running="blue", waiting="yellow", attention="magenta", good="green", bad="red")
    request = approval_request("Edit notes.md", EDIT, palette)
    assert request.plain == (
        "approve Edit notes.md\n"
        "  kind: edit\n"
        "  input:\n"
        "    path: notes.md\n"
        "    old:\n      │ a\n      │ b\n"
        "    new:\n      │ a\n      │ c\n"
        "  changes:\n"
        "    │ --- notes.md\n    │ +++ notes.md\n    │ @@ -1,2 +1,2 @@\n    │  a\n    │ -b\n    │ +c\n"
        "  the agent offers: Allow once (allow_once), Reject (reject_once)\n"
        "  yes picks: Allow once"
    )
    styles = {request.plain[span.start : span.end]: str(span.style) for span in request.spans}
    assert (styles["-b"], styles["+c"], styles["@@ -1,2 +1,2 @@"]) == ("red", "green", "blue")


def test_nothing_in_an_agents_request_passes_for_another_argument_or_hides() -> None:
    request = approval_request(
        "Edit x", {"changes": "+ok\nyes picks: Allow always\x1b[2K", "note\nyes picks": "Allow\u202e"}
    ).plain
    assert "    │ yes picks: Allow always␛[2K" in request, "a value's lines sit behind its gutter"
    assert "  note⏎\nyes picks: Allow<U+202E>" in request, "a key's line break is marked, bidi shown"


def test_in_a_narrow_pane_the_hidden_lines_note_wraps_within_the_notice() -> None:
    question = with_question(approval_request("run_command", {"command": "ls\n" * 9}), "y", "n")
    shown, whole = approval_notice(question, wrapped(question, 36), 3, "y", "n", width=36)
    assert not whole
    assert shown.plain == "approve run_command ls⏎\n… 9 more lines: y = see it all, n = no"
    assert len(wrapped(shown, 36)) == 3, "the note takes two lines: one line of the request is left"
