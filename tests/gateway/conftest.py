"""Fixtures of the gateway tests: several scripted servers at once, one deployment each.

``servers(n)`` starts ``n`` loopback servers (``msgflux.testing.server.LoopbackServer``);
``deploy(server, ...)`` builds an ``openai/m`` model on one of them. For faults the
loopback server cannot script (a TCP reset before any header, a server that accepts and
never answers) ``raw_server(mode)`` is a bare socket server. Everything started here is
stopped after the test, and no gateway thread may outlive it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import msgflux as mf
from msgflux.testing.pytest_plugin import require_provider
from msgflux.testing.server import LoopbackServer

API_KEY = "sk-gateway-tests-5c0ffee1d2e3f4a5"


def chat_requests(server: Any) -> int:
    """How many chat requests a server saw (a loopback or a raw server)."""
    if isinstance(server, RawServer):
        return server.requests
    return sum(1 for r in server.requests if r.path.endswith("/chat/completions"))


class RawServer:
    """A TCP server on 127.0.0.1 that reads each request and then misbehaves.

    Modes:
        ``"reset"``: abort the connection with a RST once the request arrived (no header).
        ``"silent"``: keep the connection open and never answer.
    """

    def __init__(self, mode: str) -> None:
        assert mode in ("reset", "silent")
        self.mode = mode
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # accept() wakes up to notice stop()
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="raw-test-server", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while not self._closing:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in (data := connection.recv(65536)) and data:
                pass
            if not data:
                connection.close()
                return
        self.requests += 1
        if self.mode == "silent":
            self._held.append(connection)
            return
        # SO_LINGER with a zero timeout turns close() into a RST.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()

    def stop(self) -> None:
        self._closing = True
        self._thread.join(5)
        self._listener.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def servers() -> Iterator[Callable[[int], list[LoopbackServer]]]:
    started: list[LoopbackServer] = []

    def start(count: int) -> list[LoopbackServer]:
        new = [LoopbackServer().start() for _ in range(count)]
        started.extend(new)
        return new

    yield start
    for server in started:
        server.stop()
    for server in started:
        assert server.errors == [], server.errors


@pytest.fixture
def raw_server() -> Iterator[Callable[[str], RawServer]]:
    started: list[RawServer] = []

    def start(mode: str) -> RawServer:
        server = RawServer(mode)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def deploy() -> Iterator[Callable[..., mf.ChatCompletionModel]]:
    """``deploy(server, **options)``: an ``openai/m`` model on ``server``, closed afterwards."""
    require_provider("openai")  # the deployments talk to the servers through it
    models: list[mf.ChatCompletionModel] = []

    def make(server: Any, **options: Any) -> mf.ChatCompletionModel:
        options.setdefault("api_key", API_KEY)
        model = mf.Model.chat_completion("openai/m", base_url=server.base_url, **options)
        models.append(model)
        return model

    yield make
    for model in models:
        model.close()


@pytest.fixture(autouse=True)
def no_gateway_thread_left() -> Iterator[None]:
    """Every relay and producer thread has ended by the end of each test."""
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("msgflux-stream"):
            thread.join(10)
            assert not thread.is_alive(), f"{thread.name} is still running"


class Stopwatch:
    """Seconds since it was started (``with Stopwatch() as watch: ...; watch.seconds``)."""

    def __enter__(self) -> Stopwatch:
        self.started = time.monotonic()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.monotonic() - self.started


@pytest.fixture
def stopwatch() -> type[Stopwatch]:
    return Stopwatch


@pytest.fixture
def api_key() -> str:
    """The key ``deploy`` gives its models."""
    return API_KEY


@pytest.fixture
def count() -> Callable[[Any], int]:
    return chat_requests
