"""The built-in offline LLM server: a loopback HTTP/1.1 server speaking the real streaming formats.

The official SDKs talk to it over real sockets, so the offline path is the production path. Every
request is logged with server-side timestamps (received, each token as it is sent, end, disconnect) so
tests can check what the client measured against what the server actually did.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from lfgtui.sim import reasoning_rules, websocket
from lfgtui.sim.model_map import ModelMap
from lfgtui.sim.prompt_cache import SimPromptCache
from lfgtui.sim.quota import Quotas, Taken, relayed
from lfgtui.sim.scenario import Echoes, Fault, FaultKind, Scenario, ScenarioError, ScenarioLibrary
from lfgtui.sim.wire import (
    LONE_SURROGATE,
    BadRequest,
    Encoder,
    Piece,
    PieceKind,
    Replay,
    SimRequest,
    SimUsage,
    SocketProtocol,
    SocketState,
    Stalled,
    WireProtocol,
    count_usage,
    echoes,
    sse_data,
)

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Site Overloaded",
}
MAX_BODY = 64 * 1024 * 1024
STREAM_FAULTS = (
    FaultKind.SURROGATE,
    FaultKind.MALFORMED,
    FaultKind.ERROR_EVENT,
    FaultKind.STALL,
    FaultKind.DROP,
)
"""The faults that strike inside an answer, in the order they are looked for at a token position."""


BACKLOG = 4096
"""Connections the sim's socket holds before it accepts them (the kernel caps it at somaxconn).
asyncio's default, 100, dropped the rest of a 1,000-ticket run's first connects, each then a
connect timeout and a retry in lfg; a provider's servers take them."""


@dataclass
class RequestRecord:
    """What the server saw and did for one request, in `time.monotonic()` seconds."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float
    model: str = ""  # as the request asked for it
    scenario: str = ""  # the scenario model name that answered it (see `ModelMap`)
    call_index: int = 0
    status: int = 0
    token_times: list[float] = field(default_factory=list)
    paced_from: float | None = None
    """When a streamed answer's timeline began: token i is due `ttft + i / tokens_per_s` after it."""
    ended_at: float | None = None
    disconnected_at: float | None = None
    disconnected: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    interrupted_at: float | None = None
    """When the client interrupted the streamed answer on its WebSocket (`response.interrupt`)."""
    fault: FaultKind | None = None
    usage: SimUsage | None = None
    """The counts a streamed answer reported as it finished."""
    replay: Replay | None = None
    """How much of the reasoning state of the conversation's earlier answers came back
    (reasoning_rules.py); None where the protocol has none."""

    @property
    def first_token_at(self) -> float | None:
        return self.token_times[0] if self.token_times else None


@dataclass
class _HttpRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class _Disconnected(Exception):
    """The client went away."""


class _Interrupted(Exception):
    """The client interrupted the answer streaming on its WebSocket (`SocketState.interrupts`)."""


