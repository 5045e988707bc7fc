"""`sandbox_home`: what a sandboxed command reads of the person's home, through a real bubblewrap.

The home is made under /var/tmp: under /tmp the sandbox's private /tmp would hide it whatever the
rule, and the test would prove nothing."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lfgtui.run.agents.agent_state import seeded
from lfgtui.tools.sandbox import Sandbox, _probe, sandbox_of
from lfgtui.tools.sandbox_home import SECRETS, home_view
from tests.support.box import USERS, as_user
from tests.support.git import git, repository
from tests.support.patience import PATIENCE
from tests.support.recording import ticket

SECRET = "SECRET-KEY-MATERIAL"


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if (why := _probe()) is not None:
        pytest.skip(why)
    folder = Path("/var/tmp") / f"lfg-home-{secrets.token_hex(6)}"
    for name in (
        ".ssh/id_ed25519",
        ".aws/credentials",
        ".codex/auth.json",
        ".netrc",
        ".pgpass",
        ".m2/settings.xml",
        ".config/containers/auth.json",
        ".local/share/lfgtui/h",
    ):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(SECRET)
    (folder / "notes.txt").write_text("notes")
    (folder / ".claude").mkdir()
    (folder / ".claude" / "settings.json").write_text("{}")
    tool = folder / ".toolchain"
    (tool / "bin").mkdir(parents=True)
    (tool / "lib").mkdir()
    (tool / "lib" / "part.txt").write_text("library")
    (tool / "bin" / "hello-tool").write_text(f"#!/bin/sh\ncat {tool}/lib/part.txt\n")
    (tool / "bin" / "hello-tool").chmod(0o755)
    monkeypatch.setenv("XDG_DATA_HOME", str(folder / ".local" / "share"))  # lfg's own files in this home
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _inside(sandbox: Sandbox, script: str, cwd: Path, user: tuple[str, ...] = ()) -> str:
    argv = as_user(user, sandbox.wrap(["sh", "-c", script], cwd))
    return subprocess.run(argv, capture_output=True, text=True, timeout=60 * PATIENCE, check=False).stdout


def _reads(sandbox: Sandbox, home: Path, names: list[str], user: tuple[str, ...] = ()) -> dict[str, str]:
    script = "; ".join(f'printf "%s|" "$(cat {home / name} 2>/dev/null)"' for name in names)
    return dict(zip(names, _inside(sandbox, script, Path("/"), user).split("|"), strict=False))


@pytest.mark.parametrize("user", list(USERS.values()), ids=list(USERS))
def test_no_secrets_hides_keys_tokens_lfgs_files_and_other_agents_logins(
    home: Path, user: tuple[str, ...]
) -> None:
    """Issue 78: `~/other-proj/.env` was read from the box; the home's projects and documents are
    hidden now but for the ticket's own, its settings and toolchains read as they are."""
    project, other = home / "proj", home / "other-proj"
    for folder in (project, other):
        folder.mkdir()
        (folder / ".env").write_text(SECRET)
    view = home_view(home, "no-secrets", "claude-agent-acp", own=(project,))
    sandbox = Sandbox((project,), view.readable, hidden=view.hidden)
    names = [".ssh/id_ed25519", ".aws/credentials", ".codex/auth.json", ".netrc", ".local/share/lfgtui/h"]
    names += [".pgpass", ".m2/settings.xml", ".config/containers/auth.json", "other-proj/.env"]
    read = _reads(sandbox, home, [*names, "notes.txt", ".claude/settings.json", "proj/.env"], user)
    assert [read[name] for name in names] == [""] * len(names), read
    assert read["notes.txt"] == "", "a document beside the projects is hidden too"
    assert read[".claude/settings.json"] == "{}" and read["proj/.env"] == SECRET, (
        "settings and its own project read"
    )
    unsandboxed = _reads(Sandbox(()), home, names, user)
    assert set(unsandboxed.values()) == {SECRET}, "without the rule every secret is read: the test can fail"


