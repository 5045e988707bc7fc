"""An SDK imported with the cycle collector held off, the first time an `lfg` process needs it (issue #77).

An SDK's import makes its classes by the hundred in one go (the openai SDK's pydantic types, the ACP
SDK's schema, genai-prices' tables): with the collector on, its young passes scan them over and over
as they pile up (a fifth to a third of the import's CPU). So while one is imported the collector is
off, and then what the process holds is frozen (`gc.freeze`: never scanned again; turned back on
without the freeze, the passes that followed cost as much) and the collector is back on. Only the
first import of a module holds it: a freeze keeps for good what garbage the process holds at that
moment, which once per SDK is little, but at every later import would be a run's.

Only in a process `lfg` itself runs (`held_in_this_process`, which `lfgtui.commands.lfg` calls): a
freeze in a process that imports lfg as a library (a test run) would keep what it made so far past
its collections. Imports in threads at once (a worker makes its providers ready in threads) share
one hold, ended by the last of them.
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading
from types import ModuleType

_lock = threading.Lock()
_held = False
"""Whether this process holds the collector off for an SDK's import (`held_in_this_process`)."""
_holding = 0
"""The imports holding it off now."""
_was_on = False
"""Whether the collector was on when the first of them began."""


def held_in_this_process() -> None:
    """From now on, the SDKs this process imports are imported with the collector held off."""
    global _held
    _held = True


def import_sdk(module: str) -> ModuleType:
    """`module`, imported with the collector held off when it is not imported yet (in a process that
    holds it)."""
    if not _held or module in sys.modules:
        return importlib.import_module(module)
    _hold()
    try:
        return importlib.import_module(module)
    finally:
        _release()


def _hold() -> None:
    global _holding, _was_on
    with _lock:
        if _holding == 0:
            _was_on = gc.isenabled()
            gc.disable()
        _holding += 1


def _release() -> None:
    global _holding
    with _lock:
        _holding -= 1
        if _holding == 0 and _was_on:
            gc.freeze()
            gc.enable()
