"""The Unix sockets a sandbox hides: the ones bound on the disk outside it when it starts.

A socket is a door out of a read-only box: `docker.sock` runs a container as root, the session
bus and `systemd --user` start programs outside, a gpg or ssh agent signs with the person's keys.
Connecting needs only the path, so the sandbox covers each with an empty file. They are found where
sockets are bound: this network namespace's table (`/proc/net/unix`, which lists each bound path)
and, for sockets bound in another namespace and mounted in (a container's `docker.sock`), the
runtime folders (`/run`, a `/var/run` that is its own folder, `$XDG_RUNTIME_DIR`). A socket bound
after the sandbox starts is not hidden (the sandbox without the network hides `/run` whole).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

NET_UNIX = Path("/proc/net/unix")
RUNTIME = (Path("/run"), Path("/var/run"))
DEPTH = 5
"""How deep the runtime folders are searched (`/run/user/1000/gnupg/S.gpg-agent` is 2 down from the
runtime folder); mount points inside them (a FUSE folder that could hang) are not entered."""


def unix_sockets(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The Unix socket files bound on the disk now, each once, where links lead (what a mount covers)."""
    found = [*_bound(), *(path for root in runtime_folders(env) for path in _walk(root, DEPTH))]
    return tuple(dict.fromkeys(Path(os.path.realpath(path)) for path in found if _is_socket(path)))


def runtime_folders(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """Where sockets are made: what a sandbox without the network hides whole (a `/var/run` that is a
    link to `/run` is `/run`)."""
    folders = [path for path in dict.fromkeys(_runtime(env)) if path.is_dir() and not path.is_symlink()]
    return tuple(
        path for path in folders if not any(path != other and path.is_relative_to(other) for other in folders)
    )


def _runtime(env: Mapping[str, str] | None) -> list[Path]:
    xdg = (os.environ if env is None else env).get("XDG_RUNTIME_DIR")
    return [*RUNTIME, *([Path(xdg)] if xdg and os.path.isabs(xdg) else [])]


def _bound() -> Iterator[Path]:
    """The paths of this network namespace's bound Unix sockets (an abstract one, `@name`, has none)."""
    try:
        lines = NET_UNIX.read_text(encoding="utf-8", errors="replace").splitlines()[1:]
    except OSError:
        return
    for line in lines:
        fields = line.split(maxsplit=7)
        if len(fields) == 8 and fields[7].startswith("/"):
            yield Path(fields[7])


def _walk(root: Path, depth: int) -> Iterable[Path]:
    """The entries under `root`, `depth` folders down, not entering links or other mounts."""
    try:
        device = root.stat().st_dev
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        yield Path(entry.path)
        try:
            inside = (
                entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_dev == device
            )
        except OSError:
            continue
        if inside and depth > 1:
            yield from _walk(Path(entry.path), depth - 1)


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.lstat().st_mode)
    except OSError:
        return False
