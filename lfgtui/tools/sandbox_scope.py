"""Landlock's scopes around a sandbox: what a network namespace cuts, without cutting the network.

With the network on, the box shares the machine's network namespace, so an abstract Unix socket
(`@name`: some session buses, X11, an IDE's helper) outside it answers. Where the kernel has
Landlock's scopes (ABI 6, Linux 6.12), bubblewrap is started in a Landlock domain that scopes
abstract sockets and signals: nothing inside connects to an abstract socket made outside, or
signals a process outside. A small launcher (lfg's own interpreter, outside the box) enters the
domain and runs bubblewrap (tools/sandbox_start.py); where it cannot, it fails rather than start
the box unscoped.
"""

from __future__ import annotations

import ctypes
import functools
import sys

ABI_SCOPES = 6
"""The first Landlock ABI with scopes (`LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET`, `LANDLOCK_SCOPE_SIGNAL`)."""
CREATE_RULESET = 444
"""`landlock_create_ruleset`, the same number on every architecture (as `landlock_restrict_self`, 446)."""


@functools.cache
def scoped() -> bool:
    """Whether this kernel has Landlock's scopes."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.syscall(CREATE_RULESET, None, 0, 1) >= ABI_SCOPES)  # 1: the ABI version
