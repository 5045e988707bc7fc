"""The coordinator lease as a fence: each taking of a run's lease gets the next *generation*
(`Layout.generation`, a counter that outlives the lease), and every write a coordinator makes on the
broker (a work entry, a control entry, a write-back) is a script that first checks, in the same
step, that no later generation took the run. A coordinator paused past its lease (a laptop lid, a
suspended VM) while another resumed the run wakes to find its writes refused, and stands down in one
line, exit 4, rather than enqueue the run's dependents a second time (issue #74).

A generation the broker no longer has, or one lower than this coordinator's, is the broker going
back in time (restored, failed over, flushed): that is not a successor, and the lease's renewal
takes the run again at its own generation (broker/coordinator_lease.py `RENEW`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

STOOD_DOWN = 4
"""The exit code of a coordinator that found a later one holds its run."""
REFUSED = "LFGFENCED"
"""How a fenced script's refusal starts."""

FENCE = f"""
local function superseded(key, mine)
    if mine == '' then return false end
    local now = tonumber(redis.call('GET', key) or '0') or 0
    if now > tonumber(mine) then
        return redis.error_reply('{REFUSED} generation ' .. now .. ' coordinates the run, not ' .. mine)
    end
    return false
end
local stale = superseded(KEYS[#KEYS], ARGV[#ARGV])
if stale then return stale end
"""
"""Lua that starts every fenced script: its last key is the run's generation, its last argument the
writer's generation ('' for a writer that is no coordinator). It writes nothing once a later
generation took the run: the error reply `REFUSED` …"""


class Superseded(Exception):
    """A later coordinator holds the run: the message says so, for the one line this one stands down
    with."""


@dataclass(frozen=True)
class Fence:
    """A coordinator's fencing token: the run's generation key and the generation it holds (0: not
    fenced, a writer that is no coordinator)."""

    key: str
    generation: int = 0

    async def call(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run a script that starts with `FENCE`, the fence appended; raise `Superseded` when it
        refused."""
        try:
            return await script(keys=[*keys, self.key], args=[*args, self.generation or ""])
        except Exception as exc:
            if (refused := fenced(exc)) is not None:
                raise refused from None
            raise


def fenced(exc: Exception) -> Superseded | None:
    """The `Superseded` a fenced script's refusal (`exc`) says, or None for any other failure."""
    from redis.exceptions import ResponseError

    if isinstance(exc, ResponseError) and REFUSED in str(exc):
        return Superseded(superseded(str(exc).partition(REFUSED)[2].strip()))
    return None


def superseded(why: str) -> str:
    return (
        f"another coordinator took this run over while this one was paused or cut off from the broker "
        f"({why}): this one stands down, writing nothing more; that one goes on with the run"
    )


LEAVE_FULL_SCREEN = (
    "\x1b[<u\x1b[?1049l\x1b[?25h\x1b[?1004l\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?7h"
)
"""What a full-screen TUI is left with (Textual's driver writes the same as it stops): its keyboard
protocol, the alternate screen, a hidden cursor, focus and mouse reports, bracketed paste, no wrap."""


def stand_down(why: str) -> NoReturn:
    """End this coordinator at once, saying `why` in one line: what it would write next is stale,
    and anything it did on the way out (its run's `end`, cancels to the workers) would be too. A
    TUI's terminal is given back first, as the TUI would leave it, so the line is read and the shell
    takes keys again."""
    sys.stdout.flush()
    _leave_full_screen()
    print(f"lfg: {why}", file=sys.stderr, flush=True)
    os._exit(STOOD_DOWN)


def _leave_full_screen() -> None:
    """A terminal in raw mode (the TUI's: no line editing) back to the person's shell: line mode,
    echo and signals on, output processed, and the TUI's screen modes left. A terminal in line
    mode (a headless run's) is left as it is."""
    import termios

    try:
        fd = sys.__stdin__.fileno() if sys.__stdin__ is not None else -1
        attrs = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        return
    if attrs[3] & termios.ICANON:
        return
    attrs[0] |= termios.ICRNL | termios.IXON
    attrs[1] |= termios.OPOST
    attrs[3] |= termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN
    try:
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        if sys.__stderr__ is not None and os.isatty(sys.__stderr__.fileno()):
            os.write(sys.__stderr__.fileno(), LEAVE_FULL_SCREEN.encode())
    except (OSError, ValueError, termios.error):
        pass
