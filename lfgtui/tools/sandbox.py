"""A ticket's sandbox (`sandbox = "bwrap"`): its commands, and a coding agent's whole process, run
under bubblewrap with the disk read-only but for the folders it works in.

Inside: the whole disk readable and read-only (toolchains, an agent's own install and config) but
for what `sandbox_home` hides of the person's home (tools/sandbox_home.py), lfg's history file and
its served API's token file wherever they lie (folders.py's `kept_from_sandboxes`) and the agents'
state copies (`out_of_view`); a coding agent's own state its ticket's copy (`state_mounts`); a
private, empty `/tmp` that `TMPDIR` names (an agent's install lying under the person's `/tmp` bound
back read-only);
a private `/dev` and `/proc` and process ids (it cannot signal lfg or the person's programs);
writable only the `writable` folders (a worktree, its own git folder, the ticket's
`additional_directories`). The git folder the worktree shares with the repository stays read-only,
so a commit inside fails rather than write into the person's repository. No capability, even
when lfg runs as root (`--cap-drop ALL`; bubblewrap sets no-new-privileges), and `/proc/sys`
read-only: else root inside could unmount what hides a key, remount the disk writable or set a
sysctl. Run as root, the box has its own user namespace (`ROOT_MAPPED`), so a sandbox an agent
starts inside (Codex's) can start. The Unix sockets bound outside are covered
(tools/sandbox_sockets.py), and where the kernel can, abstract sockets outside are cut too
(tools/sandbox_scope.py). The network is on unless `network` is off (`sandbox_network = false`:
a network namespace of its own, and the runtime folders hidden whole). A ticket that asked for a
sandbox never runs without one: where bubblewrap cannot run (not installed, no user namespaces),
the ticket fails saying so (`unavailable`). Its memory, processes and CPUs are bounded in a cgroup
lfg makes for it where the kernel lets it (tools/box_limits.py), its `/tmp` by the tmpfs's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from lfgtui.folders import kept_from_sandboxes, private_folder
from lfgtui.inert import inert
from lfgtui.tickets.ticket import Ticket
from lfgtui.tools.box_limits import MIB, Limits, cgroups
from lfgtui.tools.sandbox_home import existing, home_view, state_copies
from lfgtui.tools.sandbox_scope import scoped
from lfgtui.tools.sandbox_sockets import runtime_folders, unix_sockets
from lfgtui.tools.scripts import stdlib_script

PROBE_TIMEOUT_S = 10.0
START = Path(__file__).with_name("sandbox_start.py")
"""What starts bubblewrap (run as a script: stdlib only)."""
PRIVATE_TMP = Path("/tmp")
"""What the box replaces with its own empty folder (`wrap`): nothing under it needs hiding."""
KERNEL_SETTINGS = ("--ro-bind", "/proc/sys", "/proc/sys")
"""Read-only: bubblewrap leaves the new `/proc/sys` writable to root, whose uid alone may write a
sysctl (`kernel.core_pattern = |program` runs a program as root outside on the next crash)."""
SYSTEM_SECRETS = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/ssh/ssh_host_*_key")
"""What only root reads outside the home, and a box run as root keeps root's user id on the disk
(`ROOT_MAPPED`): the password hashes and the machine's SSH host keys (each shows empty)."""
ENGINE_STORES = (
    "/var/lib/containers",
    "/run/containers",
    "/var/lib/docker",
    "/run/docker",
    "/var/lib/containerd",
    "/run/containerd",
)
"""Where root's container engines keep every container's root and configuration: its environment,
another boxed ticket's API keys among it (`engine_stores` adds a person's rootless ones)."""
ISOLATION = ("--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session", "--cap-drop", "ALL")
"""Its own processes and IPC, gone with lfg, no terminal of lfg's, and no capability even as root."""
ROOT_MAPPED = ("--unshare-user", "--uid", "65534", "--gid", "65534")
"""Started by root, the box's own user namespace, in which root's user and group (still root's on
the disk outside, so it writes its worktree as root) are `nobody`'s ids. Without it, root without
a capability cannot start a sandbox of its own inside (Codex runs each command in a bubblewrap of its
own: `bwrap: setting up uid map: Operation not permitted`): a nested bubblewrap run by uid 0 takes
itself for privileged and writes its uid map as root would. As a normal user, bubblewrap makes this
namespace anyway (the uid mapped to itself). A sandbox nested inside holds the outer one's mounts
locked: it cannot unmount what hides a key nor remount the disk writable."""


