"""The SDK clients' sockets (`network.AsyncioBackend`) against real loopback servers: TLS, a body far
past the read buffer's flow-control mark, a kept-alive connection the server closed while idle,
httpcore2's own errors for a stalled or cut stream; a flowing stream's reads held for more bytes,
never the first ones of a flow, and the tok/s gauge of a paced sim stream still the sim's own rate."""

from __future__ import annotations

import asyncio
import resource
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest

from lfgtui.events import TextDelta
from lfgtui.providers import network
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.clients import OPEN_FILES_WANTED, http_client
from lfgtui.providers.errors import ErrorKind, classify
from lfgtui.providers.network import HIGH_WATER, AsyncioBackend, AsyncioStream
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from tests.support.patience import PATIENCE
from tests.support.run import settle
from tests.support.streams import ask, collect, gauged_and_received_rates

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def response(body: bytes) -> bytes:
    return f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """The request line and headers (the tests send no body)."""
    return await reader.readuntil(b"\r\n\r\n")


@asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    async with server:
        yield server.sockets[0].getsockname()[1]


def config(url: str, idle_timeout_s: float = 30.0) -> ProviderConfig:
    return ProviderConfig(name="t", kind="openai", base_url=url, idle_timeout_s=idle_timeout_s)


async def test_a_body_past_the_flow_control_mark_arrives_whole() -> None:
    body = bytes(range(256)) * (3 * HIGH_WATER // 256 + 7)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response(body))
        await writer.drain()
        writer.close()

    received = bytearray()
    async with (
        serving(handler) as port,
        http_client(config("")) as client,
        client.stream("GET", f"http://127.0.0.1:{port}/") as streamed,
    ):
        assert isinstance(streamed.extensions["network_stream"], AsyncioStream)
        async for part in streamed.aiter_raw():
            received += part
            await asyncio.sleep(0)  # a slow reader: the socket pauses and resumes under it
    assert bytes(received) == body


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    connections = 0
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(response(b"one"))  # keep-alive by default, then closed anyway
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        closed.set()

    async with serving(handler) as port, http_client(config("")) as client:
        first = await client.get(f"http://127.0.0.1:{port}/")
        await asyncio.wait_for(closed.wait(), 10 * PATIENCE)  # the FIN sent: the pool must see it is gone
        await settle()  # the client's side of the loop reads it
        second = await client.get(f"http://127.0.0.1:{port}/")
    assert (first.content, second.content) == (b"one", b"one") and connections == 2


async def test_a_stalled_stream_times_out_as_a_read_timeout() -> None:
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await writer.drain()
        await release.wait()
        writer.close()

    async with serving(handler) as port, http_client(config("", idle_timeout_s=0.2)) as client:
        with pytest.raises(httpx2.ReadTimeout) as raised:
            async with client.stream("GET", f"http://127.0.0.1:{port}/") as streamed:
                async for _ in streamed.aiter_raw():
                    pass
        release.set()
    assert classify(raised.value).kind is ErrorKind.TIMEOUT


async def test_a_stream_cut_mid_body_is_a_connection_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()
        writer.transport.abort()

    async with serving(handler) as port, http_client(config("")) as client:
        with pytest.raises(httpx2.TransportError) as raised:
            async with client.stream("GET", f"http://127.0.0.1:{port}/") as streamed:
                async for _ in streamed.aiter_raw():
                    pass
    assert classify(raised.value).kind is ErrorKind.CONNECTION


async def test_more_streams_at_once_than_httpx2s_pool_of_100_each_get_a_connection() -> None:
    """The server answers none until all 101 requests are in: with a pool capped at 100, the 101st
    waited for a connection that never freed, and failed as a timeout."""
    streams = 101
    arrived = 0
    all_in = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal arrived
        await read_request(reader)
        arrived += 1
        if arrived == streams:
            all_in.set()
        await all_in.wait()
        writer.write(response(b"ok"))
        await writer.drain()
        writer.close()

    async def fetch(client: httpx2.AsyncClient, port: int) -> bytes:
        return (await client.get(f"http://127.0.0.1:{port}/")).content

    async with serving(handler) as port, http_client(config("")) as client:
        bodies = await asyncio.gather(*(fetch(client, port) for _ in range(streams)))
    assert bodies == [b"ok"] * streams


def test_a_connect_timeout_says_so_and_names_the_host_not_the_idle_timeout() -> None:
    request = httpx2.Request("GET", "https://api.example.com/v1/responses")
    said = classify(httpx2.ConnectTimeout("timed out", request=request))
    assert (said.kind, said.message) == (
        ErrorKind.TIMEOUT,
        "no connection to api.example.com within the connect timeout",
    )
    assert classify(httpx2.ReadTimeout("timed out", request=request)).message == (
        "no data from the provider within the idle timeout"
    )


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by the openssl command."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
    files = ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
    subprocess.run(
        ["openssl", "req", "-x509", *curve, *files, "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_connections_verify_the_server_and_carry_the_stream(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response(b"secret"))
        await writer.drain()
        await reader.read()  # until the client closes

    async with serving(handler, server_tls) as port:
        url = f"https://127.0.0.1:{port}/"
        async with http_client(config("")) as untrusting:
            with pytest.raises(httpx2.ConnectError):
                await untrusting.get(url)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # read when a client is made
        async with http_client(config("")) as trusting:
            answer = await trusting.get(url)
            assert answer.extensions["network_stream"].get_extra_info("ssl_object") is not None
    assert answer.content == b"secret"


async def test_a_flowing_stream_is_held_for_more_bytes_but_never_the_first_reads_of_a_flow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(network, "HOLD_S", 3600.0)  # held bytes wait for more, an end, or a full read
    monkeypatch.setattr(network, "FLOWING_S", 3600.0)  # one flow however slow this machine is
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", listener.getsockname()[1], timeout=30 * PATIENCE)
    server, _ = await asyncio.get_running_loop().sock_accept(listener)
    server.setblocking(True)  # each send whole (loopback buffers hold them all)
    protocol = stream._protocol  # type: ignore[attr-defined]

    async def read_when_sent(data: bytes) -> bytes:
        reading = asyncio.create_task(stream.read(65536, timeout=None))
        while protocol.reader is None:
            await asyncio.sleep(0)
        server.send(data)
        return await reading

    await stream.write(b"request 1")
    for number in range(network.UNHELD_READS):  # a head, the events before the first token, the token
        assert await read_when_sent(b"event %d" % number) == b"event %d" % number
    reading = asyncio.create_task(stream.read(1 << 20, timeout=None))
    while protocol.reader is None:
        await asyncio.sleep(0)
    server.send(b"second ")
    while protocol.size < len(b"second "):
        await asyncio.sleep(0)
    server.send(b"third")
    while protocol.size < len(b"second third"):
        await asyncio.sleep(0)
    assert not reading.done(), "a flowing stream's bytes wait for more"
    big = b" big" + b"." * network.READ_BYTES
    server.send(big)  # a full read's worth wakes it at once
    received = await reading
    while len(received) < len(b"second third" + big):
        received += await stream.read(1 << 20)
    assert received == b"second third" + big
    assert protocol.run > network.UNHELD_READS
    monkeypatch.setattr(network, "FLOWING_S", 0.05)
    await asyncio.sleep(0.05)  # a pause (thinking, a tool call) ends the flow
    assert await read_when_sent(b"after a pause") == b"after a pause"
    assert protocol.run == 1
    await stream.write(b"request 2")
    assert await read_when_sent(b"head 2") == b"head 2", "a new response's head is read at once"
    requests = b""
    while len(requests) < len(b"request 1request 2"):
        requests += server.recv(1024)  # read before closing, or the close is a reset
    server.close()
    listener.close()
    assert await stream.read(65536) == b""
    await stream.aclose()


async def test_a_paced_stream_is_stamped_as_it_arrives_and_read_at_that_pace(sim: SimServer) -> None:
    async with Providers(sim=sim) as providers:  # the worker child reads through the same backend
        out = await collect(
            await providers.get("sim"), ask("long-answer:tokens_per_s=200,ttft_ms=20,repeat=3")
        )
    assert out.error is None
    stamps = [e.t for e in out.of(TextDelta)]
    sent = sim.log[-1].token_times
    assert len(stamps) == len(sent) > 200
    assert all(seen >= at for seen, at in zip(stamps, sent, strict=True)), (
        "an event is stamped once it arrived"
    )
    gauged, received = gauged_and_received_rates(out, sent)
    assert gauged == pytest.approx(received, rel=0.05)


async def test_flowing_streams_held_together_are_released_by_one_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(network, "HOLD_S", 3600.0)  # the clock is fired by hand below
    monkeypatch.setattr(network, "FLOWING_S", 3600.0)  # one flow however slow this machine is
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    loop = asyncio.get_running_loop()
    streams, servers = [], []
    for _ in range(3):
        streams.append(
            await AsyncioBackend().connect_tcp("127.0.0.1", listener.getsockname()[1], timeout=30 * PATIENCE)
        )
        server, _ = await loop.sock_accept(listener)
        server.setblocking(True)
        servers.append(server)

    async def held_read(index: int, data: bytes) -> asyncio.Task[bytes]:
        protocol = streams[index]._protocol  # type: ignore[attr-defined]
        reading = asyncio.create_task(streams[index].read(65536, timeout=None))
        while protocol.reader is None:
            await asyncio.sleep(0)
        servers[index].send(data)
        while not protocol.held and not reading.done():
            await asyncio.sleep(0)
        return reading

    for index in range(3):
        for number in range(network.UNHELD_READS):  # past the reads a flow never holds
            assert await (await held_read(index, b"%d" % number)) == b"%d" % number
    first, second = await held_read(0, b"first"), await held_read(1, b"second")
    clock = network._hold_clock(loop)
    assert clock.timer is not None and len(clock.held) == 2, "one timer for every held read"
    assert not first.done() and not second.done()
    monkeypatch.setattr(network, "HOLD_S", 0.0)  # both have waited long enough
    clock.timer.cancel()
    clock._fire()
    assert await asyncio.gather(first, second) == [b"first", b"second"]
    monkeypatch.setattr(network, "HOLD_S", 3600.0)
    third = await held_read(2, b"third")
    clock._fire()  # held less than half of HOLD_S ago: it waits for a later tick
    await asyncio.sleep(0)
    assert not third.done() and clock.timer is not None
    servers[2].send(b"." * network.READ_BYTES)  # a full read's worth ends the hold at once
    assert (await third).startswith(b"third.")
    for stream, server in zip(streams, servers, strict=True):
        server.close()
        await stream.aclose()
    listener.close()


def test_a_process_started_with_few_open_files_allowed_raises_its_own_limit_for_the_sockets() -> None:
    """Many systems start a process allowed 1,024 open files (macOS 256): fewer than a run of a
    thousand streams opens. The soft limit goes up to the hard one, which needs no privilege."""
    script = (
        "import resource\n"
        "from lfgtui.providers.clients import allow_many_sockets\n"
        "allow_many_sockets()\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
    started = subprocess.run(
        [sys.executable, "-c", script],
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(started.stdout) == wanted > 256


def test_clients_share_their_tls_settings_while_the_cas_to_trust_are_the_same(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Loading the CAs cost 23 ms of CPU for each client made: every provider of every run (and of
    every test). Clients made under a new `SSL_CERT_FILE` still trust it (the test above)."""
    loads: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(args or kwargs)
        load(context, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))  # CAs of its own: the first client loads them
    clients = [http_client(config("")) for _ in range(3)]
    assert len(loads) == 1, loads
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "other"))
    clients.append(http_client(config("")))
    assert len(loads) == 2, "other CAs to trust: loaded for the client made now"
