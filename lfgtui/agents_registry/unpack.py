"""A downloaded archive unpacked into one folder and nowhere else: every member is checked before
anything is written, and an archive with a member that would land outside (an absolute path, `..`,
a link pointing out, a device) is refused whole.

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


def _check_tar(archive: tarfile.TarFile, folder: Path) -> None:
    for member in archive.getmembers():
        _inside(folder, member.name)
        if member.issym() or member.islnk():
            base = (folder / member.name).parent if member.issym() else folder
            link = PurePosixPath(member.linkname)
            if link.is_absolute() or not _within(folder, base / link):
                raise UnsafeArchive(
                    f"member {member.name!r} links outside the agent's folder ({member.linkname!r})"
                )
        elif not (member.isfile() or member.isdir()):
            raise UnsafeArchive(f"member {member.name!r} is a device or pipe, not a file")


def _within(folder: Path, path: Path) -> bool:
    resolved = Path(*path.parts).resolve()
    return resolved == folder or folder in resolved.parents


def unpack(download: Path, name: str, folder: Path) -> None:
    """Unpack `download` (whose URL ended with `name`) into the existing empty `folder`."""
    folder = folder.resolve()
    lower = name.lower()
    if lower.endswith(".zip"):
        with zipfile.ZipFile(download) as archive:
            for info in archive.infolist():
                _inside(folder, info.filename)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise UnsafeArchive(
                        f"member {info.filename!r} is a link; lfg unpacks no links from a zip"
                    )
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
