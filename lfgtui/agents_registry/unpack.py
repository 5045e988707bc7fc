"""A downloaded archive unpacked into one folder and nowhere else: every member is checked before
anything is written, and an archive with a member that would land outside (an absolute path, `..`)
or that is not a plain file or folder (a link, a device) is refused whole.

Links are refused outright, in a tar as in a zip, rather than checked: whether a link leads outside
depends on the links before it, and Python's own check (tarfile's `data` filter) was followed out
of the folder by a chain of links longer than PATH_MAX (CVE-2025-4517) before 3.11.13, 3.12.11 and
3.13.4. With no links, every member lands where its name says, on any Python lfg runs on. Each
archive in the registry names one program at its top as its `cmd` (`./codex-acp`, `./opencode`).

The registry's formats: `.zip`, `.tar.gz`/`.tgz`, `.tar.bz2`/`.tbz2`, or a raw program.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

ARCHIVES = (".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2")


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


def _check_tar(archive: tarfile.TarFile, folder: Path) -> None:
    for member in archive.getmembers():
        _inside(folder, member.name)
        if member.issym():
            raise _link_refused(member.name, f"a symbolic link (to {member.linkname!r})")
        if member.islnk():
            raise _link_refused(member.name, f"a hard link (to {member.linkname!r})")
        if not (member.isfile() or member.isdir()):
            raise UnsafeArchive(f"member {member.name!r} is a device or pipe, not a file")


def unpack(download: Path, name: str, folder: Path) -> None:
    """Unpack `download` (whose URL ended with `name`) into the existing empty `folder`."""
    folder = folder.resolve()
    lower = name.lower()
    if lower.endswith(".zip"):
        with zipfile.ZipFile(download) as archive:
            for info in archive.infolist():
                _inside(folder, info.filename)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise _link_refused(info.filename, "a symbolic link")
            for info in archive.infolist():
                archive.extract(info, folder)
                mode = (info.external_attr >> 16) & 0o777
                if mode and not info.is_dir():
                    (folder / info.filename).chmod(mode)
        return
    if lower.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tbz2")):
        try:
            with tarfile.open(download) as archive:
                _check_tar(archive, folder)
                archive.extractall(folder, filter="data")
        except tarfile.TarError as exc:
            raise UnsafeArchive(f"not a readable archive: {exc}") from None
        return
    if lower.endswith((".dmg", ".pkg", ".deb", ".rpm", ".msi", ".appimage")):
        raise UnsafeArchive(f"{name!r} is an installer, which the registry's format does not allow")
    program = _inside(folder, PurePosixPath(name).name)  # a raw program: kept under its own name
    shutil.copyfile(download, program)
    program.chmod(0o755)