def test_hidden_shows_only_the_toolchains_on_the_path_and_what_the_ticket_names(home: Path) -> None:
    shared = home / "shared"
    shared.mkdir()
    (shared / "data.txt").write_text("data")
    path = f"{home / '.toolchain' / 'bin'}:/usr/bin:/bin"
    view = home_view(home, "hidden", None, (shared,), {"PATH": path})
    sandbox = Sandbox((), view.readable, hidden=view.hidden)
    read = _reads(sandbox, home, ["notes.txt", ".ssh/id_ed25519", ".claude/settings.json", "shared/data.txt"])
    assert read == {
        "notes.txt": "",
        ".ssh/id_ed25519": "",
        ".claude/settings.json": "",
        "shared/data.txt": "data",
    }
    ran = _inside(sandbox, f"PATH={path} hello-tool", Path("/"))
    assert ran == "library", "a toolchain in the home runs, its library read"


def test_a_writable_worktree_inside_a_hidden_home_and_a_key_inside_a_writable_home(home: Path) -> None:
    """Mounts go shallowest first: each folder's rule holds inside the rules around it."""
    tree = home / "worktrees" / "t"
    tree.mkdir(parents=True)
    view = home_view(home, "hidden", None)
    inner = Sandbox((tree,), view.readable, hidden=view.hidden)
    _inside(inner, "echo made > made.txt", tree)
    assert (tree / "made.txt").read_text() == "made\n"
    assert _reads(inner, home, ["notes.txt"]) == {"notes.txt": ""}
    view = home_view(home, "no-secrets", None, own=(home,))
    whole = Sandbox((home,), view.readable, hidden=view.hidden)
    _inside(whole, "echo mine > mine.txt; echo bad > .ssh/planted", home)
    assert (home / "mine.txt").read_text() == "mine\n", "the home is the workdir: writable"
    assert _reads(whole, home, [".ssh/id_ed25519", "notes.txt"]) == {
        ".ssh/id_ed25519": "",
        "notes.txt": "notes",
    }
    assert not (home / ".ssh" / "planted").exists(), "a hidden folder is a throwaway one, never the real"


def test_an_agents_own_state_stays_writable_where_other_agents_state_is_hidden(home: Path) -> None:
    """Writable as its ticket's copy (run/agents/agent_state.py): the person's stays as it was."""
    view = home_view(home, "no-secrets", "codex-acp")
    assert home / ".claude" in view.hidden and home / ".codex" not in view.hidden
    copy = seeded(home / ".local" / "state" / "copy", home, "codex-acp", {})
    sandbox = Sandbox(copy.logins(), view.readable, hidden=view.hidden, bound=copy.binds())
    assert _reads(sandbox, home, [".codex/auth.json", ".claude/settings.json"]) == {
        ".codex/auth.json": SECRET,
        ".claude/settings.json": "",
    }
    _inside(sandbox, f"echo session > {home / '.codex' / 'session'}", Path("/"))
    assert (copy.folder / "live" / ".codex" / "session").read_text() == "session\n"
    assert not (home / ".codex" / "session").exists()


def test_the_guide_names_every_place_no_secrets_hides() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "guides" / "unattended.md").read_text()
    assert [name for name in SECRETS if f"`~/{name}`" not in guide] == []


def test_a_worktree_in_a_home_reads_its_repository_and_links_but_not_another_project(home: Path) -> None:
    """Hiding the home's projects keeps the ticket's own: its repository's checkout, where its
    `.worktreeinclude` links lead (a large `node_modules` is linked, not copied), stays readable."""
    repo = repository(home / "proj")
    (repo / "node_modules").mkdir()
    (repo / "node_modules" / "dep.js").write_text("dependency")
    (home / "other-proj").mkdir()
    (home / "other-proj" / ".env").write_text(SECRET)
    tree = home / ".local" / "share" / "lfgtui" / "worktrees" / "r1" / "t"
    git(repo, "worktree", "add", "-q", str(tree))
    (tree / "node_modules").symlink_to(repo / "node_modules")
    sandbox = sandbox_of(replace(ticket("t"), sandbox="bwrap"), tree, home)
    assert sandbox is not None
    read = _reads(
        sandbox, home, [".local/share/lfgtui/worktrees/r1/t/node_modules/dep.js", "other-proj/.env"]
    )
    assert list(read.values()) == ["dependency", ""], read
    assert _inside(sandbox, "git status --short && echo ok", tree).endswith("ok\n"), (
        "git works in its worktree"
    )
