"""Provider streams in the worker process: the same events as in-process, failures kept apart."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import pytest

from lfgtui.events import (
    CallEnded,
    ErrorKind,
    Event,
    EventFactory,
    ReasoningDelta,
    TextDelta,
    ToolCallReady,
    observed,
)
from lfgtui.providers import registry, worker, worker_child
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.registry import InProcessBackend, Providers
from lfgtui.providers.worker import Open, ProviderWorker, ProviderWorkerError
from lfgtui.sim.server import SimServer
from tests.support.patience import PATIENCE
from tests.support.streams import (
    SURROGATE_MIDWAY,
    ask,
    collect,
    gauged_and_received_rates,
    imported_lfgtui_modules,
    write_scenario,
)

PROVIDERS = ["sim", "sim-responses", "sim-anthropic", "sim-agent"]


def comparable(events: list[Event]) -> list[tuple[str, dict[str, object]]]:
    """Events without their stamps (sequence and time), which differ between two runs, each text's
    pieces in a row joined (the worker joins what one read brought: `events.joined`)."""
    shown: list[tuple[str, dict[str, object]]] = []
    for event in events:
        name, fields = type(event).__name__, {k: v for k, v in asdict(event).items() if k not in ("seq", "t")}
        if shown and isinstance(event, TextDelta | ReasoningDelta) and shown[-1][0] == name:
            shown[-1][1]["text"] = f"{shown[-1][1]['text']}{fields['text']}"
            continue
        shown.append((name, fields))
    return shown


@pytest.mark.parametrize("name", PROVIDERS)
async def test_every_adapter_streams_the_same_events_through_the_worker(sim: SimServer, name: str) -> None:
    call = ask("parallel-tools", "look around")
    async with Providers(sim=sim) as inline, Providers(sim=sim, backend=ProviderWorker()) as isolated:
        here = await collect(await inline.get(name), call)
        there = await collect(await isolated.get(name), call)
        assert len(isolated.worker_pids) == 1 and os.getpid() not in isolated.worker_pids
        assert inline.worker_pids == ()
    assert here.error is None and there.error is None
    assert there.of(ToolCallReady) and there.of(CallEnded)
    assert comparable(there.events) == comparable(here.events)
    assert [e.seq for e in there.events] == list(range(len(there.events)))


async def test_events_are_stamped_when_the_worker_reads_them_on_the_shared_clock(sim: SimServer) -> None:
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        provider = await providers.get("sim")
        assert providers.worker_pids  # made ready by get(): startup is not timed as TTFT
        before = time.monotonic()
        out = await collect(provider, ask("hello"))
        after = time.monotonic()
    stamps = [e.t for e in out.of(TextDelta)]
    assert stamps == sorted(stamps) and before < stamps[0] and stamps[-1] < after
    record = sim.log[-1]
    assert record.first_token_at is not None and record.first_token_at <= stamps[0]


async def test_a_provider_failure_comes_back_classified(sim: SimServer) -> None:
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        out = await collect(await providers.get("sim"), ask("fault-401"))
    assert out.error is not None and out.error.kind is ErrorKind.AUTH and out.error.status == 401


async def test_a_partial_answer_then_a_drop_keeps_the_text(sim: SimServer) -> None:
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        out = await collect(await providers.get("sim"), ask("fault-drop"))
    assert out.error is not None and out.error.kind is ErrorKind.CONNECTION
    assert out.text


async def test_closing_a_stream_closes_its_connection_in_the_worker(sim: SimServer) -> None:
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        stream = (await providers.get("sim")).stream(ask("long-answer:repeat=50"), EventFactory("t", 1))
        async for event in stream:
            if isinstance(event, TextDelta):
                break
        await stream.aclose()
        await asyncio.wait_for(sim.log[-1].disconnected.wait(), 10 * PATIENCE)
        again = await collect(await providers.get("sim"), ask("hello"))
    assert again.error is None and again.text


async def test_a_dead_worker_fails_its_streams_and_the_next_call_starts_a_new_one(sim: SimServer) -> None:
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        provider = await providers.get("sim")
        stream = provider.stream(ask("long-answer:repeat=50"), EventFactory("t", 1))
        async for event in stream:
            if isinstance(event, TextDelta):
                break
        (first,) = providers.worker_pids
        os.kill(first, signal.SIGKILL)
        with pytest.raises(ProviderWorkerError, match="worker process exited"):
            async with asyncio.timeout(20 * PATIENCE):
                async for _event in stream:
                    pass
        again = await collect(provider, ask("hello"))
        assert again.error is None and again.text
        assert len(providers.worker_pids) == 1 and first not in providers.worker_pids


async def test_a_missing_key_is_reported_before_anything_starts(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        with pytest.raises(Exception, match="OPENAI_API_KEY"):
            await providers.get("openai")
        assert providers.worker_pids == ()


async def test_warming_starts_the_worker_at_once_and_leaves_failures_to_get(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        await providers.warm(["sim", "openai"])
        assert providers.worker_pids, "the child is starting while the UI loads"
        with pytest.raises(Exception, match="OPENAI_API_KEY"):
            await providers.get("openai")
        out = await collect(await providers.get("sim"), ask("hello"))
    assert out.error is None and out.text


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on, read from /proc (its sockets' inodes in the kernel's
    table of listening sockets)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if (target := os.readlink(fd)).startswith("socket:["):
                inodes.add(target.removeprefix("socket:[").removesuffix("]"))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def hold_the_loop_until_it_listens(pid: int) -> None:
    """Block the caller's event loop, as the UI's imports block it, until process `pid` listens."""
    deadline = time.monotonic() + 60 * PATIENCE
    while not listening_ports(pid):
        assert time.monotonic() < deadline, "the child never started the sim: it was not asked"
        time.sleep(0.01)


async def test_warming_asks_the_worker_before_it_returns_not_when_the_loop_next_runs() -> None:
    """The TUI warms its providers and then imports its own modules, holding the loop for a while:
    the child must have been asked already, so that it starts the sim and imports the SDK meanwhile."""
    async with Providers(backend=ProviderWorker()) as providers:
        await providers.warm(["sim"])
        (pid,) = providers.worker_pids
        hold_the_loop_until_it_listens(pid)
        out = await collect(await providers.get("sim"), ask("hello"))
    assert out.error is None and out.text


async def test_closing_while_warming_leaves_nothing_running() -> None:
    async with Providers(backend=ProviderWorker()) as providers:
        await providers.warm(["sim", "sim-anthropic"])
        pids = providers.worker_pids
        assert len(pids) == 2, "a child for each SDK, both asked before warm returned"
    assert not [task for task in asyncio.all_tasks() if task.get_name().startswith("warm provider")]
    assert providers.worker_pids == ()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_each_sdk_streams_in_a_child_of_its_own(sim: SimServer) -> None:
    """Importing an SDK holds the loop of the child that imports it (Anthropic's for about a second):
    the providers of one SDK share a child, and each SDK has its own, so that one's import never
    holds up another's first token or its streams."""
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        seen: list[tuple[int, ...]] = []
        for name in ("sim", "sim-responses", "sim-anthropic", "sim-agent"):
            out = await collect(await providers.get(name), ask("hello"))
            assert out.error is None and out.text, name
            seen.append(providers.worker_pids)
    assert [len(pids) for pids in seen] == [1, 1, 2, 3], "OpenAI's two kinds, then Anthropic, then httpx2"
    assert set(seen[0]) < set(seen[2]) < set(seen[3])


async def test_a_dead_child_fails_only_its_own_streams(sim: SimServer) -> None:
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        openai = await providers.get("sim")
        (openai_pid,) = providers.worker_pids
        anthropic = await providers.get("sim-anthropic")
        (anthropic_pid,) = set(providers.worker_pids) - {openai_pid}
        call = ask("long-answer:tokens_per_s=400")
        streams = [provider.stream(call, EventFactory("t", 1)) for provider in (openai, anthropic)]
        for stream in streams:
            async for event in stream:
                if isinstance(event, TextDelta):
                    break
        os.kill(anthropic_pid, signal.SIGKILL)
        with pytest.raises(ProviderWorkerError, match="worker process exited"):
            async with asyncio.timeout(20 * PATIENCE):
                async for _event in streams[1]:
                    pass
        async with asyncio.timeout(60 * PATIENCE):
            rest = [event async for event in streams[0]]
        assert isinstance(rest[-1], CallEnded), "the other SDK's stream went on to its end"
        assert openai_pid in providers.worker_pids


async def test_streams_spread_over_children_of_one_sdk_and_a_dead_one_fails_only_its_own(
    sim: SimServer,
) -> None:
    """32 streams at once is two children's worth: both are started and made ready when the run
    warms, new streams go to the one with fewer open, a stream closed in either closes its
    connection, and killing one fails its streams while the other's run to their end."""
    backend = ProviderWorker(processes=2)
    backend.plan(at_once=32)
    async with Providers(sim=sim, backend=backend) as providers:
        await providers.warm(["sim"])
        assert len(providers.worker_pids) == 2, "both children start when the run warms"
        provider = await providers.get("sim")
        streams = [
            provider.stream(ask("long-answer:tokens_per_s=40"), EventFactory("t", n)) for n in range(6)
        ]  # ~15 s each: still streaming when the victim is killed, whatever the machine's pace
        for stream in streams:
            async for event in stream:
                if isinstance(event, TextDelta):
                    break
        await streams.pop().aclose()
        await asyncio.wait_for(sim.log[-1].disconnected.wait(), 10 * PATIENCE)
        victim = providers.worker_pids[1]
        os.kill(victim, signal.SIGKILL)

        async def to_the_end(stream: AsyncIterator[Event]) -> str:
            try:
                async with asyncio.timeout(60 * PATIENCE):
                    events = [event async for event in stream]
            except ProviderWorkerError:
                return "failed"
            return "completed" if isinstance(events[-1], CallEnded) else "cut"

        ends = await asyncio.gather(*(to_the_end(stream) for stream in streams))
        assert sorted(set(ends)) == ["completed", "failed"], ends
        assert victim not in providers.worker_pids


@pytest.mark.parametrize(
    ("at_once", "processes", "children"),
    [(1, 8, 1), (16, 8, 1), (17, 8, 2), (64, 8, 4), (64, 2, 2), (500, 8, 8)],
)
def test_an_sdk_gets_a_child_for_every_16_streams_the_run_may_have_at_once_up_to_the_processes_allowed(
    at_once: int, processes: int, children: int
) -> None:
    backend = ProviderWorker(processes=1)
    backend.plan(at_once, processes)
    assert backend._wanted() == children


@pytest.mark.parametrize(
    ("cores", "load", "processes"),
    [(2, 0.0, 1), (2, 1.5, 1), (16, 0.4, 8), (16, 3.2, 8), (16, 10.7, 5), (4, 9.0, 1)],
)
def test_by_default_an_sdk_may_have_a_child_for_each_core_the_ui_and_the_load_leave(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, processes: int
) -> None:
    monkeypatch.setattr(worker, "usable_cores", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert worker.default_processes() == processes
    assert ProviderWorker().processes == processes


async def test_without_a_given_sim_the_child_starts_its_own() -> None:
    async with Providers(backend=ProviderWorker()) as providers:
        out = await collect(await providers.get("sim-anthropic"), ask("hello"))
    assert out.error is None and out.text


def mapped_files(pid: int) -> str:
    """The files mapped into process `pid`'s memory, its libraries among them (Linux)."""
    return Path(f"/proc/{pid}/maps").read_text()


async def test_the_child_streams_both_sdks_without_loading_aiohttp(sim: SimServer) -> None:
    """aiohttp is installed (lfg serves with it), and each SDK would import it for a transport lfg
    does not use; the child keeps it out (a tenth of a second of its start): no aiohttp library is
    mapped into the child after both SDKs have streamed."""
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        for name in ("sim", "sim-anthropic"):
            out = await collect(await providers.get(name), ask("hello"))
            assert out.error is None and out.text
        maps = [mapped_files(pid) for pid in providers.worker_pids]
    assert len(maps) == 2 and all("pydantic_core" in each for each in maps)  # the SDKs' models loaded
    assert not [each for each in maps if "/aiohttp/" in each]


async def test_the_child_collects_cycles_again_once_its_first_provider_is_made(sim: SimServer) -> None:
    """The child starts with cycle collection off (its start is the SDKs' imports, objects that live
    as long as it does); once it has made its first provider, those are frozen and collection is on
    again, also when that making fails: the streams that follow make garbage the child must collect."""
    read_end, write_end = os.pipe()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(write_end, "wb"))
    backend = InProcessBackend()
    made = ProviderConfig(name="sim", kind="openai", base_url=f"{sim.url}/v1", api_key="x")
    unmade = ProviderConfig(name="nope", kind="no-such-kind")
    try:
        for config in (made, unmade):
            gc.unfreeze()  # counted from none: objects frozen earlier may be freed meanwhile
            gc.disable()
            await worker_child._stream_one(backend, Open(1, config, None), worker_child.Outbox(transport))
            assert gc.isenabled() and gc.get_freeze_count() > 0, config.name
    finally:
        gc.unfreeze()
        gc.enable()
        transport.close()
        os.close(read_end)
        await backend.aclose()


async def test_the_text_one_read_brought_goes_to_the_parent_as_one_event_at_its_first_time() -> None:
    """What one read of a stream brought (pieces within a millisecond) is one event at the first
    piece's time; pieces further apart, of another stream, or of another kind stay apart."""
    read_end, write_end = os.pipe()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(write_end, "wb"))
    outbox = worker_child.Outbox(transport)
    ev = EventFactory("", 0, clock=iter([10.0, 10.0002, 10.0009, 10.0010, 10.5, 10.5001, 10.5002]).__next__)
    pieces = [
        (1, ev(TextDelta, text="Hello")),
        (1, ev(TextDelta, text=", ")),
        (1, ev(TextDelta, text="world")),
        (2, ev(TextDelta, text="other stream")),
        (1, ev(TextDelta, text=" later")),
        (1, ev(ReasoningDelta, text="a thought")),
        (1, ev(TextDelta, text=" again")),
    ]
    try:
        for stream, event in pieces:
            outbox.put(stream, observed(event))
        outbox.flush()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_end, "rb"))
        batch = await worker.read_frame(reader)
    finally:
        transport.close()
    got = [(stream, kind.__name__, t, values[0]) for stream, (kind, t, values) in batch]
    assert got == [
        (1, "TextDelta", 10.0, "Hello, world"),
        (2, "TextDelta", 10.001, "other stream"),
        (1, "TextDelta", 10.5, " later"),
        (1, "ReasoningDelta", 10.5001, "a thought"),
        (1, "TextDelta", 10.5002, " again"),
    ]


