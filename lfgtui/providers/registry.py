"""From a provider config to a live adapter, for every provider a run uses.

`sim` is the built-in offline provider: the first time a ticket uses it, the sim server starts
in-process on a free loopback port and the ordinary Chat Completions adapter talks to it. The
`sim-responses`, `sim-anthropic` and `sim-agent` providers reach the same server through the other
adapters, so every protocol can be tried offline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from lfgtui.providers.base import Provider, ProviderConfig
from lfgtui.providers.catalog import BUILTIN, KINDS, SIM_URL, resolve
from lfgtui.sim.server import SimServer

if TYPE_CHECKING:
    from lfgtui.providers.worker import ProviderWorker


class Providers:
    """The adapters of one run, created on first use and closed together (with the sim, if started).

    With `worker=True` every stream runs in a child process (see worker.py): the keys and URLs are
    resolved here, so a missing key is still reported before anything starts.
    """

    def __init__(
        self,
        configs: Mapping[str, ProviderConfig] | None = None,
        sim: SimServer | None = None,
        *,
        worker: bool = False,
    ) -> None:
        self.configs = dict(BUILTIN) | dict(configs or {})
        self._adapters: dict[str, Provider] = {}
        self._making = asyncio.Lock()  # many tickets ask for a provider at once: make it only once
        self._starting_sim = asyncio.Lock()
        self._sim = sim
        self._own_sim = sim is None
        self._worker: ProviderWorker | None = None
        self._warming: set[asyncio.Task[Provider]] = set()
        if worker:
            from lfgtui.providers.worker import ProviderWorker

            self._worker = ProviderWorker()

    @property
    def worker_pid(self) -> int | None:
        """The provider worker's process id while it runs, else None."""
        return self._worker.pid if self._worker is not None else None

    async def get(self, name: str) -> Provider:
        """The provider `name`, ready to stream: its SDK imported, its sim started (not timed as TTFT)."""
        if self._worker is None:
            return self._adapters.get(name) or await self.adapter(resolve(self.configs[name]))
        from lfgtui.providers.worker import RemoteProvider

        if name not in self._adapters:
            config = resolve(self.configs[name])
            given_sim = self._sim is not None and not self._own_sim
            located = await self._locate(config) if given_sim else config
            self._adapters.setdefault(name, RemoteProvider(self._worker, located))
        remote = self._adapters[name]
        assert isinstance(remote, RemoteProvider)
        await remote.ready()
        return remote

    async def warm(self, names: Iterable[str]) -> None:
        """Start the worker now and make these providers ready in the background, so that the child's
        start-up (its SDK imports, the sim) overlaps the UI's own. A failure is left for the run's
        `get` to report."""
        if self._worker is not None:
            await self._worker.start()
        for name in names:
            task = asyncio.create_task(self.get(name), name=f"warm provider {name}")
            self._warming.add(task)
            task.add_done_callback(self._warmed)

    def _warmed(self, task: asyncio.Task[Provider]) -> None:
        self._warming.discard(task)
        if not task.cancelled():
            task.exception()  # seen here; `get` raises it again for whoever needs the provider

    async def adapter(self, config: ProviderConfig) -> Provider:
        """The adapter for a resolved config, made once per provider name."""
        async with self._making:
            if config.name not in self._adapters:
                self._adapters[config.name] = make_adapter(await self._locate(config))
        return self._adapters[config.name]

    async def _locate(self, config: ProviderConfig) -> ProviderConfig:
        """Point a `sim:` URL (the `sim` kind's default) at the sim server, starting it if needed."""
        if config.kind == "sim" and config.base_url is None:
            config = replace(config, base_url=BUILTIN["sim"].base_url)
        if config.base_url is not None and config.base_url.startswith(SIM_URL):
            config = replace(config, base_url=await self._sim_url() + config.base_url.removeprefix(SIM_URL))
        return config

    async def _sim_url(self) -> str:
        async with self._starting_sim:
            if self._sim is None:
                self._sim = await SimServer().start()
        return self._sim.url

    async def aclose(self) -> None:
        for task in list(self._warming):
            task.cancel()
        await asyncio.gather(*self._warming, return_exceptions=True)
        for adapter in self._adapters.values():
            await adapter.aclose()
        self._adapters.clear()
        if self._worker is not None:
            await self._worker.aclose()
        if self._sim is not None and self._own_sim:
            await self._sim.aclose()
            self._sim = None

    async def __aenter__(self) -> Providers:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def make_adapter(config: ProviderConfig) -> Provider:
    """The adapter for a resolved config; each SDK is imported only when a provider needs it."""
    match config.kind:
        case "openai" | "sim":
            from lfgtui.providers.openai_chat import OpenAIChatProvider

            return OpenAIChatProvider(config)
        case "openai-responses":
            from lfgtui.providers.openai_responses import OpenAIResponsesProvider

            return OpenAIResponsesProvider(config)
        case "anthropic":
            from lfgtui.providers.anthropic import AnthropicProvider

            return AnthropicProvider(config)
        case "sse":
            from lfgtui.providers.sse import AgentSSEProvider

            return AgentSSEProvider(config)
    raise ValueError(f"provider {config.name!r}: unknown kind {config.kind!r} (kinds: {', '.join(KINDS)})")
