"""Subcommands: every command is listed in help, and only a chosen one gets its arguments added."""

from __future__ import annotations

import argparse

import pytest

from lfgtui.commands.subcommands import Subcommands


def parser_adding(added: list[str]) -> argparse.ArgumentParser:
    """`x a|b`, each command with its own option, writing down which command's arguments were added."""
    parser = argparse.ArgumentParser(prog="x")
    commands = parser.add_subparsers(dest="command", required=True, action=Subcommands)
    for name in ("a", "b"):

        def add(command: argparse.ArgumentParser, name: str = name) -> None:
            added.append(name)
            command.add_argument(f"--{name}-option")

        commands.add_command(name, f"the {name} command", add)
    commands.add_command("c", "a command without arguments")
    return parser


def test_only_the_chosen_command_gets_its_arguments() -> None:
    added: list[str] = []
    args = parser_adding(added).parse_args(["b", "--b-option", "1"])
    assert (args.command, args.b_option, added) == ("b", "1", ["b"])
    assert parser_adding(added).parse_args(["c"]).command == "c" and added == ["b"]


def test_help_lists_every_command_and_adds_no_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    added: list[str] = []
    with pytest.raises(SystemExit):
        parser_adding(added).parse_args(["--help"])
    shown = capsys.readouterr().out
    assert all(f"the {name} command" in shown for name in "ab") and added == []


def test_a_command_of_the_wrong_name_or_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    added: list[str] = []
    with pytest.raises(SystemExit) as bad_name:
        parser_adding(added).parse_args(["d"])
    assert "invalid choice: 'd' (choose from 'a', 'b', 'c')" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_option:
        parser_adding(added).parse_args(["a", "--b-option", "1"])
    assert "unrecognized arguments: --b-option 1" in capsys.readouterr().err
    assert bad_name.value.code == bad_option.value.code == 2 and added == ["a"]
