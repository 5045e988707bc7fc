"""How much one box may use, each bound kept by the kernel: its memory, processes, CPUs and private
`/tmp` (a tmpfs, in memory). A container engine keeps them in the container's cgroup
(tools/containers.py); a bubblewrap box in a cgroup lfg makes for it beside its own, where the
kernel lets lfg make one (`cgroups`: cgroup v2 with the controllers delegated, or v1's hierarchies
writable, as root's are), joined by tools/sandbox_start.py before bubblewrap starts. Where it does
not, the box runs unbounded but for `/tmp`, and the pane's line and `lfg agents --check` say so.
Stdlib only: tools/sandbox_start.py imports it as a sibling.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20
CPU_PERIOD_US = 100_000
CONTROLLERS = ("memory", "pids", "cpu")


def _memory_mb() -> int:
    """Half of this machine's memory, at most 8 GiB: a build's linker fits; the host keeps half."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // MIB
    return max(256, min(8192, total // 2))


DEFAULT_MEMORY_MB = _memory_mb()
DEFAULT_PROCESSES = 4096
DEFAULT_CPUS = float(max(1, (os.cpu_count() or 2) - 1))
"""Every core but one: lfg and the other tickets keep one."""
DEFAULT_TMP_MB = 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """One box's bounds (`sandbox_memory_mb`, `sandbox_processes`, `sandbox_cpus`, `sandbox_tmp_mb`)."""

    memory_mb: int = DEFAULT_MEMORY_MB
    """Its processes' memory, its `/tmp` and hidden folders (tmpfs pages are charged to it) among it."""
    processes: int = DEFAULT_PROCESSES
    """Processes and threads at once."""
    cpus: float = DEFAULT_CPUS
    tmp_mb: int = DEFAULT_TMP_MB

    def said(self, only: tuple[str, ...] = CONTROLLERS) -> str:
        """These bounds in words: those of the controllers `only`, and `/tmp`'s."""
        words = {
            "memory": f"{self.memory_mb} MiB of memory",
            "pids": f"{self.processes} processes",
            "cpu": f"{self.cpus:g} CPUs",
        }
        kept = [words[controller] for controller in CONTROLLERS if controller in only]
        return f"at most {', '.join(kept)}{' and ' if kept else ''}{self.tmp_mb} MiB in /tmp"

    def settings(self, version: int, controller: str) -> list[tuple[str, str]]:
        """The files (and what is written to each, in order) that bound `controller` in a cgroup of
        `version`; swap bounded too where the kernel keeps it apart (a name starting with `?` is
        written only where the cgroup has that file)."""
        memory = str(self.memory_mb * MIB)
        quota = str(max(1000, int(self.cpus * CPU_PERIOD_US)))
        return {
            (2, "memory"): [("memory.max", memory), ("?memory.swap.max", "0")],
            (1, "memory"): [("memory.limit_in_bytes", memory), ("?memory.memsw.limit_in_bytes", memory)],
            (2, "pids"): [("pids.max", str(self.processes))],
            (1, "pids"): [("pids.max", str(self.processes))],
            (2, "cpu"): [("cpu.max", f"{quota} {CPU_PERIOD_US}")],
            (1, "cpu"): [("cpu.cfs_period_us", str(CPU_PERIOD_US)), ("cpu.cfs_quota_us", quota)],
        }[(version, controller)]


@dataclass(frozen=True, slots=True)
class Cgroups:
    """Where lfg may make a bubblewrap box's cgroup: each controller's parent folder and version."""

    parents: dict[str, tuple[int, Path]]

    def missing(self) -> list[str]:
        return [controller for controller in CONTROLLERS if controller not in self.parents]

    def plan(self, limits: Limits) -> list[tuple[str, list[tuple[str, str]]]]:
        """For tools/sandbox_start.py: each parent folder, with the files to write in its child."""
        grouped: dict[Path, list[tuple[str, str]]] = {}
        for controller, (version, parent) in self.parents.items():
            grouped.setdefault(parent, []).extend(limits.settings(version, controller))
        return [(str(parent), files) for parent, files in grouped.items()]

    def said(self, limits: Limits) -> str:
        """The box's bounds in one line, naming what the kernel lets lfg not bound."""
        if not (missing := self.missing()):
            return limits.said()
        names = {"memory": "memory", "pids": "processes", "cpu": "CPUs"}
        unbounded = ", ".join(names[controller] for controller in missing)
        return (
            f"NOT BOUNDED: {unbounded} (the kernel gives lfg no cgroup it may make here: run lfg as root, "
            f'or in a cgroup v2 delegated to you, or use sandbox = "docker" or "podman"); '
            f"{limits.said(tuple(self.parents))}"
        )


ROOTLESS_V1 = (
    "NOT BOUNDED: memory, processes, CPUs (rootless podman sets no cgroup limit on cgroup v1 hosts: run lfg "
    'as root, boot with cgroup v2, or use sandbox = "docker"); '
)


def engine_said(engine: str, limits: Limits) -> str:
    """A container box's bounds in one line: none but `/tmp`'s where rootless podman cannot set them."""
    if engine == "podman" and os.geteuid() != 0 and not Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return f"{ROOTLESS_V1}{limits.said(())}"
    return limits.said()


@functools.cache
def cgroups() -> Cgroups:
    """Where lfg may make its boxes' cgroups here (found once per lfg): for each controller, in v2
    the nearest of lfg's own cgroup and those around it that enables it for children and is
    writable (lfg's own holds lfg, so it enables none: the root cgroup for root, a delegated
    `user@UID.service` for a person, whose `cgroup.procs` moving lfg's starter in takes), else in
    its v1 hierarchy where lfg's own cgroup is writable."""
    mounts = _mounts()
    own = _own_cgroups()
    parents: dict[str, tuple[int, Path]] = {}
    if "" in own and "" in mounts:
        top = mounts[""][0]
        folder = _inside(mounts[""], own[""])
        for parent in (folder, *(above for above in folder.parents if above.is_relative_to(top))):
            enabled = _read(parent / "cgroup.subtree_control").split()
            if os.access(parent, os.W_OK) and os.access(parent / "cgroup.procs", os.W_OK):
                for controller in CONTROLLERS:
                    if controller in enabled:
                        parents.setdefault(controller, (2, parent))
    for controller in CONTROLLERS:
        if controller in parents or controller not in mounts or controller not in own:
            continue
        parent = _inside(mounts[controller], own[controller])
        if os.access(parent, os.W_OK) and os.access(parent / "cgroup.procs", os.W_OK):
            parents[controller] = (1, parent)
    return Cgroups(parents)


def _inside(mount: tuple[Path, str], own: str) -> Path:
    """The folder of cgroup `own` in a hierarchy mounted at `mount` (its folder, and the cgroup it shows)."""
    folder, root = mount
    return folder / os.path.relpath(own, root)


def _mounts() -> dict[str, tuple[Path, str]]:
    """Where each cgroup hierarchy is mounted (its folder, and the cgroup at its top): v2's under "",
    v1's under each controller it holds."""
    found: dict[str, tuple[Path, str]] = {}
    for line in _read(Path("/proc/self/mountinfo")).splitlines():
        fields = line.split()
        if " - " not in line:
            continue
        after = line.split(" - ", 1)[1].split()
        if len(after) < 3:
            continue
        kind, options = after[0], after[2].split(",")
        if kind == "cgroup2":
            found.setdefault("", (Path(fields[4]), fields[3]))
        elif kind == "cgroup":
            for controller in CONTROLLERS:
                if controller in options:
                    found.setdefault(controller, (Path(fields[4]), fields[3]))
    return found


def _own_cgroups() -> dict[str, str]:
    """lfg's own cgroup in each hierarchy (`/proc/self/cgroup`): v2's under ""."""
    own: dict[str, str] = {}
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