DEFAULT_LIMITS = Limits()


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
    doors: tuple[Path, ...] = ()
    """Unix sockets outside it may connect to, bound in: a lead's way to its run (remote/leads.py),
    whose token file is in `readable`; no other socket outside answers."""
    bound: tuple[tuple[Path, Path], ...] = ()
    """The agent's own state: each of the ticket's copies (first) bound writable over the person's
    path (second), so what the agent writes there stays the ticket's (run/agents/agent_state.py)."""
    limits: Limits = DEFAULT_LIMITS
    """How much it may use (tools/box_limits.py): bubblewrap's box in a cgroup of its own where the
    kernel lets lfg make one; a container's by its engine."""

    def wrap(self, argv: Sequence[str], cwd: Path) -> list[str]:
        """`argv` as it runs inside the sandbox, in `cwd`: bubblewrap started by
        tools/sandbox_start.py (in Landlock's scopes where the kernel has them; again, where a
        socket it covers went away as it started)."""
        args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", *KERNEL_SETTINGS]
        sockets = {str(path): found for path in self._sockets() if (found := _found(path)) is not None}
        for _, _, mount in sorted([*self._mounts(), *_covers(sockets)]):
            args += mount
        args += [
            *ISOLATION,
            *(ROOT_MAPPED if os.geteuid() == 0 else ()),
            "--setenv",
            "TMPDIR",
            str(PRIVATE_TMP),
        ]
        if not self.network:
            args.append("--unshare-net")
        start = [*stdlib_script(START), "scoped" if scoped() else "unscoped", json.dumps(sockets)]
        start.append(json.dumps(asdict(self.limits)))
        return [*start, *args, "--chdir", str(cwd), "--", *argv]

    def with_door(self, socket: Path, token_file: Path) -> Sandbox:
        """This box, showing a lead its way to its run (remote/leads.py): the socket to connect
        through, its token file read-only; nothing else of their folder, which every box hides."""
        return replace(self, readable=(*self.readable, token_file), doors=(*self.doors, socket))

    def _mounts(self) -> list[tuple[int, int, list[str]]]:
        """Each folder's mount, shallowest first (a mount covers what lies under it, so each rule
        holds inside the ones around it: a worktree writable inside a hidden home, a key hidden
        inside a writable home); at one path the later kind wins: hidden, readable, writable,
        protected, a socket covered (`_covers`)."""
        mounts: list[tuple[int, int, list[str]]] = []
        hides = self._hides()
        for path in dict.fromkeys(hides):
            hide = ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
            if path == PRIVATE_TMP:  # in memory: bounded (the hidden folders' by the box's memory)
                hide = ["--size", str(self.limits.tmp_mb * MIB), *hide]
            mounts.append((len(path.parts), 0, hide))
        kinds = (
            (1, "--ro-bind", self.readable),
            (2, "--bind", self.writable),
            (3, "--ro-bind", self.protected),
        )
        for rank, flag, paths in kinds:
            mounts += [(len(path.parts), rank, [flag, str(path), str(path)]) for path in dict.fromkeys(paths)]
        mounts += [(len(path.parts), 5, ["--bind", str(path), str(path)]) for path in self.doors]
        return mounts + state_mounts(self.bound)

    def _sockets(self) -> list[Path]:
        """The Unix sockets bound outside that the box would show: each is covered."""
        hides = self._hides()
        return [path for path in unix_sockets() if self._shows(path, hides) and path not in self.doors]

    def _hides(self) -> tuple[Path, ...]:
        """What shows empty: `hidden`, `/tmp`, the system's secrets, and without the network the
        runtime folders (no socket made there later is reachable either)."""
        system = [path for pattern in SYSTEM_SECRETS for path in Path("/").glob(pattern.lstrip("/"))]
        system += engine_stores()
        return (PRIVATE_TMP, *system, *self.hidden, *(() if self.network else runtime_folders()))

    def _shows(self, path: Path, hides: Sequence[Path]) -> bool:
        """Whether `path` is seen inside: the deepest mount around it is not one that hides."""
        around = [(len(p.parts), 0) for p in hides if path.is_relative_to(p)]
        around += [(len(p.parts), 1) for p in (*self.readable, *self.writable) if path.is_relative_to(p)]
        return not around or max(around)[1] == 1

    def allows(self) -> str:
        """What the sandbox allows, in one line for the pane: where it writes, what of the home it
        reads, and which sockets outside answer."""
        folders = ", ".join(str(folder) for folder in self.writable)
        home = {
            "no-secrets": "your home's keys, tokens, lfg's own files and other projects hidden",
            "hidden": "your home hidden but its toolchains",
        }.get(self.home, "your home readable")
        writes = f"writes only in {folders} and {TMP_SAID}; the rest read-only"
        bounds = cgroups().said(self.limits)
        return f"sandbox bwrap: {writes}; {bounds}; {home}; {NO_ROOT}; {reach(self.network)}"


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
    home = Path.home() if home is None else home
    view = home_view(home, ticket.sandbox_home, None, ticket.sandbox_readable, own=writable)
    return Sandbox(
        writable,
        readable=(*_repository(shared, home), *view.readable),
        network=ticket.sandbox_network,
        hidden=(
            *view.hidden,
            *(kept for kept in kept_from_sandboxes() if not kept.is_relative_to(PRIVATE_TMP)),
            *out_of_view(),
        ),
        home=ticket.sandbox_home,
        protected=tuple(dict.fromkeys(protected)),
        limits=limits_of(ticket),
    )


