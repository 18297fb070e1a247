"""Test glue: a small HTTP proxy on 127.0.0.1 that counts what passes through it.

``CONNECT host:port`` opens a tunnel to that loopback port and relays bytes both ways;
an absolute-form request (``POST http://host/path``) is recorded and answered by the proxy
itself. Requests are read with h11.
"""

from __future__ import annotations

import select
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import h11

TUNNEL_OK = b"HTTP/1.1 200 Connection established\r\n\r\n"


@dataclass
class Passed:
    """A request the proxy read."""

    method: str
    target: str
    headers: dict[str, str]


@dataclass
class LoopbackProxy:
    """Counts tunnels (``seen`` with method CONNECT) and proxied requests.

    Attributes:
        refuse: Answer CONNECT with this status instead of opening the tunnel.
        silent: Never answer CONNECT (a proxy that hangs).
    """

    refuse: int | None = None
    silent: bool = False
    seen: list[Passed] = field(default_factory=list)
    relayed: int = 0  # bytes relayed through tunnels, both ways
    _listener: socket.socket = field(default_factory=socket.socket)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _sockets: list[socket.socket] = field(default_factory=list)

    def __enter__(self) -> LoopbackProxy:
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for sock in [self._listener, *self._sockets]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def tunnels(self) -> list[str]:
        return [p.target for p in self.seen if p.method == "CONNECT"]

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(conn)
            self._spawn(self._handle, conn)

    def _handle(self, conn: socket.socket) -> None:
        parser = h11.Connection(h11.SERVER)
        request: Any = None
        try:
            while True:
                event = parser.next_event()
                if event is h11.NEED_DATA:
                    data = conn.recv(65536)
                    if not data:
                        return
                    parser.receive_data(data)
                elif isinstance(event, h11.Request):
                    request = event
                    headers = {k.decode().lower(): v.decode() for k, v in event.headers}
                    self.seen.append(Passed(event.method.decode(), event.target.decode(), headers))
                    if event.method == b"CONNECT":
                        self._tunnel(conn, event.target.decode(), parser.trailing_data[0])
                        return
                elif isinstance(event, h11.EndOfMessage):
                    body = b'{"via": "proxy"}'
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                    )
                    parser = h11.Connection(h11.SERVER)  # one request per cycle, as a test needs
                    del request
                    request = None
                elif isinstance(event, h11.ConnectionClosed):
                    return
        except (OSError, h11.ProtocolError):
            return
        finally:
            conn.close()

    def _tunnel(self, conn: socket.socket, authority: str, early: bytes) -> None:
        if self.silent:
            self._stop.wait()
            return
        if self.refuse is not None:
            conn.sendall(b"HTTP/1.1 %d Refused\r\nContent-Length: 0\r\n\r\n" % self.refuse)
            return
        host, _, port = authority.rpartition(":")
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        self._sockets.append(upstream)
        conn.sendall(TUNNEL_OK)
        if early:
            upstream.sendall(early)
        with upstream:
            pair = {conn: upstream, upstream: conn}
            while not self._stop.is_set():
                readable, _, _ = select.select(list(pair), [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    self.relayed += len(data)
                    pair[sock].sendall(data)
