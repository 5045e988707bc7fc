"""The Textual interface: a live grid of ticket panes."""

from __future__ import annotations

import sys


def terminal_attached() -> bool:
    """The TUI needs a terminal on both sides: keys come in on stdin (at its end of file Textual's
    input thread would spin a core, and no key could quit) and frames go out on stdout."""
    return sys.stdin.isatty() and sys.stdout.isatty()
