"""A downloaded archive unpacked into one folder and nowhere else: every member is checked before
anything is written, and an archive with a member that would land outside (an absolute path, `..`)
or that is not a plain file or folder (a link, a device) is refused whole.

Links are refused outright, in a tar as in a zip, rather than checked: whether a link leads outside
depends on the links before it, and Python's own check (tarfile's `data` filter) was followed out
of the folder by a chain of links longer than PATH_MAX (CVE-2025-4517) before 3.11.13, 3.12.11 and
3.13.4. With no links, every member lands where its name says, on any Python lfg runs on. Each
archive in the registry names one program at its top as its `cmd` (`./codex-acp`, `./opencode`).

An archive that would unpack past the install's size limit, or over a hundred times its own size
(a bomb), or into over `MAX_MEMBERS` files, is refused before anything is written; one that is not
the archive its name says, or ends early, in one line (what it wrote goes with the agent's folder).
The registry's formats: `.zip`, `.tar.gz`/`.tgz`, `.tar.bz2`/`.tbz2`, or a raw program.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from lfgtui.network.download import Limits, mib, too_big

ARCHIVES = (".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2")
MAX_MEMBERS = 100_000
"""Far above a real agent's files (a bundled runtime is a few thousand): more is a flood."""
BOMB_RATIO = 100
BOMB_FLOOR = 64 * 1024 * 1024


class UnsafeArchive(ValueError):
    """The archive would write outside its folder (or is not one lfg can read): nothing was unpacked."""


def _inside(folder: Path, name: str) -> Path:
    """Where member `name` lands, refused when that is not strictly inside `folder`."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and pure.parts[0].endswith(":")):
        raise UnsafeArchive(f"member {name!r} would be written outside the agent's folder")
    target = (folder / pure).resolve()
    if target != folder and folder not in target.parents:
        raise UnsafeArchive(f"member {name!r} would be written outside the agent's folder")
    return target


def _link_refused(name: str, what: str) -> UnsafeArchive:
    return UnsafeArchive(
        f"refused: member {name!r} is {what}; lfg unpacks no links from an archive "
        "(one could lead outside the agent's folder): nothing installed"
    )


def _check_tar(members: list[tarfile.TarInfo], folder: Path) -> None:
    for member in members:
        _inside(folder, member.name)
        if member.issym():
            raise _link_refused(member.name, f"a symbolic link (to {member.linkname!r})")
        if member.islnk():
            raise _link_refused(member.name, f"a hard link (to {member.linkname!r})")
        if not (member.isfile() or member.isdir()):
            raise UnsafeArchive(f"member {member.name!r} is a device or pipe, not a file")


def _check_size(unpacked: int, downloaded: int, limits: Limits) -> None:
    """Refuses an archive that would unpack past the limit, or a bomb: past `BOMB_FLOOR` bytes
    and over `BOMB_RATIO` times its own size (a program compresses a few times at most)."""
    if unpacked > limits.max_bytes:
        raise UnsafeArchive(too_big("unpacked, the archive", unpacked, limits))
    if unpacked > BOMB_FLOOR and unpacked > BOMB_RATIO * downloaded:
        raise UnsafeArchive(
            f"the archive would unpack to {mib(unpacked)} from {mib(downloaded)}, over {BOMB_RATIO} "
            "times its size: refused as a zip bomb, nothing installed"
        )


def _tar_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The archive's members, read one by one so a flood of them is refused before it is all read."""
    members: list[tarfile.TarInfo] = []
    for member in archive:
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise UnsafeArchive(f"the archive holds more than {MAX_MEMBERS} members: refused")
    return members


def _unpack_tar(download: Path, folder: Path, limits: Limits) -> None:
    with tarfile.open(download) as archive:
        members = _tar_members(archive)
        _check_tar(members, folder)
        _check_size(sum(m.size for m in members if m.isfile()), download.stat().st_size, limits)
        archive.extractall(folder, members=members, filter="data")


def _unpack_zip(download: Path, folder: Path, limits: Limits) -> None:
    with zipfile.ZipFile(download) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise UnsafeArchive(f"the archive holds more than {MAX_MEMBERS} members: refused")
        for info in infos:
            _inside(folder, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _link_refused(info.filename, "a symbolic link")
        _check_size(sum(i.file_size for i in infos), download.stat().st_size, limits)
        for info in infos:  # zipfile writes no more than each member's declared size
            archive.extract(info, folder)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                (folder / info.filename).chmod(mode)


_UNREADABLE = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, NotImplementedError, RuntimeError)
"""What a damaged or unsupported archive raises while read (a truncated stream, a bad CRC, an
encrypted or unknown compression), beside OSError."""


def unpack(download: Path, name: str, folder: Path, limits: Limits) -> None:
    """Unpack `download` (whose URL ended with `name`) into the existing empty `folder`, refusing
    one that would unpack past `limits.max_bytes`."""
    folder = folder.resolve()
    lower = name.lower()
    if lower.endswith((".dmg", ".pkg", ".deb", ".rpm", ".msi", ".appimage")):
        raise UnsafeArchive(f"{name!r} is an installer, which the registry's format does not allow")
    if not lower.endswith(ARCHIVES):
        program = _inside(folder, PurePosixPath(name).name)  # a raw program: kept under its own name
        shutil.copyfile(download, program)
        program.chmod(0o755)
        return
    kind = "zip" if lower.endswith(".zip") else "tar"
    try:
        (_unpack_zip if kind == "zip" else _unpack_tar)(download, folder, limits)
    except _UNREADABLE as exc:
        raise UnsafeArchive(f"{name!r} is not a readable {kind} archive ({exc}): nothing installed") from None
    except OSError as exc:
        raise UnsafeArchive(f"could not unpack {name!r}: {exc}") from None