async def test_a_paced_stream_through_the_worker_keeps_every_character_and_reads_the_pace_it_arrived_at(
    sim: SimServer,
) -> None:
    call = ask("long-answer:tokens_per_s=400,ttft_ms=20,repeat=3")
    async with Providers(sim=sim) as inline, Providers(sim=sim, backend=ProviderWorker()) as providers:
        whole = (await collect(await inline.get("sim"), call)).text
        out = await collect(await providers.get("sim"), call)
    assert out.error is None
    sent = sim.log[-1].token_times
    assert out.text == whole, "every character, in order"
    assert 0 < len(out.of(TextDelta)) <= len(sent)
    gauged, received = gauged_and_received_rates(out, sent)
    assert gauged == pytest.approx(received, rel=0.05)


async def test_the_caller_chooses_the_backend(sim: SimServer) -> None:
    assert isinstance(Providers().backend, InProcessBackend)
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        out = await collect(await providers.get("sim"), ask("hello"))
        assert providers.worker_pids and os.getpid() not in providers.worker_pids
    assert out.error is None and out.text


def test_imports_between_the_registry_and_the_worker_go_one_way() -> None:
    modules = {module.__name__: Path(module.__file__ or "") for module in (registry, worker, worker_child)}
    imports = {name: imported_lfgtui_modules(path) & modules.keys() for name, path in modules.items()}
    assert imports == {
        "lfgtui.providers.worker_child": {"lfgtui.providers.registry", "lfgtui.providers.worker"},
        "lfgtui.providers.registry": set(),
        "lfgtui.providers.worker": set(),
    }