def limits_of(ticket: Ticket) -> Limits:
    """The ticket's bounds: its `sandbox_*` fields, each this machine's default where unset."""
    default = DEFAULT_LIMITS
    return Limits(
        memory_mb=ticket.sandbox_memory_mb or default.memory_mb,
        processes=ticket.sandbox_processes or default.processes,
        cpus=ticket.sandbox_cpus or default.cpus,
        tmp_mb=ticket.sandbox_tmp_mb or default.tmp_mb,
    )


def _covers(sockets: Iterable[str]) -> list[tuple[int, int, list[str]]]:
    """An empty file over each socket, ranked after every other kind at its path."""
    return [(len(Path(path).parts), 4, ["--ro-bind", "/dev/null", path]) for path in sockets]


def _found(path: Path) -> list[int] | None:
    """The socket at `path` (its device, inode and change time, for tools/sandbox_start.py to tell whether it
    went away), or None where none is there now."""
    try:
        found = path.lstat()
    except OSError:
        return None
    return [found.st_dev, found.st_ino, found.st_ctime_ns] if stat.S_ISSOCK(found.st_mode) else None


def state_mounts(bound: Sequence[tuple[Path, Path]]) -> list[tuple[int, int, list[str]]]:
    """The mounts of an agent's own state: its ticket's copy over the person's path, ranked as a
    writable folder (the login files bound through inside it are deeper, so they come after)."""
    return [(len(real.parts), 2, ["--bind", str(copy), str(real)]) for copy, real in bound]


def engine_stores() -> tuple[Path, ...]:
    """The container engines' stores that exist here (`ENGINE_STORES`, and a rootless podman's or
    docker's in the person's data and runtime folders), which no box shows: a box kept by one
    holds a boxed agent's environment there, readable to a box beside it."""
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    runtime = [Path(folder)] if (folder := os.environ.get("XDG_RUNTIME_DIR")) else []
    own = [where / engine for where in (data, *runtime) for engine in ("containers", "docker")]
    return existing([*map(Path, ENGINE_STORES), *own])


def out_of_view() -> tuple[Path, ...]:
    """What no box shows, whatever its `sandbox_home`: the copies of every ticket's agent state
    (run/agents/agent_state.py); a ticket's own is bound back where its agent reads it. Their
    folder is made where missing, so a box started before the first copy hides those made after."""
    copies = state_copies()
    with contextlib.suppress(OSError):
        private_folder(copies)
    return existing([copies])


def _repository(shared: Path | None, home: Path) -> tuple[Path, ...]:
    """What a worktree reads of its repository: its shared git folder, and the checkout around a
    `.git` folder (its `.worktreeinclude` links lead there) even where the home is hidden, unless
    that checkout is the home itself (or holds it), whose secrets stay hidden."""
    if shared is None:
        return ()
    checkout = shared.parent
    return (shared, checkout) if shared.name == ".git" and not home.is_relative_to(checkout) else (shared,)


TMP_SAID = "a private /tmp (TMPDIR; empty at start, gone when the box ends)"
NO_ROOT = "no capability even as root"


def reach(network: bool) -> str:
    """Which sockets outside the box answer, and whether a coding agent's provider does."""
    if not network:
        return "no network: no Unix, abstract or loopback socket outside reachable, nor any provider"
    if scoped():
        return (
            "the Unix and abstract sockets outside cut; network on: the internet (and an agent's "
            "provider) and this machine's loopback ports reachable"
        )
    return (
        "the Unix sockets outside hidden; network on: the internet (and an agent's provider), "
        "this machine's loopback ports and abstract sockets reachable"
    )


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
        f'sandbox = "bwrap": available; {cgroups().said(DEFAULT_LIMITS)} by default; '
        "a sandboxed ticket's commands and agent write only in its worktree, "
        "its git folder, its additional_directories and the ticket's copy of the agent's own settings, and "
        f"{TMP_SAID}; the rest of the disk read-only; your home's keys, tokens, lfg's own files and "
        f'other projects hidden (sandbox_home = "hidden" hides all but its toolchains); {NO_ROOT}; '
        f"{reach(True)} "
        "(sandbox_network = false cuts them for commands; a coding agent needs it for its provider)"
    )


async def unavailable() -> str | None:
    """Why bubblewrap cannot make a sandbox here, in one line; None when it can."""
    return await asyncio.to_thread(_probe)
