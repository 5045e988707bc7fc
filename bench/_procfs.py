"""What Linux's /proc says processes, a thread and the machine have used: CPU time, waits, memory.

Shared by the scripts beside it (`from _procfs import ...`); there is no psutil. Linux only.
"""

from __future__ import annotations

import os
from pathlib import Path


def cpu_s(pid: int | None) -> float:
    """CPU seconds a process has used so far (0 for none)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has spent busy so far: on a shared machine, how much
    else ran (the sim, the agents, the clients, anyone's tests) beside what a run measures."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    except OSError:
        return 0.0
    # steal (time the hypervisor gave elsewhere) is not this machine's; guest time is in user
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields)
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def runqueue_s() -> float:
    """Seconds this thread (the loop's) has waited for a core while ready to run (0 where unknown)."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_now_kb() -> int:
    """This process's resident memory now, in KiB (0 where unknown)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_children() -> dict[int, list[int]]:
    """Each live process's children, by parent id in /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone while we looked
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def subtree(children: dict[int, list[int]], root: int) -> list[int]:
    """`root` and every process below it."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def tree_cpu_s(pids: list[int], reaped: bool) -> dict[int, float]:
    """CPU seconds of each process still there; with `reaped`, its reaped children's too (so nothing
    an agent started and waited for is missed, and nothing live is counted twice)."""
    used: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = sum(int(v) for v in fields[11 : 15 if reaped else 13]) / os.sysconf("SC_CLK_TCK")
    return used
