"""A git repository in a tmp folder, and git run in it, isolated from the user's git."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ESCAPE = "\x1b]0;pwned\x07"
"""An OSC sequence that would set the terminal's title if it reached it raw."""


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def repository(folder: Path) -> Path:
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", "Test")
    git(folder, "config", "user.email", "test@example.com")
    (folder / "README.md").write_text("# Project\n")
    git(folder, "add", "README.md")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def commit_all(cwd: Path, message: str) -> str:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD")


def isolate_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No git above tmp_path is found, and no user config changes what git does here."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def worktree_repo(folder: Path) -> Path:
    """A repository with a sub folder, files to change and delete, and an ignore rule."""
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", "Test")
    git(folder, "config", "user.email", "test@example.com")
    (folder / "sub").mkdir()
    (folder / "sub" / "code.py").write_text("one\ntwo\nthree\n")
    (folder / "change.txt").write_text("a\nb\nc\n")
    (folder / "delete.txt").write_text("gone\nsoon\n")
    (folder / ".gitignore").write_text("*.log\n")
    commit_all(folder, "start")
    return folder


def gh_recorder(folder: Path, logged_in: bool = True) -> Path:
    """A `gh` that records its arguments (one JSON list a line) and answers as gh would."""
    folder.mkdir()
    log = folder / "gh.log"
    script = folder / "gh"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as log:\n"
        "    log.write(json.dumps([os.getcwd(), *sys.argv[1:]]) + '\\n')\n"
        "if sys.argv[1:3] == ['auth', 'status']:\n"
        f"    sys.exit({0 if logged_in else 1})\n"
        "print('https://github.com/example/project/pull/7')\n"
    )
    script.chmod(0o755)
    return log
