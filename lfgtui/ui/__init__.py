"""The Textual interface: a live grid of ticket panes."""

from __future__ import annotations

import os
import sys

WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
"""The driver textual-serve (`lfg web`) runs an app under: its stdin and stdout are the browser's."""


def terminal_attached() -> bool:
    """The TUI needs a terminal on both sides: keys come in on stdin (at its end of file Textual's
    input thread would spin a core, and no key could quit) and frames go out on stdout; or a
    browser on the other end of both, under `lfg web`."""
    return (sys.stdin.isatty() and sys.stdout.isatty()) or os.environ.get("TEXTUAL_DRIVER") == WEB_DRIVER
