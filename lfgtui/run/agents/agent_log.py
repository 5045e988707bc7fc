"""An agent's stderr, kept in its private log file within a fixed size: the head and the tail.

An agent may write its stderr as fast as a pipe carries it (hundreds of MB a second). Its first
`HEAD_BYTES` are kept, for how it started; after them the file holds its last `TAIL_BYTES` to
twice that, for how it ended, behind one line saying how much was dropped between them.
The file is current while the agent runs (`L` shows it, a failure quotes its end): whenever its
tail grows past twice the size kept, it is cut back to the head and rewritten from the last bytes,
so each byte is written at most about twice. The pipe is read as lfg gets to it; an agent that
writes faster waits on it, as it would on a slow disk.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import platformdirs

from lfgtui.folders import private_folder

HEAD_BYTES = 1024 * 1024
TAIL_BYTES = 1024 * 1024
READ_BYTES = 64 * 1024


def open_agent_log(ticket: str, attempt: int) -> tuple[Path, BinaryIO]:
    """A new file readable only by us, for one attempt's stderr, in lfg's log folder."""
    folder = Path(platformdirs.user_log_dir("lfgtui")) / "agents"
    private_folder(folder)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in ticket)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-{attempt}-{os.getpid()}.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return path, os.fdopen(fd, "ab", buffering=0)


def dropped_note(size: int) -> bytes:
    return f"\n[lfg dropped {size:,} bytes of the agent's log here]\n".encode()


@dataclass
class AgentLog:
    """One attempt's log file, written from the agent's stderr by `pump`."""

    path: Path
    file: BinaryIO
    written: int = 0
    """Bytes of the agent's in the file's head."""
    dropped: int = 0
    tail: bytearray = field(default_factory=bytearray)
    """What the agent wrote after the head and the file has since the last cut (`cut`)."""

    def write(self, data: bytes) -> None:
        room = HEAD_BYTES - self.written
        if room > 0:
            self.file.write(data[:room])
            self.written += min(room, len(data))
            data = data[room:]
        if not data:
            return
        self.file.write(data)
        self.tail += data
        if len(self.tail) > 2 * TAIL_BYTES:
            self.cut()

    def cut(self) -> None:
        """Drop all but the last `TAIL_BYTES` after the head, saying how much is gone."""
        self.dropped += len(self.tail) - TAIL_BYTES
        del self.tail[:-TAIL_BYTES]
        self.file.truncate(HEAD_BYTES)
        self.file.write(dropped_note(self.dropped) + self.tail)

    async def pump(self, stream: asyncio.StreamReader) -> None:
        """Copy the agent's stderr into the file until every process holding it has closed it. When
        the file cannot be written (a full disk), the rest is read and dropped: an agent whose stderr
        nobody read would block on it."""
        writing = True
        while chunk := await stream.read(READ_BYTES):
            if writing:
                try:
                    self.write(chunk)
                except OSError:
                    writing = False

    def close(self) -> None:
        self.file.close()