@pytest.mark.parametrize(
    ("imported", "absent"),
    [
        ("lfgtui.providers.registry", "lfgtui.providers.worker"),
        ("lfgtui.providers.worker", "lfgtui.providers.registry"),
        ("lfgtui.providers.worker", "lfgtui.events"),  # `lfg run` starts the child before it loads them
    ],
)
def test_importing_one_side_does_not_load_the_other(imported: str, absent: str) -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {imported}; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"'{imported}'" in loaded and f"'{absent}'" not in loaded


async def test_a_lone_surrogate_is_mended_as_the_parent_adopts_it(
    sim: SimServer, scenario_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The child passes its events on as they came; the parent mends each as it adopts it, once a
    read's pieces are joined, and says so under the attempt's name (surrogates.py)."""
    write_scenario(scenario_dir, "split", SURROGATE_MIDWAY)
    caplog.set_level(logging.WARNING, "lfgtui.surrogates")
    async with Providers(sim=sim, backend=ProviderWorker()) as providers:
        out = await collect(await providers.get("sim"), ask("split"))
    assert out.error is None
    text = "".join(e.text for e in out.of(TextDelta))
    assert text.count("\ufffd") == 1 and text.replace("\ufffd", "") == "Half of a character, and the rest."
    (said,) = [record.getMessage() for record in caplog.records]
    assert said.startswith("t1 attempt 1: TextDelta held \\ud800 ")
