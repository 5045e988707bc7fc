"""From a provider name to a live provider, for every provider a run uses.

`Providers` looks up the config and its key; a `Backend`, chosen by the caller, makes the provider:
`InProcessBackend` here (headless runs, `lfg ask`, and the worker child itself), or
`worker.ProviderWorker`, whose streams are read in a child process (the TUI). Imports go one way:
`worker_child` imports this module and `worker`; this module and `worker` import neither.

`sim` is the built-in offline provider: the first time a ticket uses it, the sim server starts
in-process on a free loopback port and the ordinary Chat Completions adapter talks to it. The
`sim-responses`, `sim-anthropic` and `sim-agent` providers reach the same server through the other
adapters, so every protocol can be tried offline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from lfgtui.providers.base import Provider, ProviderConfig
from lfgtui.providers.catalog import BUILTIN, ProviderUnavailable, resolve
from lfgtui.providers.kinds import KINDS, SIM_URL, kind_of
from lfgtui.providers.sdk_import import import_sdk

if TYPE_CHECKING:
    from lfgtui.sim.server import SimServer


class Backend(Protocol):
    """Where the streams of a run's providers are read: in this process, or in a worker process."""

    @property
    def pids(self) -> tuple[int, ...]:
        """The processes reading the streams while they run, when that is not this one (for monitoring)."""
        ...

    async def start(self) -> None:
        """Start what the providers need (a child process) now, so that it overlaps the caller's start-up."""
        ...

    async def provider(self, config: ProviderConfig) -> Provider:
        """The provider for a resolved config, ready to stream; made once per provider name."""
        ...

    async def warm(self, config: ProviderConfig) -> None:
        """Begin making the provider for a resolved config now, in the background (`provider` then
        waits for it); a failure is left for `provider` to raise."""
        ...

    async def aclose(self) -> None:
        """Close every provider made and whatever the backend started."""
        ...


class Providers:
    """The providers of one run, made on first use by the caller's backend and closed together.

    The keys are looked up here, whatever the backend, so a missing key is reported before anything
    starts. A given `sim` serves every `sim:` URL (the caller owns it); without one the backend starts
    its own where the streams are read.
    """

    def __init__(
        self,
        configs: Mapping[str, ProviderConfig] | None = None,
        sim: SimServer | None = None,
        *,
        backend: Backend | None = None,
    ) -> None:
        self.configs = dict(BUILTIN) | dict(configs or {})
        self.backend: Backend = backend if backend is not None else InProcessBackend()
        self._sim = sim
        self._ready: dict[str, Provider] = {}

    @property
    def worker_pids(self) -> tuple[int, ...]:
        """The provider worker's processes while they run (none for streams read in this process)."""
        return self.backend.pids

    async def get(self, name: str) -> Provider:
        """The provider `name`, ready to stream: its SDK imported, its sim started (not timed as TTFT)."""
        if (ready := self._ready.get(name)) is not None:
            return ready
        provider = self._ready[name] = await self.backend.provider(self._config(name))
        return provider

    def _config(self, name: str) -> ProviderConfig:
        """The config of `name` resolved (its key looked up), pointed at the given sim if it is one."""
        config = resolve(self.configs[name])
        if self._sim is not None and (path := sim_path(config)) is not None:
            config = replace(config, base_url=self._sim.url + path)
        return config

    async def warm(self, names: Iterable[str]) -> None:
        """Start the backend and have it begin making these providers, so that its start-up (the
        worker's SDK imports, the sim) overlaps the caller's own: the worker is asked before this
        returns, not whenever the caller's imports next let the loop run. A coding agent is skipped
        (it runs as a process of its own, not through the backend), and a name that cannot be
        resolved (a missing key) is left for the run's `get` to report."""
        await self.backend.start()
        for name in names:
            known = self.configs.get(name)
            if known is None or kind_of(known).coding_agent:
                continue
            try:
                config = self._config(name)
            except ProviderUnavailable:
                continue
            await self.backend.warm(config)

    async def aclose(self) -> None:
        self._ready.clear()
        await self.backend.aclose()

    async def __aenter__(self) -> Providers:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class InProcessBackend:
    """Streams read on this process's loop by the adapters themselves, with a sim server of its own
    started the first time a config still points at `sim:`."""

    pids: tuple[int, ...] = ()

    def __init__(self) -> None:
        self._adapters: dict[str, Provider] = {}
        self._making = asyncio.Lock()  # many tickets ask for a provider at once: make it only once
        self._sim: SimServer | None = None
        self._warming: set[asyncio.Task[Provider]] = set()

    async def start(self) -> None:
        """Nothing to start ahead: each adapter is made when first asked for."""

    async def warm(self, config: ProviderConfig) -> None:
        task = asyncio.create_task(self.provider(config), name=f"warm provider {config.name}")
        self._warming.add(task)
        task.add_done_callback(self._warmed)

    def _warmed(self, task: asyncio.Task[Provider]) -> None:
        self._warming.discard(task)
        if not task.cancelled():
            task.exception()  # seen here; `provider` raises it again for whoever needs it

    async def provider(self, config: ProviderConfig) -> Provider:
        async with self._making:
            if config.name not in self._adapters:
                if (path := sim_path(config)) is not None:
                    config = replace(config, base_url=await self._sim_url() + path)
                self._adapters[config.name] = make_adapter(config)
        return self._adapters[config.name]

    async def _sim_url(self) -> str:
        if self._sim is None:
            from lfgtui.sim.server import SimServer  # here: the TUI's process reads no stream

            self._sim = await SimServer().start()
        return self._sim.url

    async def aclose(self) -> None:
        for task in list(self._warming):
            task.cancel()
        await asyncio.gather(*self._warming, return_exceptions=True)
        for adapter in self._adapters.values():
            await adapter.aclose()
        self._adapters.clear()
        if self._sim is not None:
            await self._sim.aclose()
            self._sim = None


def sim_path(config: ProviderConfig) -> str | None:
    """The path on the sim server a config points at (a `sim:` URL, the `sim` kind's default), else None."""
    base_url = config.base_url if config.base_url is not None else kind_of(config).default_base_url
    if base_url is None or not base_url.startswith(SIM_URL):
        return None
    return base_url.removeprefix(SIM_URL)


def make_adapter(config: ProviderConfig) -> Provider:
    """The adapter for a resolved config, made by its kind; each SDK is imported only when a provider
    needs it (the collector held off meanwhile: sdk_import.py)."""
    kind = KINDS.get(config.kind)
    if kind is None or kind.adapter is None:
        adapters = ", ".join(name for name, known in KINDS.items() if known.adapter is not None)
        raise ValueError(f"provider {config.name!r}: no adapter for kind {config.kind!r} (kinds: {adapters})")
    module, _, name = kind.adapter.partition(":")
    adapter: Callable[[ProviderConfig], Provider] = getattr(import_sdk(module), name)
    return adapter(config)
