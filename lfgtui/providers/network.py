"""The sockets under every SDK client: an httpcore2 network backend on the running asyncio loop's own
transports, instead of httpcore2's default through anyio.

A streamed answer is read one socket read at a time, and each SSE event usually arrives in its own
read. Through anyio each read opens a cancel scope for the read timeout (a timer set and cleared),
resumes and pauses the socket's reading (two epoll changes on uvloop) and takes one buffered chunk;
measured in the provider worker that was the largest single share of its CPU per token. Here the
socket reads all the time into a protocol's buffer (paused only past `HIGH_WATER` unread bytes), a read
takes everything buffered at once, and a timer is set only when a read must actually wait. The
idle timeout (`ProviderConfig.idle_timeout_s`) still bounds every wait, and the errors are httpcore2's
own (`ReadTimeout`, `ReadError`, `ConnectError`, …), so httpx2, the SDKs and `errors.classify` see
what they saw before.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Iterable
from typing import Any, cast

import httpcore2

HIGH_WATER = 1 << 20
"""Unread bytes past which the socket stops reading until the reader catches up (flow control)."""
READ_BYTES = 64 * 1024
"""What httpcore2 asks one read for (`AsyncHTTP11Connection.READ_NUM_BYTES`): a full read is never held."""
HOLD_S = 0.008
"""How long bytes of a flowing stream wait for more before its reader wakes, at most: several SSE
events per read, each read costing about as much as parsing an event. A sixth of a 50 ms frame at
most, and never the first bytes after a request or a pause (see `_Buffered.holds`). Held reads are
released by one clock (`_HoldClock`) every `HOLD_S / 2`, each once it has waited at least that long."""
FLOWING_S = 0.05
"""Reads less than this apart are one flow; a longer gap (the model's time to first token, a tool
call, thinking) starts a new one."""
UNHELD_READS = 5
"""The first reads of a flow, never held: a response's head and the events before its first token
(Anthropic's `message_start`, `content_block_start`, `ping`; the Responses API's four), so TTFT,
and the first token after a pause, are read the moment they arrive."""


class _HoldClock:
    """One timer for every held read on a loop, instead of one per read. It fires when the oldest
    held read has waited `HOLD_S` and releases with it every read that has waited at least half of
    that, so the streams flowing at once are read in the same pass of the loop (and the provider
    worker sends their events in one pipe write, see worker_child.Outbox) while no read waits less
    than `HOLD_S / 2` or more than `HOLD_S`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.held: deque[tuple[float, _Buffered]] = deque()
        """(when it was held, the reader's protocol), oldest first."""
        self.timer: asyncio.TimerHandle | None = None

    def hold(self, protocol: _Buffered) -> None:
        now = self.loop.time()
        protocol.held_at = now
        self.held.append((now, protocol))
        if self.timer is None:
            self.timer = self.loop.call_at(now + HOLD_S, self._fire)

    def _fire(self) -> None:
        self.timer = None
        held, ripe = self.held, self.loop.time() - HOLD_S / 2
        while held and held[0][0] <= ripe:
            at, protocol = held.popleft()
            if protocol.held and protocol.held_at == at:
                protocol.release()
        if held:
            self.timer = self.loop.call_at(held[0][0] + HOLD_S, self._fire)


_clocks: dict[asyncio.AbstractEventLoop, _HoldClock] = {}


def _hold_clock(loop: asyncio.AbstractEventLoop) -> _HoldClock:
    """The loop's hold clock; a closed loop's is dropped when the next one asks."""
    clock = _clocks.get(loop)
    if clock is None:
        for old in [old for old in _clocks if old.is_closed()]:
            del _clocks[old]
        clock = _clocks[loop] = _HoldClock(loop)
    return clock


