"""Helpers for tests that stream through a provider adapter and look at what came out."""

from __future__ import annotations

import ast
import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from lfgtui.cost.metrics import Metrics
from lfgtui.events import ErrorInfo, Event, EventFactory, ReasoningDelta, RequestSent, TextDelta, Usage
from lfgtui.providers.base import ModelCall, Provider, ProviderError, UserMessage
from lfgtui.sim.server import SimServer
from lfgtui.sim.wire import estimate_input_tokens

E = TypeVar("E", bound=Event)


GATED_WRITE = """
ttft_ms = 20
tokens_per_s = 400

[[call]]
text = "Noting that down first."
[[call.tool_call]]
name = "write_file"
arguments = { path = "note.md", content = "noted" }

[[call]]
text = "Noted: {{ prompt }}"
"""
"""A scenario whose first call writes a file (waiting for approval, so a turn stays running while
a test sends it messages), then answers quoting the prompt."""


SURROGATE_MIDWAY = """
ttft_ms = 20
tokens_per_s = 200

[[call]]
text = "Half of a character, and the rest."

[[fault]]
kind = "surrogate"
after_tokens = 2
"""
"""A scenario whose answer holds JSON's lone-surrogate escape after its second token (the sim's
`surrogate` fault), then goes on."""


LOOK_TWICE = """description = "Looks at the folder, then answers: two requests with one prefix."
ttft_ms = 0
tokens_per_s = 0
prompt_caching = 1

[[call]]
text = "Let me look."
[[call.tool_call]]
name = "list_dir"
arguments = { path = "." }

[[call]]
text = "It holds a README."
"""
"""A scenario of two requests with one prefix (model, system prompt, tools) that the sim caches as the
real APIs do: the first writes the prefix to the cache, the second reads it."""


def write_scenario(folder: Path, name: str, toml: str) -> str:
    """Write a scenario file and return its model name."""
    (folder / f"{name}.toml").write_text(toml, encoding="utf-8")
    return name


def one_command(folder: Path, name: str, command: str, **arguments: object) -> str:
    """A scenario whose model runs `command` with `run_command` (and `arguments`), then ends."""
    given = ", ".join(
        f"{key} = {json.dumps(value)}" for key, value in {"command": command, **arguments}.items()
    )
    toml = (
        'ttft_ms = 1\ntokens_per_s = 1000\n[[call]]\ntext = "trying"\n'
        f'[[call.tool_call]]\nname = "run_command"\narguments = {{ {given} }}\n[[call]]\ntext = "done"\n'
    )
    return write_scenario(folder, name, toml)


async def cached_usage(
    provider: Provider, sim: SimServer, scenario_dir: Path
) -> tuple[list[Usage], tuple[int, ...]]:
    """Stream a scenario whose usage reports 1200 prompt tokens read from the cache and 300 written to
    it: the `Usage` events, and what each should say as (whole prompt, reads, writes)."""
    toml = "cache_read_tokens = 1200\ncache_write_tokens = 300\n[[call]]\ntext = 'From the cache.'\n"
    out = await collect(provider, ask(write_scenario(scenario_dir, "cached", toml)))
    assert out.error is None
    return out.of(Usage), (estimate_input_tokens(sim.log[0].body) + 1200 + 300, 1200, 300)


def ask(model: str, prompt: str = "hi", **fields: object) -> ModelCall:
    return ModelCall(model=model, messages=(UserMessage(prompt),), **fields)  # type: ignore[arg-type]


@dataclass
class Collected:
    events: list[Event]
    error: ErrorInfo | None

    def of(self, cls: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, cls)]

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.of(TextDelta))

    @property
    def reasoning(self) -> str:
        return "".join(e.text for e in self.of(ReasoningDelta))


async def collect(provider: Provider, call: ModelCall) -> Collected:
    """Stream one model call to the end; a `ProviderError` is captured, not raised."""
    events: list[Event] = []
    try:
        async for event in provider.stream(call, EventFactory("t1", 1)):
            events.append(event)
    except ProviderError as exc:
        return Collected(events, exc.info)
    return Collected(events, None)


def gauged_and_received_rates(out: Collected, sent: list[float]) -> tuple[float | None, float]:
    """The tok/s the gauge reads of a collected stream (from its request on), and the pace lfg
    received its text at: the tokens the sim sent after its first chunk (`sent`: each token's time,
    `RequestRecord.token_times`) over the time from the first text chunk to the last, on the events'
    own stamps. Not the sim's send times: on a loaded machine the client may read a
    stretch of them late and in one burst, which no gauge could have seen otherwise."""
    gauge = Metrics()
    gauge.apply(EventFactory("t", 1, clock=lambda: out.events[0].t)(RequestSent, call=0))
    for event in out.events:
        gauge.apply(event)
    texts = [e.t for e in out.of(TextDelta) if e.text]
    return gauge.tokens_per_s, (len(sent) - sent.count(sent[0])) / (texts[-1] - texts[0])


@dataclass
class CannedServer:
    """A loopback HTTP server answering request N with `bodies[N]`, then closing the connection.

    For wire shapes the sim server does not produce: the tests control every byte.
    """

    bodies: list[bytes]
    content_type: str = "text/event-stream"
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")[1:]
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)
        }
        await reader.readexactly(int(headers.get("content-length", "0")))
        body = self.bodies[len(self.headers)]
        self.headers.append(headers)
        writer.write(
            f"HTTP/1.1 200 OK\r\ncontent-type: {self.content_type}\r\nconnection: close\r\n\r\n".encode()
        )
        writer.write(body)
        await writer.drain()
        writer.close()


def imported_lfgtui_modules(path: Path) -> set[str]:
    """Every lfgtui module a source file imports, at any depth (in functions, under TYPE_CHECKING)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("lfgtui.")}
