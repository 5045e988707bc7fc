"""What the reasoning-state tests share: a provider flavour as a person configures it, and one
attempt of lfg's tool loop through it with lfg's `read_file` offered and run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lfgtui.events import AttemptEnded, Event, EventFactory
from lfgtui.providers.base import Message, ModelCall, Provider, ProviderConfig
from lfgtui.run.tool_loop import AttemptTask, run_tool_loop
from lfgtui.sim.server import SimServer
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tools.base import ToolContext
from lfgtui.tools.toolbox import Toolbox

READS = {"read_file": BUILTIN_TOOLS["read_file"]}
OFFERED = (BUILTIN_TOOLS["read_file"].spec,)


@dataclass(frozen=True)
class Flavour:
    """A provider as a person configures it, and a model of today that the sim answers as the real API
    does (with a scenario the test maps the model's name to)."""

    name: str
    model: str
    make: Callable[[ProviderConfig], Provider]
    kind: str
    path: str


def provider(flavour: Flavour, sim: SimServer, name: str | None = None) -> Provider:
    config = ProviderConfig(name=name or flavour.name, kind=flavour.kind, base_url=sim.url + flavour.path)
    return flavour.make(config)


async def attempt(
    adapter: Provider, call: ModelCall, workdir: Path, transcript: list[Message] | None = None
) -> list[Event]:
    """One attempt of `call` through the tool loop, its `read_file` calls run in `workdir`; the adapter
    is closed after."""
    toolbox = Toolbox(READS, ToolContext(workdir=workdir, env={}), _never_asked)
    try:
        stream = run_tool_loop(
            adapter, AttemptTask(call), EventFactory("explore", 1), toolbox, transcript=transcript
        )
        return [event async for event in stream]
    finally:
        await adapter.aclose()


async def _never_asked(_: object) -> None:
    return None


def ended(events: list[Event]) -> AttemptEnded:
    last = events[-1]
    assert isinstance(last, AttemptEnded)
    return last
