"""Whether a coding agent's own sandbox can start inside a ticket's box, found once per box kind by
running tools/nest_probe.py in one: Codex, in every mode but its full-access one, runs each command
in a bubblewrap of its own, which needs a user namespace inside lfg's. lfg's bubblewrap box gives
one (as root, `ROOT_MAPPED`); a docker container's seccomp filter refuses it, and root's podman
maps no ids, so each command Codex ran there failed while its ticket said it completed. Such a
ticket now fails at start in one line (run/local.py), and the box is never loosened for it: no
capability, seccomp filter or mapping of root's ids is given to let the agent's sandbox start."""

from __future__ import annotations

import asyncio
import functools
import subprocess
from pathlib import Path

from lfgtui.inert import inert
from lfgtui.tools import containers
from lfgtui.tools.sandbox import Sandbox, unavailable
from lfgtui.tools.scripts import stdlib_script

PROBE = Path(__file__).with_name("nest_probe.py")
PROBE_TIMEOUT_S = 60.0
BOXES = ("bwrap", *containers.ENGINES)
UNAVAILABLE = "the box itself is not available here"


@functools.cache
def _refused(kind: str) -> str | None:
    """Why a sandbox of an agent's own cannot start in a box of `kind` here (one line); None when it
    can. The box itself must be available (its own probe passed)."""
    box = (
        Sandbox((), readable=_probe_runs_from())
        if kind not in containers.ENGINES
        else containers.ContainerBox((), engine=kind, ticket="probe")
    )
    try:
        tried = subprocess.run(
            box.wrap(stdlib_script(PROBE), Path("/")),
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the probe did not run ({inert(str(exc))})"
    if tried.returncode == 0:
        return None
    said = (tried.stdout + tried.stderr).decode(errors="replace")
    return inert(" ".join(said.split())[:300]) or f"the probe exited {tried.returncode}"


def _probe_runs_from() -> tuple[Path, ...]:
    """The probe's script and the interpreter that runs it, shown in the bubblewrap box wherever
    they lie: under /tmp (an lfg run from a checkout there) the box's own /tmp hid them, the probe
    could not start, and every Codex ticket was refused as if its sandbox could not."""
    return tuple(dict.fromkeys((PROBE.parent, *containers.interpreter())))


async def refused(kind: str, home_shown: bool) -> str | None:
    """`_refused`, off the loop; and in a container box that shows the home (`home_shown`), the
    engine's own store there (rootless podman's): the home's bind carries the mounts of every box's
    root, its own too, which Codex's sandbox, mounting again what the mount table lists, trips on
    (`bwrap: Can't mkdir parents for …/containers/storage/…/tmp/codex-daemon-…`)."""
    if (why := await asyncio.to_thread(_refused, kind)) is not None or kind not in containers.ENGINES:
        return why
    if home_shown and (store := await asyncio.to_thread(containers.store_in_home, kind)) is not None:
        return (
            f"it trips on the mounts of {kind}'s own store, {inert(str(store))}, in your home, which "
            "the box shows: keep the store outside your home (graphroot in storage.conf), or "
            'sandbox_home = "hidden"'
        )
    return None


def own_sandbox_refused(provider: str, mode: str | None, kind: str, why: str, others: tuple[str, ...]) -> str:
    """The line a ticket fails with when its agent would sandbox each command where it cannot."""
    named = f'in mode "{mode}"' if mode is not None else "in its own mode"
    modes = " or ".join(f'mode = "{other}"' for other in others)
    return (
        f"{provider} {named} runs each command in a sandbox of its own, which cannot start inside "
        f'a sandbox = "{kind}" box here ({why}): every command it ran would fail; use sandbox = "bwrap", '
        f"or {modes} (lfg's box still holds it)"
    )


async def in_each_box() -> dict[str, str | None]:
    """For `lfg agents --check`, each box kind's verdict on an agent's own sandbox, as a ticket's
    start finds it with the home shown (the default): None where it starts, else why not (the box
    itself unavailable included). One kind at a time: each probe is cached once run."""
    verdicts: dict[str, str | None] = {}
    for kind in BOXES:
        down = await (unavailable() if kind == "bwrap" else containers.unavailable(kind))
        verdicts[kind] = UNAVAILABLE if down is not None else await refused(kind, True)
    return verdicts


def in_box_line(kind: str, others: tuple[str, ...] | None, verdict: str | None) -> str:
    """One agent in one box kind, in one line: whether its own sandbox (in every mode but `others`)
    starts there; None `others`: it runs no sandbox of its own."""
    said = f'inside sandbox = "{kind}": '
    if others is None:
        return said + "runs no sandbox of its own"
    modes = " or ".join(f'mode = "{other}"' for other in others)
    if verdict is None:
        return said + "its own sandbox starts"
    if verdict == UNAVAILABLE:
        return said + f"not known: {UNAVAILABLE} (said below)"
    return said + f"its own sandbox cannot start ({verdict}): a ticket there fails at start unless {modes}"