class _Buffered(asyncio.Protocol):
    """A connection's side of the loop: received bytes kept until read, and who waits for them."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.eof = False
        self.lost: Exception | None = None
        self.closed = False
        self.reader: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.loop = asyncio.get_running_loop()
        self.run = 0
        """Reads of the current flow: since the last write, or the last gap of `FLOWING_S`."""
        self.last_read = 0.0
        self.held = False
        """The reader waits for the hold clock (see `_HoldClock`), since `held_at` (the loop's time)."""
        self.held_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's subclasses

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
        if not self.held and self.holds():
            self.held = True
            _hold_clock(self.loop).hold(self)
        elif not self.held or self.size >= READ_BYTES:
            self._wake()

    def holds(self) -> bool:
        """Whether bytes arriving now wait `HOLD_S` for more: only while a reader waits on a stream
        that flows, past the flow's first `UNHELD_READS` reads, with less than a read buffered."""
        return (
            self.reader is not None
            and not self.reader.done()
            and self.run >= UNHELD_READS
            and self.loop.time() - self.last_read < FLOWING_S
            and self.size < READ_BYTES
        )

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = exc
        self._wake()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        self.drained = None

    def release(self) -> None:
        """The hold clock's: the reader has waited long enough."""
        self._wake()

    def _wake(self) -> None:
        self.held = False
        if self.reader is not None and not self.reader.done():
            self.reader.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        """Everything buffered, up to `max_bytes`."""
        data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        if len(data) > max_bytes:
            data, rest = data[:max_bytes], data[max_bytes:]
            self.chunks = [rest]
        else:
            self.chunks = []
        was = self.size
        self.size -= len(data)
        if was > HIGH_WATER >= self.size and self.transport is not None and not self.closed:
            self.transport.resume_reading()
        return data


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def _wait(future: asyncio.Future[None], seconds: float | None) -> None:
    """Wait for `future`, raising TimeoutError after `seconds` (None: no limit): one timer, no scope."""
    if seconds is None:
        await future
        return
    timer = asyncio.get_running_loop().call_later(seconds, _expire, future)
    try:
        await future
    finally:
        timer.cancel()


class AsyncioStream(httpcore2.AsyncNetworkStream):
    """One connection, plain or TLS, as httpcore2 reads and writes it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Buffered) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 (httpcore2's)
        """The bytes buffered, up to `max_bytes`, once there are some. Bytes already buffered are
        still taken after one pass of the loop: a stream arriving faster than it is read would
        otherwise be read to its end without the loop running anything else (keys, the frame clock,
        the other streams), as anyio's checkpoint in every read prevented."""
        protocol = self._protocol
        if protocol.chunks:
            await asyncio.sleep(0)
        while not protocol.chunks and not protocol.eof and not protocol.closed:
            protocol.reader = protocol.loop.create_future()
            try:
                await _wait(protocol.reader, timeout)
            except TimeoutError as exc:
                raise httpcore2.ReadTimeout(str(exc) or "timed out waiting for data") from exc
            finally:
                protocol.reader = None
                protocol.held = False  # a cancelled read: the clock's tick finds nothing to release
        if protocol.chunks:
            now = protocol.loop.time()
            protocol.run = protocol.run + 1 if now - protocol.last_read < FLOWING_S else 1
            protocol.last_read = now
            return protocol.take(max_bytes)
        if protocol.lost is not None:
            raise httpcore2.ReadError(str(protocol.lost)) from protocol.lost
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        protocol = self._protocol
        if protocol.closed or self._transport.is_closing():
            raise httpcore2.WriteError(str(protocol.lost or "the connection is closed"))
        protocol.run = 0  # a new request: its response's first reads are not held
        self._transport.write(buffer)
        if protocol.drained is not None:
            try:
                await _wait(protocol.drained, timeout)
            except TimeoutError as exc:
                raise httpcore2.WriteTimeout("timed out writing") from exc
            if protocol.lost is not None:
                raise httpcore2.WriteError(str(protocol.lost)) from protocol.lost

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
    ) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore2.ConnectTimeout(str(exc) or "timed out during the TLS handshake") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore2.ConnectError(str(exc)) from exc
        assert transport is not None
        self._protocol.transport = transport
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        match info:
            case "ssl_object":
                return self._transport.get_extra_info("ssl_object")
            case "client_addr":
                return self._transport.get_extra_info("sockname")
            case "server_addr":
                return self._transport.get_extra_info("peername")
            case "socket":
                return self._transport.get_extra_info("socket")
            case "is_readable":  # an idle connection the server closed, or sent something on
                protocol = self._protocol
                return bool(protocol.chunks) or protocol.eof or protocol.closed
        return None


class AsyncioBackend(httpcore2.AsyncNetworkBackend):
    """Connections on the running loop's transports (uvloop's in the provider worker)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        stream = await _connect(loop.create_connection(_Buffered, host, port, local_addr=local), timeout)
        sock = stream.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's interface)
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        stream = await _connect(loop.create_unix_connection(_Buffered, path), timeout)
        sock: socket.socket = stream.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return stream

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connect(connecting: Any, seconds: float | None) -> AsyncioStream:
    try:
        async with asyncio.timeout(seconds):
            transport, protocol = await connecting
    except TimeoutError as exc:
        raise httpcore2.ConnectTimeout(str(exc) or "timed out connecting") from exc
    except OSError as exc:
        raise httpcore2.ConnectError(str(exc)) from exc
    return AsyncioStream(transport, protocol)
