"""A loopback TCP proxy that can cut a client off as a network partition does: `black_hole` stops
passing bytes either way while every connection stays open (nothing is refused, nothing answers),
`heal` passes them again on those connections, `reset` closes them all with a TCP reset and passes
bytes again for new connections."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from collections.abc import Iterator


class Partition:
    """A proxy to `target` (`host`, `port`) on a port of its own; `url` is where clients connect."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def black_hole(self) -> None:
        self.cut.set()

    def heal(self) -> None:
        """Bytes pass again on the connections the black hole held open, what waited first."""
        self.cut.clear()

    def reset(self) -> None:
        """Every open connection reset (RST), then bytes pass again."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
        self.cut.clear()

    def close(self) -> None:
        self.closed.set()
        self.reset()
        self.listener.close()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.target)
            except OSError:
                return
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pass, args=(client, server), daemon=True).start()

    def _pass(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        with contextlib.suppress(OSError, ValueError):
            while not self.closed.is_set():
                if self.cut.is_set():  # neither read nor write: the bytes wait, as on a dead link
                    self.closed.wait(0.05)
                    continue
                readable, _, _ = select.select(list(peers), [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)


@contextlib.contextmanager
def partition(target: tuple[str, int]) -> Iterator[Partition]:
    proxy = Partition(target)
    try:
        yield proxy
    finally:
        proxy.close()
