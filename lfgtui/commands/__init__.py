"""The `lfg` command line: one module per command, each importing what it needs only when it runs.

- `main`: the parser, the handler each command registers, exit on a closed pipe;
- `subcommands`: argparse's subcommands, each one's arguments added only when it is chosen;
- `common`: exit codes, the options several commands share, a recorded run looked up;
- `compose`: how a run runs (`RunOptions`) and the TUI opened (`open_tui`);
- `ask`, `run`, `resume` (`resume` and `replay`), `history`, `remote` (`serve`, `attach`, `--serve`),
  `web`, `worktrees`, `agents`, `sim`: the commands;
- `headless`: what a run without the TUI prints (`lfg run --headless`, `--json`, `lfg attach --json`):
  progress lines and a closing table, or NDJSON;
- `logs`: lfg's own log, where libraries' log records go during a command, inert, never to the terminal.

Nothing outside this package imports it, except `lfgtui/__main__.py`: `lfg` (the entry point) is
this package's, so that Ctrl-C while even `main` is being imported ends lfg as Ctrl-C does later.
"""

import gc
import signal
import sys
from types import FrameType

EXIT_SIGINT = 130
"""Stopped by Ctrl-C, as a shell reports a process SIGINT ended."""

_ctrl_c: list[int] = []
"""The Ctrl-Cs that came before a command's own handling of them (see `interrupted`)."""


def _on_ctrl_c(signum: int, frame: FrameType | None) -> None:
    _ctrl_c.append(signum)
    signal.default_int_handler(signum, frame)


def catch_ctrl_c() -> None:
    """Ctrl-C raises KeyboardInterrupt as Python's own handler does, and is remembered too. One
    Python swallows (raised in a finalizer: `interrupted`) is not reported on stderr either, as
    "Exception ignored in: <function _ModuleLock.cb …>" and a KeyboardInterrupt traceback: lfg has it,
    and says it once, as every Ctrl-C, "lfg: interrupted"."""
    signal.signal(signal.SIGINT, _on_ctrl_c)
    sys.unraisablehook = _unraisable


def _unraisable(unraisable: "sys.UnraisableHookArgs") -> None:
    if _ctrl_c and unraisable.exc_type is KeyboardInterrupt:
        return  # remembered by `_on_ctrl_c`, which raised it
    sys.__unraisablehook__(unraisable)


def ctrl_c_raises() -> bool:
    """Whether Ctrl-C would raise KeyboardInterrupt wherever the main thread is (lfg's handler, or
    Python's), rather than reach a run's loop, which handles it once it has started."""
    return signal.getsignal(signal.SIGINT) in (_on_ctrl_c, signal.default_int_handler)


def interrupted() -> bool:
    """Whether Ctrl-C came since lfg started, even one Python swallowed: the KeyboardInterrupt it
    raises is ignored when it lands in a finalizer (an import's module lock callback, a `__del__`),
    and lfg would go on to run as if no one had asked it to stop."""
    return bool(_ctrl_c)


def lfg() -> int:
    """`lfg` and `python -m lfgtui`: the command line run, and Ctrl-C at any moment of it, imports
    included, one line and 130, never a traceback (a run's own Ctrl-C cancels its tickets first)."""
    catch_ctrl_c()
    try:
        from lfgtui.providers.sdk_import import held_in_this_process

        held_in_this_process()  # lfg's own process: its SDKs are imported with the collector held off
        from lfgtui.commands.main import main

        return main()
    except KeyboardInterrupt:
        return _interrupted()
    except Exception:
        if not _ctrl_c:
            raise
        # Ctrl-C came as lfg started, and Python raised something else in its place: CPython 3.11
        # words a failed `from M import name` (ssl.py's, of `_ssl`) in Python code, and a Ctrl-C
        # landing there leaves it no message: TypeError "expected a message argument".
        return _interrupted()
    finally:
        # What lfg holds now goes with the process: frozen, the collector's passes at exit skip it.
        # They walked every object the imports made (an SDK's schemas), 0.1-0.3 s of CPU an `lfg`
        # for nothing: what lfg writes it closes itself, and no finalizer of what is left matters.
        gc.freeze()


def _interrupted() -> int:
    """Ctrl-C ended lfg before a run took it over: one line, and 130."""
    _forget_the_interrupt()
    try:
        sys.stderr.write("lfg: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # a terminal gone away, stderr closed
        pass
    return EXIT_SIGINT


def _forget_the_interrupt() -> None:
    """Once lfg has caught a KeyboardInterrupt, make sure the interpreter exits with lfg's code. CPython
    3.11 notes a KeyboardInterrupt that stopped code run by `exec` of a string as never handled, even
    once it is caught: a Ctrl-C landing in a method `dataclasses` writes that way while a module is
    imported left that note, and at exit the interpreter then ended itself by SIGINT rather than with
    130. Running an empty string through `exec` clears the note (tests/hardening/test_signals.py)."""
    exec("")