class _Clock:
    """One timer for every stream's pacing: it wakes each sleeper whose time has come, all at once.

    A sleep per stream per token (a future and a timer handle each) was a large share of the server's
    CPU at 16 streams x 200 tokens/s; here each sleep is a future in a heap, and one timer is armed
    for the earliest. Times are `time.monotonic()`, checked when the timer fires, so no sleeper wakes
    before its time. The timer is armed in whole milliseconds, rounded up: uvloop rounds a delay to
    the nearest millisecond from the time its loop last read, so a finer one fires early, again and
    again until the time comes (a hundred thousand empty wake-ups for 6,400 tokens at 16 x 200 tok/s).
    A token goes out at most about a millisecond late, with the other streams' tokens due by then.
    """

    def __init__(self) -> None:
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # ties in time wake in the order they slept
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = math.inf
        self._loop: asyncio.AbstractEventLoop | None = None

    def until(self, when: float) -> asyncio.Future[None]:
        """A future done at `when` (monotonic seconds) or later."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a server started again on another loop: the old one's sleepers are moot
            self._loop, self._sleepers, self._timer, self._armed_for = loop, [], None, math.inf
        sleeper = loop.create_future()
        heapq.heappush(self._sleepers, (when, next(self._order), sleeper))
        if when < self._armed_for:
            self._arm(loop, when)
        return sleeper

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_for = when
        ms = max(math.ceil((when - time.monotonic()) * 1000), 1)  # whole ms: uvloop's timers round to them
        self._timer = loop.call_later(ms / 1000, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer, self._armed_for = None, math.inf
        sleepers, now = self._sleepers, time.monotonic()
        while sleepers and sleepers[0][0] <= now:
            _wake(heapq.heappop(sleepers)[2])
        if sleepers:
            self._arm(loop, sleepers[0][0])


class _Connection:
    """One client socket: chunked writes, and a watch for the client closing it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, clock: _Clock) -> None:
        self.reader = reader
        self.writer = writer
        self.transport = writer.transport
        self.clock = clock
        self.gone = asyncio.Event()
        self.halted = False
        """The client interrupted the answer under way (a WebSocket's `response.interrupt`)."""
        self._sleeper: asyncio.Future[None] | None = None

    async def write(self, data: bytes) -> None:
        """Write to the transport; wait only when the socket has not taken it all (as `drain` would)."""
        if self.gone.is_set() or self.transport.is_closing():
            self.gone.set()
            raise _Disconnected
        try:
            self.transport.write(data)
            if self.transport.get_write_buffer_size():
                await self.writer.drain()
        except (ConnectionError, RuntimeError):
            self.gone.set()
            raise _Disconnected from None

    async def chunk(self, data: bytes) -> None:
        await self.write(b"%x\r\n%s\r\n" % (len(data), data))

    async def until(self, when: float) -> None:
        """Sleep until `when` (monotonic seconds), but wake up at once (raising) if the client
        disconnects or interrupts the answer meanwhile. Called before every token: one future in the
        shared clock."""
        while not self.gone.is_set() and not self.halted and time.monotonic() < when:
            self._sleeper = self.clock.until(when)
            await self._sleeper
        if self.gone.is_set():
            raise _Disconnected
        if self.halted:
            raise _Interrupted

    def halt(self) -> None:
        """The client interrupted the answer under way: its next wait ends it (`_Interrupted`)."""
        self.halted = True
        if self._sleeper is not None:
            _wake(self._sleeper)

    async def wait(self, seconds: float) -> None:
        await self.until(time.monotonic() + seconds)

    async def watch_for_eof(self) -> None:
        """Set `gone` when the client closes its end; pipelined bytes are not expected mid-stream."""
        with contextlib.suppress(ConnectionError):
            while await self.reader.read(65536):
                pass
        self.lost()

    def lost(self) -> None:
        """The client is gone: wake whatever waits to write to it."""
        self.gone.set()
        if self._sleeper is not None:
            _wake(self._sleeper)


class _Outlet(Protocol):
    """Where a streamed answer's events go: an HTTP event stream or a WebSocket."""

    conn: _Connection

    async def begin(self) -> None: ...

    async def event(self, frame: bytes) -> None:
        """One encoded event (an SSE frame, as the encoders write them)."""
        ...

    async def keepalive(self) -> None: ...

    async def end(self) -> None: ...


class _EventStream:
    """An answer as a chunked `text/event-stream` response, heartbeats as SSE comments."""

    def __init__(self, conn: _Connection, headers: dict[str, str] | None = None) -> None:
        self.conn = conn
        self.headers = headers or {}

    async def begin(self) -> None:
        extra = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        await self.conn.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\nx-lfg-sim: 1\r\n"
            + extra.encode()
            + b"\r\n"
        )

    async def event(self, frame: bytes) -> None:
        await self.conn.chunk(frame)

    async def keepalive(self) -> None:
        await self.conn.chunk(b": keep-alive\n\n")

    async def end(self) -> None:
        await self.conn.write(b"0\r\n\r\n")


