"""A ticket's sandbox (`sandbox = "bwrap"`): its commands, and a coding agent's whole process, run
under bubblewrap with the disk read-only but for the folders it works in.

Inside: the whole disk readable and read-only (toolchains, an agent's own install and config) but
for what `sandbox_home` hides of the person's home (tools/sandbox_home.py), lfg's history file and
its served API's token file wherever they lie (folders.py's `kept_from_sandboxes`) and the agents'
state copies (`out_of_view`); a coding agent's own state its ticket's copy (`state_mounts`); a
private, empty `/tmp`;
a private `/dev` and `/proc` and process ids (it cannot signal lfg or the person's programs);
writable only the `writable` folders (a worktree, its own git folder, the ticket's
`additional_directories`). The git folder the worktree shares with the repository stays read-only,
so a commit inside fails rather than write into the person's repository. The network is on unless
`network` is off (`sandbox_network = false`). A ticket that asked for a sandbox never runs without
one: where bubblewrap cannot run (not installed, no user namespaces), the ticket fails saying so
(`unavailable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lfgtui.folders import kept_from_sandboxes, private_folder
from lfgtui.inert import inert
from lfgtui.tickets.ticket import Ticket
from lfgtui.tools.sandbox_home import existing, home_view, state_copies

PROBE_TIMEOUT_S = 10.0
PRIVATE_TMP = Path("/tmp")
"""What the box replaces with its own empty folder (`wrap`): nothing under it needs hiding."""


@dataclass(frozen=True, slots=True)
class Sandbox:
    """Where a ticket's processes may write: its folders; everything else read-only."""

    writable: tuple[Path, ...]
    readable: tuple[Path, ...] = ()
    """Folders it must still see, read-only, where the rest is hidden (a worktree's repository under
    `/tmp`; a toolchain or `sandbox_readable` in a hidden home)."""
    network: bool = True
    hidden: tuple[Path, ...] = ()
    """What shows as an empty folder or file (the home's secrets, or the whole home)."""
    home: str = "no-secrets"
    """The ticket's `sandbox_home`, for the agent's process to hide by too (run/agents/process.py)."""
    protected: tuple[Path, ...] = ()
    """Inside the writable folders, what stays read-only: what tells lfg's own git (which runs
    outside) where the repository is (a worktree's `.git` file, its `commondir` and `gitdir`), or a
    checkout's `.git` folder. Rewritten, it could point lfg's git at a config of the agent's making."""
    bound: tuple[tuple[Path, Path], ...] = ()
    """The agent's own state: each of the ticket's copies (first) bound writable over the person's
    path (second), so what the agent writes there stays the ticket's (run/agents/agent_state.py)."""

    def wrap(self, argv: Sequence[str], cwd: Path) -> list[str]:
        """`argv` as it runs inside the sandbox, in `cwd`."""
        args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for _, _, mount in sorted(self._mounts()):
            args += mount
        args += ["--unshare-pid", "--die-with-parent", "--new-session"]
        if not self.network:
            args.append("--unshare-net")
        return [*args, "--chdir", str(cwd), "--", *argv]

    def _mounts(self) -> list[tuple[int, int, list[str]]]:
        """Each folder's mount, shallowest first (a mount covers what lies under it, so each rule
        holds inside the ones around it: a worktree writable inside a hidden home, a key hidden
        inside a writable home); at one path the later kind wins: hidden, readable, writable, protected."""
        mounts: list[tuple[int, int, list[str]]] = []
        for path in dict.fromkeys(self.hidden):
            hide = ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
            mounts.append((len(path.parts), 0, hide))
        kinds = (
            (1, "--ro-bind", self.readable),
            (2, "--bind", self.writable),
            (3, "--ro-bind", self.protected),
        )
        for rank, flag, paths in kinds:
            mounts += [(len(path.parts), rank, [flag, str(path), str(path)]) for path in dict.fromkeys(paths)]
        return mounts + state_mounts(self.bound)

    def allows(self) -> str:
        """What the sandbox allows, in one line for the pane and `lfg agents --check`."""
        folders = ", ".join(str(folder) for folder in self.writable)
        network = "network on" if self.network else "no network"
        home = {
            "no-secrets": "your home's keys, tokens and lfg's own files hidden",
            "hidden": "your home hidden but its toolchains",
        }.get(self.home, "your home readable")
        private = "(and a private /tmp); the rest read-only"
        return f"sandbox bwrap: writes only in {folders} {private}; {home}; {network}"


