"""`lfg worktrees list` and `clean`, on real git repositories in temporary folders."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lfgtui.commands.subcommands import Subcommands
from lfgtui.commands.worktrees import add_worktree_commands, run_worktree_command
from lfgtui.worktrees.tree import WORKTREES_ENV, create_worktree
from tests.support.git import ESCAPE, isolate_git, worktree_repo


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return worktree_repo(tmp_path / "repo")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "worktrees"
    monkeypatch.setenv(WORKTREES_ENV, str(folder))
    return folder


def command(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_worktree_commands(parser.add_subparsers(dest="command", action=Subcommands))
    return parser.parse_args(argv)


@pytest.fixture
def evil_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A root whose name would set the terminal's title if printed raw."""
    folder = tmp_path / f"worktrees{ESCAPE}"
    monkeypatch.setenv(WORKTREES_ENV, str(folder))
    return folder


def test_the_cli_lists_and_cleans_with_every_outside_string_inert(
    repo: Path, evil_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = asyncio.run(create_worktree(repo, "run1", "t", evil_root))
    (tree.path / f"evil{ESCAPE}.txt").write_text("1\n2\n")
    assert run_worktree_command(command("worktrees", "list")) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    header, row = out.splitlines()
    assert header.split() == ["run", "ticket", "branch", "commits", "diff", "files", "dirty", "path"]
    assert row.split()[:7] == ["run1", "t", "lfg/run1/t", "0", "+2", "\u22120", "1"]
    assert row.endswith("worktrees\u241b]0;pwned\u2407/run1/t")

    assert run_worktree_command(command("worktrees", "list", "--json", "--run", "run1")) == 0
    out = capsys.readouterr().out
    [record] = json.loads(out)
    assert record["path"] == str(tree.path) and record["dirty"] is True and record["added"] == 2
    assert "\x1b" not in out

    assert run_worktree_command(command("worktrees", "clean", "--run", "run1")) == 1
    out = capsys.readouterr().out
    assert out.startswith("kept ") and "uncommitted" in out and "\x1b" not in out
    assert run_worktree_command(command("worktrees", "clean", "--ticket", "other")) == 0
    assert "no worktrees to clean" in capsys.readouterr().out
    assert tree.path.exists()
    assert run_worktree_command(command("worktrees", "clean", "--ticket", "t", "--force")) == 0
    out = capsys.readouterr().out
    assert out.startswith("removed ") and "\x1b" not in out
    assert not tree.path.exists()


def test_the_cli_shows_problems_under_the_table(
    repo: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = asyncio.run(create_worktree(repo, "run1", "t", root))
    shutil.rmtree(tree.path)
    assert run_worktree_command(command("worktrees", "list")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:7] == ["run1", "t", "lfg/run1/t", "0", "-", "-", "gone"]
    assert lines[2].startswith("run1/t: its folder was deleted by hand")


def test_the_cli_module_imports_only_the_standard_library_at_first() -> None:
    code = "import sys, lfgtui.commands.worktrees\n"
    code += "print(sorted(m for m in sys.modules if m.startswith('lfgtui')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    commands = [f"lfgtui.commands{name}" for name in ("", ".common", ".subcommands", ".worktrees")]
    assert done.stdout.strip() == str(["lfgtui", *commands])
