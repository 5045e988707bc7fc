"""Helpers for tests that stream through a provider adapter and look at what came out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from lfgtui.events import ErrorInfo, Event, EventFactory, ReasoningDelta, TextDelta
from lfgtui.providers.base import ModelCall, Provider, ProviderError, UserMessage

E = TypeVar("E", bound=Event)


def write_scenario(folder: Path, name: str, toml: str) -> str:
    """Write a scenario file and return its model name."""
    (folder / f"{name}.toml").write_text(toml, encoding="utf-8")
    return name


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
