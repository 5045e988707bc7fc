"""The disk a boxed ticket writes on, kept from filling up.

The kernel bounds a box's memory, processes, CPUs and `/tmp` (tools/box_limits.py), but nothing
bounds what it writes in its worktree: an agent or a command could fill the disk that also holds
the person's work, other tickets' worktrees and the run's history. A boxed ticket writes only in
its writable folders, so lfg can tell how much it wrote there: what they hold is measured as its
attempt starts. While boxed attempts run here, lfg looks every `LOOK_S` at the free space of each
disk they write on. Where it is under `[run] disk_reserve_mb`, the shortfall is put down to the
boxed tickets only as far as their folders there grew: the one that grew the most is stopped
(failed, kind `disk`, what it did kept), one a look, while one grew at least the shortfall or
together they did. A ticket stopped keeps what it wrote, so the disk may stay short; the others,
which did not fill it, run on.

A look costs one `statvfs` a disk; the folders are measured again (in a thread) only once a disk is
short. A writer faster than the looks can still fill the disk before lfg stops it: this keeps the
disk from staying full, not every byte of the reserve.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import stat
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from lfgtui.events import ErrorInfo, ErrorKind
from lfgtui.tools.box_limits import MIB

LOOK_S = 1.0


@dataclass(frozen=True, slots=True)
class Writer:
    """A boxed attempt running here: its writable folders, its run's reserve, and how to stop it."""

    folders: tuple[Path, ...]
    reserve_mb: int
    stop: Callable[[ErrorInfo], None]


@dataclass(slots=True)
class Watched:
    writer: Writer
    started: dict[int, Held]
    """What its folders held on each disk as its attempt started, by device."""


class DiskGuard:
    """Looks at the disks of the boxed attempts `writing` on one event loop while any is (see the
    module): one for all its runs (`guard`; a broker's worker runs one a ticket), so which ticket
    grew the most on a disk is told among them all."""

    def __init__(self) -> None:
        self._watched: dict[int, Watched] = {}
        self._numbers = itertools.count()
        self._looking: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def writing(self, writer: Writer) -> AsyncIterator[None]:
        """`writer` is looked after while the block runs (its attempt)."""
        started = await asyncio.to_thread(measured, writer.folders)
        number = next(self._numbers)
        self._watched[number] = Watched(writer, started)
        if self._looking is None or self._looking.done():
            self._looking = asyncio.get_running_loop().create_task(self._look(), name="disk guard")
        try:
            yield
        finally:
            self._watched.pop(number, None)  # or already, stopped
            if not self._watched and self._looking is not None:
                self._looking.cancel()
                self._looking = None

    async def _look(self) -> None:
        while True:
            await asyncio.sleep(LOOK_S)
            for number, why in await asyncio.to_thread(short, dict(self._watched)):
                if (watched := self._watched.pop(number, None)) is not None:
                    watched.writer.stop(why)


def short(watched: dict[int, Watched]) -> list[tuple[int, ErrorInfo]]:
    """For each disk with less free than a writer's reserve, the writer whose folders there grew the
    most, where it grew at least the shortfall or the writers together did, and why it is stopped."""
    disks: dict[int, dict[int, tuple[Watched, Path]]] = {}
    for number, entry in watched.items():
        for folder in reversed(entry.writer.folders):  # each writer's first folder on a disk named
            with contextlib.suppress(OSError):
                disks.setdefault(os.stat(folder).st_dev, {})[number] = (entry, folder)
    stopping: list[tuple[int, ErrorInfo]] = []
    for device, on_it in disks.items():
        left = {n: on for n, on in on_it.items() if n not in {number for number, _ in stopping}}
        if left and (stopped := _short_on(device, left)) is not None:
            stopping.append(stopped)
    return stopping


