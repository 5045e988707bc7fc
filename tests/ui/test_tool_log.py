"""What a pane asks before a risky tool runs: everything the user must see to decide, nothing cut."""

from __future__ import annotations

from lfgtui.ui.tool_log import APPROVAL_ARGS, approval_question


def ask(name: str, **arguments: object) -> str:
    return approval_question(name, arguments, "y", "n", "t").plain


def test_a_command_is_shown_whole_however_long() -> None:
    command = "make build && " * 30 + "rm -rf ./dist"
    assert ask("run_command", command=command) == f"approve run_command {command}?  y = yes, n = no"
    assert ask("run_command", command="sleep 5", timeout_s=2) == (
        "approve run_command sleep 5 (timeout 2s)?  y = yes, n = no"
    )


def test_a_file_write_names_the_path_and_its_size_not_the_content() -> None:
    question = ask("write_file", path="notes/é.md", content="# Title\n\nbody é\n")
    assert question == "approve write_file notes/é.md (17 bytes, 3 lines; t shows it)?  y = yes, n = no"


def test_other_arguments_say_how_much_is_not_shown() -> None:
    question = ask("deploy", target="x" * 400)
    assert question.startswith('approve deploy {"target": "xxx')
    hidden = len('{"target": "' + "x" * 400 + '"}') - APPROVAL_ARGS
    assert question.endswith(f"… ({hidden} more characters; t shows them)?  y = yes, n = no")


def test_the_keys_offered_are_the_ones_given() -> None:
    question = approval_question("run_command", {"command": "ls"}, "ctrl+y", "ctrl+n", "T").plain
    assert question.endswith("?  ctrl+y = yes, ctrl+n = no")