def git_folders(tree: Path) -> tuple[Path | None, Path | None]:
    """A worktree's own git folder (`<repo>/.git/worktrees/<name>`, from its `.git` file) and the
    repository's git folder it shares; (None, None) for a folder that is not a linked worktree."""
    pointer = tree / ".git"
    if not pointer.is_file():
        return None, None
    text = pointer.read_text(encoding="utf-8", errors="replace").strip()
    if not text.startswith("gitdir: "):
        return None, None
    own = (tree / text.removeprefix("gitdir: ")).resolve()
    return own, own.parent.parent


def sandbox_of(ticket: Ticket, top: Path, home: Path | None = None) -> Sandbox | None:
    """The ticket's sandbox, whose writable folders are `top` (its worktree, else its workdir), a
    worktree's own git folder and its `additional_directories`, hiding of `home` (the person's, by
    default) what `sandbox_home` says, and in every `sandbox_home` mode the files lfg keeps from
    sandboxes wherever they are (the history it has open, every run's prompts and answers; the
    token files of its served API) and what `out_of_view` names; None when it asked for none."""
    if ticket.sandbox == "none":
        return None
    own, shared = git_folders(top)
    writable = (top, *(() if own is None else (own,)), *ticket.additional_directories)
    pointers = () if own is None else (top / ".git", own / "commondir", own / "gitdir")
    protected = [path for path in (*pointers, top / ".git") if path.exists()]
    view = home_view(
        Path.home() if home is None else home, ticket.sandbox_home, None, ticket.sandbox_readable
    )
    return Sandbox(
        writable,
        readable=(*(() if shared is None else (shared,)), *view.readable),
        network=ticket.sandbox_network,
        hidden=(
            *view.hidden,
            *(kept for kept in kept_from_sandboxes() if not kept.is_relative_to(PRIVATE_TMP)),
            *out_of_view(),
        ),
        home=ticket.sandbox_home,
        protected=tuple(dict.fromkeys(protected)),
    )


def state_mounts(bound: Sequence[tuple[Path, Path]]) -> list[tuple[int, int, list[str]]]:
    """The mounts of an agent's own state: its ticket's copy over the person's path, ranked as a
    writable folder (the login files bound through inside it are deeper, so they come after)."""
    return [(len(real.parts), 2, ["--bind", str(copy), str(real)]) for copy, real in bound]


def out_of_view() -> tuple[Path, ...]:
    """What no box shows, whatever its `sandbox_home`: the copies of every ticket's agent state
    (run/agents/agent_state.py); a ticket's own is bound back where its agent reads it. Their
    folder is made where missing, so a box started before the first copy hides those made after."""
    copies = state_copies()
    with contextlib.suppress(OSError):
        private_folder(copies)
    return existing([copies])


@functools.cache
def _probe() -> str | None:
    """Why bubblewrap cannot make a sandbox here, found by starting one (once per lfg)."""
    if shutil.which("bwrap") is None:
        return 'sandbox = "bwrap" needs bubblewrap, which is not installed (apt install bubblewrap)'
    try:
        probe = subprocess.run(
            Sandbox(()).wrap(["true"], Path("/")), capture_output=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot make a sandbox here ({inert(str(exc))})"
    if probe.returncode == 0:
        return None
    reason = inert(" ".join(probe.stderr.decode(errors="replace").split())[:300])
    return f"bubblewrap cannot make a sandbox here (user namespaces off?): {reason}"


def described() -> str:
    """What `sandbox = "bwrap"` allows here, or why it cannot run: `lfg agents --check`'s line."""
    why = _probe()
    if why is not None:
        never = "a ticket that asks for it fails, never runs without it"
        return f'sandbox = "bwrap": not available here ({why}); {never}'
    return (
        'sandbox = "bwrap": available; a sandboxed ticket\'s commands and agent write only in its worktree, '
        "its git folder, its additional_directories and the ticket's copy of the agent's own settings "
        "(the rest of the disk read-only, a private /tmp); your home's keys, tokens and lfg's own files "
        'hidden (sandbox_home = "hidden" hides all but its toolchains); network on (sandbox_network = '
        "false cuts it for commands)"
    )


async def unavailable() -> str | None:
    """Why bubblewrap cannot make a sandbox here, in one line; None when it can."""
    return await asyncio.to_thread(_probe)
