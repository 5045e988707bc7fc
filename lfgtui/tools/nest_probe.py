"""Whether a sandbox of an agent's own can start inside lfg's box, run there as a script (stdlib
only, `python -I -S nest_probe.py`): it does what such a sandbox does first (Codex runs each command
in a bubblewrap of its own) — a user namespace and a mount namespace of its own, its own uid and gid
mapped in it, its mounts made private — and on the first step the kernel or the box's seccomp filter
refuses, says which and why in one line on stdout and exits 1. A docker container's filter refuses
the namespace; root's ids (in a box with no user namespace of its own) may not be mapped without a
capability no box keeps (CAP_SETFCAP)."""

from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def refused() -> str | None:
    """The step refused, and why; None when each worked."""
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        return f"a user namespace refused: {os.strerror(ctypes.get_errno())}"
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        try:
            with open(f"/proc/self/{name}", "w") as mapping:
                mapping.write(text)
        except OSError as exc:
            return f"its ids not mapped ({name}, uid {uid}): {exc.strerror}"
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return f"its own mounts refused: {os.strerror(ctypes.get_errno())}"
    return None


if __name__ == "__main__":
    if (why := refused()) is not None:
        print(why)
        sys.exit(1)
