"""An SDK's first import in an `lfg` process runs with the cycle collector held off, then freezes what
the process holds (issue #77); a process that imports lfg as a library is never frozen by it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE


def watching(sdk: str) -> str:
    """Code that counts the collections run once `sdk` began to load, before anything was frozen."""
    return (
        "import gc, sys\n"
        "early = []\n"
        "def seen(phase, info):\n"
        f"    if phase == 'start' and {sdk!r} in sys.modules and not gc.get_freeze_count():\n"
        "        early.append(info)\n"
        "gc.callbacks.append(seen)\n"
    )


@pytest.mark.parametrize(("provider", "sdk"), [("sim", "openai"), ("sim-acp", "acp")])
def test_lfg_imports_a_providers_sdk_with_the_collector_held_off(
    tmp_path: Path, provider: str, sdk: str
) -> None:
    """`lfg run` of a sim ticket imports the OpenAI SDK (its adapter's), of a sim agent's the ACP SDK
    (lfg's client side): no collection runs while it loads, and the collector is on again after."""
    lfg = Lfg(tmp_path)
    tickets = lfg.tickets(f'[[ticket]]\nid = "t"\nprompt = "hi"\nprovider = "{provider}"\nmodel = "hello"\n')
    code = watching(sdk) + (
        "from lfgtui.commands import lfg\n"
        "code = lfg()\n"
        f"print('seen:', len(early), gc.isenabled(), {sdk!r} in sys.modules, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    args = ["run", "--headless", "--no-history", "--config", str(lfg.config), str(tickets)]
    command = [sys.executable, "-c", code, *args]
    done = subprocess.run(command, env=lfg.env, capture_output=True, text=True, timeout=60 * PATIENCE)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == "seen: 0 True True", done.stderr


def test_a_process_using_lfg_as_a_library_is_never_frozen_by_an_import() -> None:
    """A test run makes adapters in its own process: a freeze there would keep what its tests made
    past their collections, so only a process `lfg` runs holds the collector."""
    code = watching("openai") + (
        "from lfgtui.providers.base import ProviderConfig\n"
        "from lfgtui.providers.registry import make_adapter\n"
        "make_adapter(ProviderConfig('o', 'openai', base_url='http://127.0.0.1:9/v1', api_key='k'))\n"
        "print(bool(early), gc.get_freeze_count(), gc.isenabled())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60 * PATIENCE, check=True
    )
    assert done.stdout.split() == ["True", "0", "True"], done.stdout