def _short_on(device: int, on_it: dict[int, tuple[Watched, Path]]) -> tuple[int, ErrorInfo] | None:
    """`short` for one disk, the writers on it with the folder of theirs on it: short of bytes, or
    of files (inodes: a disk with none left takes no new file, however many bytes are free), whose
    reserve is the same share of the disk's files as the bytes' is of its bytes."""
    try:
        found = os.statvfs(next(iter(on_it.values()))[1])
    except OSError:
        return None
    free = Held(found.f_bavail * found.f_frsize, found.f_favail)
    files_a_byte = found.f_files / max(1, found.f_blocks * found.f_frsize)
    reserve = {n: entry.writer.reserve_mb * MIB for n, (entry, _) in on_it.items()}
    kept = {n: Held(size, int(size * files_a_byte)) for n, size in reserve.items()}
    if all(free.bytes >= k.bytes and free.files >= k.files for k in kept.values()):
        return None
    grew = {
        n: held_on(e.writer.folders, device).less(e.started.get(device, Held(0, 0)))
        for n, (e, _) in on_it.items()
    }
    number = _culprit(
        {n: g.bytes for n, g in grew.items()}, {n: k.bytes - free.bytes for n, k in kept.items()}
    )
    if number is not None:
        had, grown, share = f"{free.bytes // MIB} MiB", f"{grew[number].bytes // MIB} MiB", ""
    else:
        number = _culprit(
            {n: g.files for n, g in grew.items()}, {n: k.files - free.files for n, k in kept.items()}
        )
        if number is None:
            return None
        had, grown = f"{free.files} files", f"{grew[number].files} files"
        share = f": {kept[number].files} files, its share of the disk's"
    why = (
        f"the disk holding {on_it[number][1]} had {had} free, under [run] disk_reserve_mb "
        f"({reserve[number] // MIB} MiB{share}): this ticket's folders there grew {grown} in this attempt, "
        "the most of the boxed tickets writing on it"
    )
    return number, ErrorInfo(ErrorKind.DISK, why)


def _culprit(grown: dict[int, int], missing: dict[int, int]) -> int | None:
    """The writer that grew the most, where the disk is short for it (`missing` more than it keeps
    free) and it grew at least that much, or the writers together did: else the boxed tickets did
    not make the disk short, and none is stopped."""
    number = max(grown, key=lambda n: grown[n])
    short_by = missing[number]
    if short_by <= 0 or grown[number] <= 0 or sum(max(0, g) for g in grown.values()) < short_by:
        return None
    return number


@dataclass(frozen=True, slots=True)
class Held:
    """What folders hold on a disk: bytes (blocks, as the disk counts them) and files (inodes)."""

    bytes: int
    files: int

    def less(self, other: Held) -> Held:
        return Held(self.bytes - other.bytes, self.files - other.files)


def measured(folders: tuple[Path, ...]) -> dict[int, Held]:
    """What `folders` hold on each disk they are on, by device."""
    devices = set[int]()
    for folder in folders:
        with contextlib.suppress(OSError):
            devices.add(os.stat(folder).st_dev)
    return {device: held_on(folders, device) for device in devices}


def held_on(folders: tuple[Path, ...], device: int) -> Held:
    """What the files in `folders` take on `device` (no link followed, no other disk entered, a file
    that vanished meanwhile passed over)."""
    total, seen = 0, set[int]()
    pending = [str(folder) for folder in folders]
    while pending:
        with contextlib.suppress(OSError), os.scandir(pending.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    found = entry.stat(follow_symlinks=False)
                    if found.st_dev != device or found.st_ino in seen:
                        continue
                    seen.add(found.st_ino)
                    total += found.st_blocks * 512
                    if stat.S_ISDIR(found.st_mode):
                        pending.append(entry.path)
    return Held(total, len(seen))


_GUARDS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DiskGuard] = weakref.WeakKeyDictionary()


def guard() -> DiskGuard:
    """The running event loop's guard (one a process in lfg; a test may run several loops at once)."""
    return _GUARDS.setdefault(asyncio.get_running_loop(), DiskGuard())