class _SocketEvents:
    """An answer on a WebSocket: each event's JSON as one text message, heartbeats as pings."""

    def __init__(self, conn: _Connection) -> None:
        self.conn = conn

    async def begin(self) -> None:
        pass

    async def event(self, frame: bytes) -> None:
        await self.conn.write(websocket.text(sse_data(frame)))

    async def send(self, message: dict[str, Any]) -> None:
        await self.conn.write(websocket.text(json.dumps(message, separators=(",", ":"))))

    async def keepalive(self) -> None:
        await self.conn.write(websocket.frame(websocket.Opcode.PING, b""))

    async def end(self) -> None:
        pass


def _wake(sleeper: asyncio.Future[None]) -> None:
    if not sleeper.done():
        sleeper.set_result(None)


class SimServer:
    """Serve every registered wire protocol on 127.0.0.1; use as `async with SimServer() as sim:`."""

    def __init__(
        self,
        library: ScenarioLibrary | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        protocols: list[WireProtocol] | None = None,
        models: ModelMap | None = None,
    ) -> None:
        from lfgtui.sim.protocols import default_protocols, routed_protocol

        self.library = library or ScenarioLibrary()
        self.models = models or ModelMap()
        self.host = host
        self.port = port
        self.protocols = {p.path: p for p in (protocols or default_protocols())}
        self._routed = routed_protocol
        self.log: list[RequestRecord] = []
        self._fault_uses: Counter[tuple[str, int]] = Counter()
        self._variant_turns: Counter[str] = Counter()
        self.quotas = Quotas()
        self.prompt_cache = SimPromptCache()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._clock = _Clock()

    @property
    def url(self) -> str:
        """The server root, e.g. for the Anthropic SDK; OpenAI-style clients use `url + '/v1'`."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> SimServer:
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port, backlog=BACKLOG)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SimServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            keep_open = True
            while keep_open:
                request = await _read_request(reader)
                if request is None:
                    break
                keep_open = await self._handle(request, _Connection(reader, writer, self._clock))
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            pass  # the server is closing; end this connection quietly
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()
            self._tasks.discard(task)

    async def _handle(self, request: _HttpRequest, conn: _Connection) -> bool:
        """Answer one request; return whether the connection may carry another."""
        now = time.monotonic()
        path = urlsplit(request.target).path.rstrip("/")
        if request.method == "GET" and path in ("/v1/models", "/models"):
            await _send_json(conn, 200, model_list(self.library.names(), request.headers))
            return True
        protocol = self.protocols.get(path) or self._routed(path)
        if protocol is None:
            await _send_json(
                conn, 404, {"error": {"message": f"no such endpoint: {path}", "type": "not_found"}}
            )
            return True
        if isinstance(protocol, SocketProtocol) and websocket.is_upgrade(request.method, request.headers):
            return await self._socket(request, path, protocol, conn)
        record = RequestRecord(request.method, path, request.headers, {}, received_at=now)
        self.log.append(record)
        try:
            record.body = body = _request_body(request)
            sim_request = protocol.parse_request(body, request.headers)
            scenario = self.prompt_cache.use(self._scenario(sim_request, record), body, now)
            record.replay = reasoning_rules.check(path, body, sim_request, scenario)
        except (BadRequest, ScenarioError) as exc:
            record.status = status = _refusal_status(exc)
            said = _refusal_words(path, status, record.model, exc)
            await _send_json(conn, status, _named(protocol.error_body(status, said), exc))
            return True
        except Stalled as stall:
            record.replay, record.fault = stall.replay, FaultKind.STALL
            await _never_answer(conn, record)
            return False
        quota = self._quota(protocol, scenario, sim_request, now)
        if quota is not None and not quota.allowed:
            record.status = 429
            retry = (
                {"retry-after": str(math.ceil(quota.retry_after_s))} if scenario.ratelimit_retry_after else {}
            )
            body = protocol.error_body(429, f"rate limit reached for {scenario.name}: its quota resets soon")
            await _send_json(conn, 429, body, relayed(scenario, quota.headers | retry))
            return True
        quota_headers = {} if quota is None else relayed(scenario, quota.headers)
        http_fault = self._take_fault(scenario, sim_request, FaultKind.HTTP, None)
        if http_fault is not None:
            record.status, record.fault = http_fault.status, FaultKind.HTTP
            message, headers = _fault_reply(http_fault, request.headers)
            body = protocol.error_body(http_fault.status, message)
            await _send_json(conn, http_fault.status, body, relayed(scenario, headers))
            return True
        record.status = 200
        watcher = asyncio.create_task(conn.watch_for_eof())
        try:
            if not sim_request.stream:
                return await self._answer(protocol, scenario, sim_request, conn, record, quota_headers)
            encoder = protocol.encoder(scenario, sim_request)
            outlet = _EventStream(conn, quota_headers)
            return await self._stream(protocol, scenario, sim_request, outlet, record, encoder)
        except _Disconnected:
            record.disconnected_at = time.monotonic()
            record.disconnected.set()
            return False
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    def _quota(
        self, protocol: WireProtocol, scenario: Scenario, request: SimRequest, now: float
    ) -> Taken | None:
        """The request counted against its scenario's quota (sim/quota.py), when it has one."""
        if not (scenario.ratelimit_requests or scenario.ratelimit_tokens):
            return None
        usage = count_usage(protocol.plan(scenario, request), request)
        return self.quotas.take(scenario, usage.input_tokens + usage.output_tokens, protocol.ratelimit, now)

    def _scenario(
        self, request: SimRequest, record: RequestRecord, conversation: dict[str, Any] | None = None
    ) -> Scenario:
        """The scenario that answers `request`, noted in its record; ScenarioError if none does. Its
        echoes quote `conversation` (a socket message's whole, `SocketCall`), else the request's body."""
        record.model, record.call_index = request.model, request.call_index
        record.scenario = self.models.scenario_for(request.model, self.library.names())
        said = echoes(record.body if conversation is None else conversation)
        scenario = self.library.resolve(record.scenario)
        if scenario.variants:
            record.scenario = self._variant(scenario, said)
            scenario = self.library.resolve(record.scenario)
        return scenario.echoing(said)

    def _variant(self, scenario: Scenario, said: Echoes) -> str:
        """Which of `scenario`'s variants answers: for a new conversation the next in turn; for a
        later call the first whose earlier answers are the ones the conversation carries."""
        if not said.answers:
            turn = self._variant_turns[scenario.name]
            self._variant_turns[scenario.name] += 1
            return scenario.variants[turn % len(scenario.variants)]
        for name in scenario.variants:
            played = self.library.resolve(name)
            if all(played.call(i).text.strip() == answer.strip() for i, answer in enumerate(said.answers)):
                return name
        return scenario.variants[0]

    async def _socket(
        self, request: _HttpRequest, path: str, protocol: SocketProtocol, conn: _Connection
    ) -> bool:
        """A WebSocket in the protocol's socket mode: each message asks for a model call, answered in
        turn on the same socket, until the client closes it."""
        try:
            answer = websocket.handshake(request.headers)
        except websocket.ProtocolError as exc:
            await _send_json(conn, 400, protocol.error_body(400, str(exc)))
            return True
        await conn.write(answer)
        state = protocol.socket_state()
        messages: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def urgent(payload: bytes) -> bool:
            return await self._interrupt(request, path, state, payload, conn)

        reader = asyncio.create_task(_read_socket(conn, messages, urgent))
        try:
            while (payload := await messages.get()) is not None:
                if not await self._socket_call(request, path, protocol, state, payload, conn):
                    break
        except _Disconnected:
            pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        return False

    async def _interrupt(
        self, request: _HttpRequest, path: str, state: SocketState, payload: bytes, conn: _Connection
    ) -> bool:
        """Act on a socket message the moment it comes, even mid-answer, if it interrupts the answer
        (`SocketState.interrupts`): the stream under way ends at its next token, or the refusal is
        sent; return whether it was such a message (any other is answered in turn)."""
        try:
            message = _json_object(payload)
        except BadRequest:
            return False  # answered in turn, refused as any broken message is
        received, refusal = time.monotonic(), None
        try:
            if not state.interrupts(message):
                return False
        except BadRequest as exc:
            refusal = exc
        record = RequestRecord("WS", path, request.headers, message, received_at=received)
        self.log.append(record)
        if refusal is not None:
            record.status = 400
            await _SocketEvents(conn).send(state.error_event(400, str(refusal), refusal.code))
            return True
        record.status = 200
        conn.halt()
        return True

    async def _socket_call(
        self,
        request: _HttpRequest,
        path: str,
        protocol: SocketProtocol,
        state: SocketState,
        payload: bytes,
        conn: _Connection,
    ) -> bool:
        """Answer one socket message; return whether the socket stays open (a dropped stream ends it)."""
        record = RequestRecord("WS", path, request.headers, {}, received_at=time.monotonic())
        outlet = _SocketEvents(conn)
        try:
            record.body = body = _json_object(payload)
            call = state.call(body, request.headers)
            if call is None:
                return True
            self.log.append(record)
            scenario = self._scenario(call.request, record, call.conversation)
        except (BadRequest, ScenarioError) as exc:
            self.log.append(record)
            record.status = status = _refusal_status(exc)
            await outlet.send(state.error_event(status, str(exc), getattr(exc, "code", None)))
            return True
        http_fault = self._take_fault(scenario, call.request, FaultKind.HTTP, None) if call.generate else None
        if http_fault is not None:
            record.status, record.fault = http_fault.status, FaultKind.HTTP
            message, headers = _fault_reply(http_fault, request.headers)
            await outlet.send(state.error_event(http_fault.status, message, None, headers))
            return True
        record.status = 200
        encoder = state.encoder(scenario, call.request)
        conn.halted = False
        try:
            if call.generate:
                if not await self._stream(protocol, scenario, call.request, outlet, record, encoder):
                    return False
            else:
                usage = SimUsage(call.request.input_tokens, 0, 0)
                for frame in [*encoder.open(), *encoder.finish(usage)]:
                    await outlet.event(frame)
        except _Interrupted:
            record.interrupted_at = time.monotonic()
            assert record.usage is not None  # what went out, counted as it stopped
            for frame in state.interrupted(record.usage):
                await outlet.event(frame)
            record.ended_at = time.monotonic()
        except _Disconnected:
            record.disconnected_at = time.monotonic()
            record.disconnected.set()
            raise
        finally:
            conn.halted = False
        state.answered()
        return True

    def _take_fault(
        self, scenario: Scenario, request: SimRequest, kind: FaultKind, tokens_sent: int | None
    ) -> Fault | None:
        """The fault of `kind` due now, counting its use; `tokens_sent` is None at request time."""
        for index, fault in enumerate(scenario.faults):
            if fault.kind is not kind or fault.call != request.call_index:
                continue
            if tokens_sent is not None and fault.after_tokens != tokens_sent:
                continue
            key = (scenario.name, index)
            if fault.times is not None and self._fault_uses[key] >= fault.times:
                continue
            self._fault_uses[key] += 1
            return fault
        return None

    async def _stream(
        self,
        protocol: WireProtocol,
        scenario: Scenario,
        request: SimRequest,
        outlet: _Outlet,
        record: RequestRecord,
        encoder: Encoder,
    ) -> bool:
        """Play the answer's events through `outlet` at the scenario's pace, with its faults; return
        whether the connection may carry another request."""
        pieces = protocol.plan(scenario, request)
        await outlet.begin()
        for frame in encoder.open():
            await outlet.event(frame)
        pacer = _Pacer(scenario, outlet)
        record.paced_from = pacer.start
        faulty = any(f.kind in STREAM_FAULTS and f.call == request.call_index for f in scenario.faults)
        tokens = 0  # tokens written on this connection: they set the pace
        position = 0  # token pieces of the plan passed, written or not (a resumed stream skips some)
        for index, piece in enumerate(pieces):
            is_token = piece.is_token
            if is_token:
                if faulty and await self._stream_fault(scenario, request, encoder, outlet, record, position):
                    return False
                position += 1
            frames = encoder.piece(piece)
            if not frames and not is_token:  # a token never shown (omitted thinking) still takes its time
                continue
            interrupted = False
            if is_token:  # when its last token is due
                tokens += piece.tokens
                try:
                    await pacer.until_token(tokens - 1, () if frames else encoder.unseen())
                except _Interrupted:  # the piece made goes out, then the answer ends
                    interrupted = True
            sent_at = time.monotonic()  # before the write: the client may read it before we resume
            for frame in frames:
                await outlet.event(frame)
            if is_token:
                record.token_times += [sent_at] * piece.tokens
            if interrupted:
                record.usage = count_usage(pieces[: index + 1], request)
                raise _Interrupted
        if faulty and await self._stream_fault(scenario, request, encoder, outlet, record, position):
            return False
        record.usage = count_usage(pieces, request)
        for frame in encoder.finish(record.usage):
            await outlet.event(frame)
        await outlet.end()
        record.ended_at = time.monotonic()
        return True

    async def _answer(
        self,
        protocol: WireProtocol,
        scenario: Scenario,
        request: SimRequest,
        conn: _Connection,
        record: RequestRecord,
        headers: dict[str, str],
    ) -> bool:
        """A non-streaming request: the whole answer as one JSON body, sent when its last token would
        have been (TTFT, then the scenario's pace), as a real API answers after generating it all.

        A mid-stream fault anywhere in the answer strikes it: a drop closes the connection unanswered,
        a stall never answers, an error event is a 500 in the provider's error shape, a malformed
        chunk is a 200 whose JSON is cut off.
        """
        pieces = protocol.plan(scenario, request)
        tokens = sum(piece.tokens for piece in pieces if piece.is_token)
        fault = self._answer_fault(scenario, request, tokens)
        interval = 1 / scenario.tokens_per_s if scenario.tokens_per_s > 0 else 0.0
        await conn.wait(scenario.ttft_ms / 1000 + max(tokens - 1, 0) * interval)
        if fault is not None:
            record.fault = fault.kind
            if fault.kind is FaultKind.STALL:
                await conn.gone.wait()
                raise _Disconnected
            if fault.kind is FaultKind.DROP:
                record.ended_at = time.monotonic()
                return False
            if fault.kind is FaultKind.ERROR_EVENT:
                record.status = 500
                await _send_json(conn, 500, protocol.error_body(500, fault.message))
                record.ended_at = time.monotonic()
                return True
        payload = json.dumps(protocol.complete(scenario, request, count_usage(pieces, request))).encode()
        if fault is not None:  # malformed
            payload = payload[: len(payload) // 2]
        sent_at = time.monotonic()
        await _send_payload(conn, 200, payload, headers)
        record.token_times = [sent_at] * tokens
        record.ended_at = time.monotonic()
        return True

    def _answer_fault(self, scenario: Scenario, request: SimRequest, tokens: int) -> Fault | None:
        """The first mid-stream fault due anywhere in an answer of `tokens` tokens, counting its use."""
        for position in range(tokens + 1):
            for kind in STREAM_FAULTS[1:]:  # a lone surrogate is a streamed chunk's
                fault = self._take_fault(scenario, request, kind, position)
                if fault is not None:
                    return fault
        return None

    async def _stream_fault(
        self,
        scenario: Scenario,
        request: SimRequest,
        encoder: Encoder,
        outlet: _Outlet,
        record: RequestRecord,
        position: int,
    ) -> bool:
        """Inject a mid-stream fault due at this token position; return True if the stream is over.

        The position counts the plan's token pieces, so a resumed stream meets its faults at the same
        place as the original did, however many of those tokens it skipped.
        """
        for kind in STREAM_FAULTS:
            fault = self._take_fault(scenario, request, kind, position)
            if fault is None:
                continue
            record.fault = kind
            if kind is FaultKind.SURROGATE:
                for frame in encoder.piece(Piece(PieceKind.TEXT, LONE_SURROGATE)):
                    await outlet.event(frame)
                continue
            if kind is FaultKind.MALFORMED:
                await outlet.event(encoder.malformed())
                continue
            if kind is FaultKind.ERROR_EVENT:
                for frame in encoder.error_event(fault.message):
                    await outlet.event(frame)
                await outlet.end()
            elif kind is FaultKind.STALL:
                await outlet.conn.gone.wait()
                raise _Disconnected
            record.ended_at = time.monotonic()
            return True
        return False


UNSEEN_PING_S = 5.0
"""How often the sim pings while thinking streams unseen: the real period is not documented; any
under a client's idle timeout (lfg's 60 s) keeps the stream alive as the real pings do."""


class _Pacer:
    """Schedules tokens on an absolute timeline (TTFT, then 1/rate apart) with optional heartbeats."""

    def __init__(self, scenario: Scenario, outlet: _Outlet) -> None:
        self.outlet = outlet
        self.conn = outlet.conn
        self.start = time.monotonic()
        self.ttft = scenario.ttft_ms / 1000
        self.interval = 1 / scenario.tokens_per_s if scenario.tokens_per_s > 0 else 0.0
        self.keepalive = scenario.keepalive_ms / 1000
        self.last_write = self.start

    async def until_token(self, index: int, unseen: Sequence[bytes] = ()) -> None:
        """Wait until token `index` is due; a token never shown (`unseen`: the wire's keep-alive
        frames) keeps the stream alive every `UNSEEN_PING_S` meanwhile, as the real API does."""
        due = self.start + self.ttft + index * self.interval
        while unseen and time.monotonic() < due and due > self.last_write + UNSEEN_PING_S:
            await self.conn.until(self.last_write + UNSEEN_PING_S)
            for frame in unseen:
                await self.outlet.event(frame)
            self.last_write = time.monotonic()
        while self.keepalive and time.monotonic() < due and due > self.last_write + self.keepalive:
            await self.conn.until(self.last_write + self.keepalive)
            await self.outlet.keepalive()
            self.last_write = time.monotonic()
        await self.conn.until(due)


async def _read_request(reader: asyncio.StreamReader) -> _HttpRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        raise ValueError("request body too large")
    body = await reader.readexactly(length) if length else b""
    return _HttpRequest(method, target, headers, body)


def _presented_key(headers: dict[str, str]) -> str:
    """The key a request carried (a bearer token or `x-api-key`), for fault messages that echo it."""
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[len("bearer ") :].strip()
    return headers.get("x-api-key", "")


def _request_body(request: _HttpRequest) -> dict[str, Any]:
    """The JSON body, or for GET requests the query string as a flat dict."""
    if request.body:
        return _json_object(request.body)
    query = parse_qs(urlsplit(request.target).query)
    return {key: values[-1] for key, values in query.items()}


def _json_object(payload: bytes) -> dict[str, Any]:
    """A request body or socket message: a JSON object, else BadRequest."""
    try:
        value = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object")
    return value


async def _never_answer(conn: _Connection, record: RequestRecord) -> None:
    """Send nothing, not even a status line, until the client goes away, as a server that took a
    request and hangs on it."""
    watcher = asyncio.create_task(conn.watch_for_eof())
    try:
        await conn.gone.wait()
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    record.disconnected_at = time.monotonic()
    record.disconnected.set()


def _named(body: dict[str, Any], exc: BadRequest | ScenarioError) -> dict[str, Any]:
    """An OpenAI-style error body with the `param` and `code` the refusal names, as the API fills them."""
    error = body.get("error")
    if isinstance(exc, BadRequest) and isinstance(error, dict) and "param" in error:
        if exc.param is not None:
            error["param"] = exc.param
        if exc.code is not None:
            error["code"] = exc.code
    return body


def _refusal_status(exc: BadRequest | ScenarioError) -> int:
    """404 for a model no scenario answers (as the APIs answer an unknown model), else 400."""
    return 404 if isinstance(exc, ScenarioError) and "unknown sim model" in str(exc) else 400


MODEL_NOT_FOUND = {
    "/v1/chat/completions": "The model `{model}` does not exist or you do not have access to it.",
    "/v1/responses": "The model `{model}` does not exist or you do not have access to it.",
    "/v1/messages": "model: {model}",
}
"""How each API words a model it does not serve, unknown or shut down (OpenAI's `model_not_found`
and Anthropic's `not_found_error`, as their users quote them; read 2026-11-27)."""


def _refusal_words(path: str, status: int, model: str, exc: BadRequest | ScenarioError) -> str:
    """The refusal's message: for a model no scenario answers, the API's own words first, then the
    sim's (which scenarios there are)."""
    words = MODEL_NOT_FOUND.get(path) if status == 404 and model else None
    return str(exc) if words is None else f"{words.format(model=model)} ({exc})"


def _fault_reply(fault: Fault, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """An HTTP fault's message (`{api_key}` filled in from the request) and its extra headers."""
    extra = {}
    if fault.retry_after is not None:
        after = fault.retry_after
        extra["retry-after"] = after if isinstance(after, str) else f"{after:g}"
    return fault.message.replace("{api_key}", _presented_key(headers)), extra


async def _read_socket(
    conn: _Connection, messages: asyncio.Queue[bytes | None], urgent: Callable[[bytes], Awaitable[bool]]
) -> None:
    """Read a WebSocket's frames for as long as it lives: data messages into `messages` (unless
    `urgent` acted on one at once: an interrupt of the answer under way), pings answered, a close
    answered; at its end (or a framing error) the connection is lost and `None` queued."""
    frames = websocket.MessageReader(conn.reader)
    try:
        while True:
            message = await frames.next()
            if message.opcode is websocket.Opcode.PING:
                await conn.write(websocket.frame(websocket.Opcode.PONG, message.payload))
            elif message.opcode is websocket.Opcode.CLOSE:
                await conn.write(websocket.close())
                break
            elif message.opcode is not websocket.Opcode.PONG and not await urgent(message.payload):
                messages.put_nowait(message.payload)
    except (asyncio.IncompleteReadError, ConnectionError, websocket.ProtocolError, _Disconnected):
        pass
    finally:
        conn.lost()
        messages.put_nowait(None)


async def _send_json(
    conn: _Connection, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    await _send_payload(conn, status, json.dumps(body).encode(), headers)


async def _send_payload(
    conn: _Connection, status: int, payload: bytes, headers: dict[str, str] | None = None
) -> None:
    """A JSON body already encoded (a malformed answer's may be cut off)."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(payload)}\r\n{extra}\r\n"
    )
    await conn.write(head.encode() + payload)


SIM_CONTEXT_WINDOW = 200_000
SIM_MAX_OUTPUT_TOKENS = 64_000
"""The window and output limit the sim's Anthropic model list gives each model (it enforces neither)."""
SIM_MODEL_CREATED = "2026-01-01T00:00:00Z"
"""When the sim says each of its models was released: a fixed day, as a real API's are."""


def model_list(names: list[str], headers: dict[str, str]) -> dict[str, object]:
    """`GET /v1/models` as the API the client speaks answers it: Anthropic's (a client sending
    `anthropic-version`) pages `data[]` of `id`, `type`, `display_name`, `created_at` and, from SDK
    2.x's API version, `lifecycle`, `max_input_tokens` and `max_tokens`, with `first_id`, `last_id`
    and `has_more`; OpenAI's is a `list` of `id`, `object`, `created` and `owned_by` alone."""
    if "anthropic-version" in headers:
        data = [
            {
                "id": name,
                "type": "model",
                "display_name": name,
                "created_at": SIM_MODEL_CREATED,
                "lifecycle": "active",
                "max_input_tokens": SIM_CONTEXT_WINDOW,
                "max_tokens": SIM_MAX_OUTPUT_TOKENS,
            }
            for name in names
        ]
        first, last = (names[0], names[-1]) if names else (None, None)
        return {"data": data, "first_id": first, "last_id": last, "has_more": False}
    created = 1767225600  # SIM_MODEL_CREATED as a Unix time, as OpenAI gives it
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": created, "owned_by": "lfg-sim"} for name in names
        ],
    }
