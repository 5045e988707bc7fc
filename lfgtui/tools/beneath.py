"""Open a file beneath a ticket's workdir with no symbolic link anywhere on its path.

lfg reads and writes files for an agent as the person, outside the agent's sandbox, while the agent
can change its worktree. Checking a path and then opening it by name is a race: a folder swapped for
a link to `$HOME` between the two sends the write to `~/.bashrc`. So nothing here resolves a path
string after a check: every file is opened relative to a descriptor of the workdir, with the kernel
refusing any link on the path (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, which
implies no magic links), or, where the kernel lacks it (before Linux 5.6, or a seccomp filter
refuses it), one folder at a time from a folder descriptor, each opened with `O_NOFOLLOW`.

A link is refused even when it leads somewhere inside the workdir: following it would make the answer
depend on what the agent can re-point at any moment. The refusal names the link and its target, so
the model can ask for that path instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import sys
from pathlib import Path

from lfgtui.tools.base import ToolError

RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
OPENAT2_SYSCALLS = {"x86_64": 437, "aarch64": 437}
"""`openat2`'s number where lfg calls it by number (Python has no wrapper); elsewhere the walk serves."""
FOLDER_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
"""A folder entered only to open beneath it: O_PATH on Linux needs no read permission to it."""
SHOWN_TARGET_CHARS = 200


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


class Openat2:
    """The kernel's `openat2` by syscall number, if this machine has it and lets lfg call it (a probe
    on `/` at first use tells: an old kernel answers ENOSYS, a container's seccomp filter ENOSYS or
    EPERM)."""

    def __init__(self) -> None:
        self.number = OPENAT2_SYSCALLS.get(os.uname().machine) if sys.platform == "linux" else None
        self.libc: ctypes.CDLL | None = None
        self.usable: bool | None = None if self.number is not None else False

    def available(self) -> bool:
        if self.usable is None:
            self.libc = ctypes.CDLL(None, use_errno=True)
            with _Folder(os.open("/", FOLDER_FLAGS)) as top:
                try:
                    os.close(self.open(top.fd, ".", FOLDER_FLAGS, 0))
                    self.usable = True
                except OSError:
                    self.usable = False
        return self.usable

    def open(self, folder: int, path: str, flags: int, mode: int) -> int:
        """`path` opened beneath `folder`, no link followed; an OSError (without a file name) if not."""
        assert self.libc is not None and self.number is not None  # available() said so
        how = _OpenHow(flags, mode if flags & os.O_CREAT else 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
        fd = self.libc.syscall(
            ctypes.c_long(self.number),
            ctypes.c_int(folder),
            ctypes.c_char_p(os.fsencode(path)),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return int(fd)


openat2 = Openat2()


def open_beneath(root: Path, name: str, flags: int, mode: int = 0o666) -> int:
    """Open `name` (relative) beneath the folder `root` with `flags`, through real folders only.

    `root` itself is trusted (lfg made it and resolved it); a link anywhere in `name`, the last
    component included, is refused with a ToolError naming it. OS errors carry `name` as file name.
    """
    parts = _parts(name)
    flags |= os.O_NOFOLLOW | os.O_CLOEXEC
    with _Folder(os.open(root, FOLDER_FLAGS)) as top:
        if not parts:
            return os.open(".", flags, mode, dir_fd=top.fd)
        if openat2.available():
            try:
                return openat2.open(top.fd, "/".join(parts), flags, mode)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.EXDEV, errno.ENOTDIR):
                    raise OSError(exc.errno, exc.strerror, name) from None
                # maybe a link on the path: the walk below finds it to name it (or opens, if it is gone)
        with _Folder(_enter(top.fd, parts[:-1], name)) as folder:
            try:
                return os.open(parts[-1], flags, mode, dir_fd=folder.fd)
            except OSError as exc:
                raise _explained(exc, folder.fd, parts, name) from None


class LinksOut(OSError):
    """A path that is, or goes through, a link leading out of the root (`open_inside`)."""


def open_inside(root: Path, name: str, flags: int) -> int:
    """`name` beneath `root` opened with `flags` through no link out of it, for what lfg reads of a
    worktree on its own account (an agent's instruction files, a line review quotes): a link that
    stays inside (`CLAUDE.md -> AGENTS.md`, as many repositories have) is followed to the real file it
    names, which is then opened through real folders only (`open_beneath`), so the agent re-pointing
    it meanwhile makes the open fail, never escape. Raises `LinksOut` for a link out (or one that
    changed under the read), OSError otherwise."""
    try:
        return open_beneath(root, name, flags)
    except ToolError:  # a link on the path: followed only to where it leads inside the root
        top = root.resolve()
        target = (top / name).resolve()
        if target == top or not target.is_relative_to(top):
            raise LinksOut(f"{name} is a link out of the worktree") from None
        try:
            return open_beneath(top, str(target.relative_to(top)), flags)
        except ToolError:
            raise LinksOut(f"{name} is a link that changed while lfg read it") from None


def make_folders_beneath(root: Path, name: str) -> None:
    """Make the folders that `name` lies in beneath `root` (`mkdir -p` of its parent), one at a time,
    each made and entered relative to the one before: a link on the way is refused, never followed."""
    with _Folder(os.open(root, FOLDER_FLAGS)) as top:
        os.close(_enter(top.fd, _parts(name)[:-1], name, make=True))


class _Folder:
    """A folder descriptor closed on leaving the block."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> _Folder:
        return self

    def __exit__(self, *_: object) -> None:
        os.close(self.fd)


def _parts(name: str) -> list[str]:
    """The components of a relative `name` with `.` and `..` folded (no link is followed, so folding
    them by name is what the kernel would do); a name that climbs out of the root is refused."""
    if os.path.isabs(name):
        raise ToolError(f"path {name!r} is absolute; give a path relative to the ticket's workdir")
    parts = [part for part in os.path.normpath(name).split("/") if part not in ("", ".")]
    if parts[:1] == [".."]:
        raise ToolError(f"path {name!r} is outside the ticket's workdir")
    return parts


def _enter(top: int, folders: list[str], name: str, make: bool = False) -> int:
    """A new descriptor of the folder `folders` leads to from `top`, each entered with O_NOFOLLOW
    relative to the one before (and made first when `make`)."""
    current = os.dup(top)
    for index, part in enumerate(folders):
        try:
            if make:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=current)
            inner = os.open(part, FOLDER_FLAGS, dir_fd=current)
        except OSError as exc:
            error = _explained(exc, current, folders[: index + 1], name)
            os.close(current)
            raise error from None
        os.close(current)
        current = inner
    return current


def _explained(exc: OSError, folder: int, shown: list[str], name: str) -> Exception:
    """A link at `shown` refused in one line naming it and where it leads, or the OS error with `name`
    as its file name. The link is only read to word the refusal: nothing is opened through it."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        try:
            target = os.readlink(shown[-1], dir_fd=folder)
        except OSError:
            pass
        else:
            link = "/".join(shown)
            leads = target if len(target) <= SHOWN_TARGET_CHARS else f"{target[:SHOWN_TARGET_CHARS]}…"
            return ToolError(
                f"path {name!r} goes through the symbolic link {link!r} (to {leads!r}); lfg opens files only "
                "through the workdir's real folders, never through a link: use the path it leads to"
            )
    return OSError(exc.errno, exc.strerror, name)
