"""The server side of a WebSocket (RFC 6455), as the sim needs it for the Responses API's socket mode.

Codex opens `GET /v1/responses` as a WebSocket before it falls back to HTTP, and sends each model
call as a `response.create` message on it. The sim answers the upgrade, reads the client's masked
frames (reassembling fragments, answering pings) and writes each event as one unmasked text frame.
No extension is taken up (Codex offers `permessage-deflate`; a server may decline it), so every
frame is plain.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from dataclasses import dataclass
from enum import IntEnum

MAGIC = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3: appended to the client's key
MAX_MESSAGE = 64 * 1024 * 1024  # as the sim's HTTP bodies


class Opcode(IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class ProtocolError(ValueError):
    """The client broke the framing rules; the connection is closed."""


@dataclass(frozen=True, slots=True)
class Message:
    """A whole data message (fragments joined) or one control frame."""

    opcode: Opcode
    payload: bytes


def is_upgrade(method: str, headers: dict[str, str]) -> bool:
    """A request asking to become a WebSocket (headers are lower-cased names)."""
    connection = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    return method == "GET" and headers.get("upgrade", "").lower() == "websocket" and "upgrade" in connection


def handshake(headers: dict[str, str]) -> bytes:
    """The `101 Switching Protocols` answer to an upgrade request, or ProtocolError when the request
    lacks a key or asks for a version other than 13."""
    key = headers.get("sec-websocket-key", "").strip()
    if not key or headers.get("sec-websocket-version", "").strip() != "13":
        raise ProtocolError("a WebSocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13")
    accept = base64.b64encode(hashlib.sha1((key + MAGIC).encode()).digest()).decode()
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\nx-lfg-sim: 1\r\n\r\n"
    ).encode()


def frame(opcode: Opcode, payload: bytes) -> bytes:
    """One final, unmasked frame, as a server sends it."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


def text(payload: str) -> bytes:
    return frame(Opcode.TEXT, payload.encode())


def close(code: int = 1000, reason: str = "") -> bytes:
    return frame(Opcode.CLOSE, struct.pack("!H", code) + reason.encode()[:120])


class MessageReader:
    """Reads a client's frames: whole data messages (fragments joined) and control frames, which may
    arrive between a message's fragments."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self._opcode: Opcode | None = None  # the data message under way, if fragmented
        self._parts: list[bytes] = []
        self._size = 0

    async def next(self) -> Message:
        """The next data message or control frame. Raises ProtocolError for unmasked, oversized or
        misordered frames, IncompleteReadError at end of file."""
        while True:
            final, kind, payload = await self._frame()
            if kind >= Opcode.CLOSE:
                if not final or len(payload) > 125:
                    raise ProtocolError("control frames are short and never fragmented")
                return Message(kind, payload)
            if (kind is Opcode.CONTINUATION) == (self._opcode is None):
                raise ProtocolError("a continuation frame must follow a fragment, and only then")
            self._opcode = self._opcode or kind
            self._parts.append(payload)
            self._size += len(payload)
            if self._size > MAX_MESSAGE:
                raise ProtocolError("message too large")
            if final:
                message = Message(self._opcode, b"".join(self._parts))
                self._opcode, self._parts, self._size = None, [], 0
                return message

    async def _frame(self) -> tuple[bool, Opcode, bytes]:
        first, second = await self.reader.readexactly(2)
        if not second & 0x80:
            raise ProtocolError("a client's frames must be masked")
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        if self._size + length > MAX_MESSAGE:
            raise ProtocolError("message too large")
        mask = await self.reader.readexactly(4)
        try:
            kind = Opcode(first & 0x0F)
        except ValueError:
            raise ProtocolError(f"unknown opcode {first & 0x0F}") from None
        return bool(first & 0x80), kind, _unmask(await self.reader.readexactly(length), mask)


def _unmask(data: bytes, mask: bytes) -> bytes:
    """XOR with the 4-byte mask, done as one big integer rather than byte by byte."""
    if not data:
        return data
    repeated = (mask * (len(data) // 4 + 1))[: len(data)]
    value = int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(data), "big")
