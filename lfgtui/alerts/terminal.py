"""Telling the person in their terminal: a bell and a desktop notification asked of the terminal
itself (OSC 9 and OSC 777), passed through tmux when lfg runs inside it. Every title and body is
`printable` first: inside an escape sequence's payload only printable text is safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from lfgtui.alerts.attention import BODY_LIMIT, TITLE_LIMIT, Attention, printable

Protocol = Literal["osc9", "osc777"]

BOTH_PROTOCOLS: tuple[Protocol, ...] = ("osc9", "osc777")
"""What to send when the terminal is unknown: each terminal acts on the one it knows and ignores the other."""

BEL = "\x07"
ESC = "\x1b"


def in_tmux(env: Mapping[str, str]) -> bool:
    """Whether lfg runs inside tmux, which swallows OSC notifications unless they are passed through."""
    return bool(env.get("TMUX"))


def notification_protocols(env: Mapping[str, str]) -> tuple[Protocol, ...]:
    """The one notification sequence a known terminal acts on, else both.

    Terminals that know both (WezTerm, Ghostty, kitty) would show two banners for one event; each of
    these is told apart by a variable it sets (one that survives into tmux where it can)."""
    program = env.get("TERM_PROGRAM", "")
    term = env.get("TERM", "")
    if program == "iTerm.app" or env.get("LC_TERMINAL") == "iTerm2" or "ITERM_SESSION_ID" in env:
        return ("osc9",)
    if "KITTY_WINDOW_ID" in env or term == "xterm-kitty":
        return ("osc9",)
    if program in ("WezTerm", "ghostty") or "WEZTERM_PANE" in env or "GHOSTTY_RESOURCES_DIR" in env:
        return ("osc777",)
    if term.startswith(("foot", "rxvt")) or "VTE_VERSION" in env:
        return ("osc777",)
    return BOTH_PROTOCOLS


def osc9(text: str) -> str:
    """`ESC ] 9 ; text BEL` (iTerm2's notification). A text that started with a digit would be read
    as one of ConEmu's OSC 9 commands (progress, working directory) by ConEmu, Windows Terminal and
    Ghostty, so it never does."""
    message = printable(text, TITLE_LIMIT + 2 + BODY_LIMIT)
    if message[:1].isdigit():
        message = f"lfg: {message}"
    return f"{ESC}]9;{message}{BEL}"


def osc777(title: str, body: str) -> str:
    """`ESC ] 777 ; notify ; title ; body BEL` (urxvt's, VTE's, Ghostty's, foot's): `;` separates the
    fields, so one inside them becomes `,`."""
    title = printable(title, TITLE_LIMIT).replace(";", ",")
    body = printable(body, BODY_LIMIT).replace(";", ",")
    return f"{ESC}]777;notify;{title};{body}{BEL}"


def tmux_passthrough(sequence: str) -> str:
    """`sequence` wrapped for tmux to hand to the outer terminal: `ESC P tmux; … ESC \\`, every ESC
    inside doubled. tmux drops it unless `allow-passthrough` is on."""
    doubled = sequence.replace(ESC, ESC + ESC)
    return f"{ESC}Ptmux;{doubled}{ESC}\\"


def terminal_alert(
    attention: Attention, *, tmux: bool, bell: bool = True, protocols: tuple[Protocol, ...] = BOTH_PROTOCOLS
) -> str:
    """What to write to the terminal for `attention`: a bell, then the notification sequences, each
    passed through tmux if `tmux`. The bell is never wrapped: tmux forwards a pane's bell itself."""
    title = printable(attention.title, TITLE_LIMIT)
    body = printable(attention.body, BODY_LIMIT)
    sequences = []
    if "osc9" in protocols:
        sequences.append(osc9(f"{title}: {body}" if body else title))
    if "osc777" in protocols:
        sequences.append(osc777(title, body))
    if tmux:
        sequences = [tmux_passthrough(sequence) for sequence in sequences]
    return (BEL if bell else "") + "".join(sequences)


TITLE_SAVE = f"{ESC}[22;0t"
TITLE_RESTORE = f"{ESC}[23;0t"
"""xterm's title stack (XTWINOPS 22 and 23, which tmux and most terminals keep): the person's own
title is saved before lfg first sets one, and put back when lfg leaves."""


def terminal_title(title: str) -> str:
    """`ESC ] 2 ; title BEL`: the terminal window's (and tmux pane's) title, printable only."""
    return f"{ESC}]2;{printable(title, TITLE_LIMIT)}{BEL}"
