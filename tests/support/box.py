"""Starting a bubblewrap box as a normal user too: everything here runs as root, and a box that
holds only for one of them proves little (../shared/containers/README.md)."""

from __future__ import annotations

import os

NOBODY = ("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups")
"""A prefix that starts the command as `nobody`: only bubblewrap and what needs only `/usr` (lfg's
interpreter lies in root's home, which `nobody` cannot enter)."""
USERS = {"root": (), "nobody": NOBODY} if os.geteuid() == 0 else {"user": ()}
"""Who starts the box: as root, root and nobody; as anyone else, that user."""


def as_user(user: tuple[str, ...], argv: list[str]) -> list[str]:
    """A box's command line with bubblewrap started as `user`: after lfg's launcher
    (tools/sandbox_start.py), which runs as lfg does, from lfg's interpreter."""
    at = argv.index("bwrap")
    return [*argv[:at], *user, *argv[at:]]
