"""A scripted loopback server for the HTTP layer's tests: raw bytes, drips, stalls, closes.

Requests are read with h11 (never parsed by hand); answers are whatever a test scripts, byte
for byte, so a test can play a broken or hostile server. Everything runs on 127.0.0.1 and
stops when the test ends.
"""

from __future__ import annotations

import os
import queue
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import h11
import pytest

#: Script steps besides bytes (sent as given) and floats (seconds of silence).
CLOSE = "close"  # close the connection
HOLD = "hold"  # keep the connection open, silent, until the test ends
HALF_CLOSE = "half-close"  # shut down our write side (the client sees EOF), keep reading


NO_SCRIPT = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 9\r\n\r\nno script"


@dataclass(frozen=True)
class Drip:
    """Send ``data`` one byte at a time, ``gap`` seconds apart."""

    data: bytes
    gap: float


@dataclass
class Seen:
    """A request the server read in full."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RawServer:
    """Answers each request with the next queued script (a list of steps)."""

    listener: socket.socket = field(default_factory=socket.socket)
    scripts: queue.Queue[list[Any]] = field(default_factory=queue.Queue)
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    closed: int = 0  # connections this server has closed
    stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _sockets: list[socket.socket] = field(default_factory=list)

    def start(self) -> RawServer:
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self._spawn(self._accept)
        return self

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def serve(self, *scripts: list[Any]) -> None:
        for script in scripts:
            self.scripts.put(list(script))

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self._sockets.append(conn)
            self._spawn(self._handle, conn)

    def _read_request(self, conn: socket.socket, leftover: bytes) -> tuple[Seen, bytes] | None:
        parser = h11.Connection(h11.SERVER)
        if leftover:
            parser.receive_data(leftover)
        request: Any = None
        body = bytearray()
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return None
                parser.receive_data(data)
                if not data and request is None:
                    return None
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in request.headers}
                seen = Seen(request.method.decode(), request.target.decode(), headers, bytes(body))
                return seen, parser.trailing_data[0]
            elif isinstance(event, h11.ConnectionClosed):
                return None

    def _handle(self, conn: socket.socket) -> None:
        try:
            self._serve_connection(conn)
        finally:
            conn.close()
            self.closed += 1

    def _serve_connection(self, conn: socket.socket) -> None:
        leftover = b""
        while not self.stop.is_set():
            read = self._read_request(conn, leftover)
            if read is None:
                return
            seen, leftover = read
            self.requests.append(seen)
            try:
                script = self.scripts.get_nowait()
            except queue.Empty:
                script = [NO_SCRIPT, CLOSE]
            if not self._play(conn, script):
                return

    def _play(self, conn: socket.socket, script: list[Any]) -> bool:
        """Run the steps; False when the connection is done."""
        try:
            for step in script:
                if isinstance(step, bytes):
                    conn.sendall(step)
                elif isinstance(step, Drip):
                    for i in range(len(step.data)):
                        if self.stop.wait(step.gap):
                            return False
                        conn.sendall(step.data[i : i + 1])
                elif isinstance(step, int | float):
                    if self.stop.wait(step):
                        return False
                elif step == CLOSE:
                    return False
                elif step == HOLD:
                    self.stop.wait()
                    return False
                elif step == HALF_CLOSE:
                    conn.shutdown(socket.SHUT_WR)
                    self.stop.wait()
                    return False
        except OSError:
            return False
        return True

    def close(self) -> None:
        self.stop.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.listener.close()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(10)


def wait_until(condition: Callable[[], bool], limit: float = 10.0) -> bool:
    """Poll ``condition`` until true (a generous bound: only a broken run waits that long)."""
    import time

    end = time.monotonic() + limit
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    server = RawServer().start()
    yield server
    server.close()


def ok(body: bytes = b"ok", *headers: str) -> bytes:
    """A complete 200 response with ``Content-Length``."""
    extra = "".join(f"{line}\r\n" for line in headers)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra.encode(), body)


def client_sockets(port: int) -> int:
    """How many client connections to ``port`` this process holds open (Linux /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    remote = int(fields[2].rsplit(":", 1)[1], 16)
                    if remote == port and fields[9] in inodes and fields[3] in ("01", "08"):
                        found += 1
        except FileNotFoundError:
            continue
    return found


@pytest.fixture
def sockets(raw_server: RawServer) -> Callable[[], int]:
    """``sockets()``: this process's open client connections to the raw server."""
    if not sys.platform.startswith("linux"):
        pytest.skip("counts sockets through /proc (Linux only)")
    return lambda: client_sockets(raw_server.port)
