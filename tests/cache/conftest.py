"""Fixtures of the cache tests: a real redis-server, models on the loopback server.

Redis tests talk to a real ``redis-server`` (Debian's package; ``.ci/run`` installs it),
started here on a free loopback port without persistence and stopped by its PID. Where the
binary is missing the Redis tests skip, saying why; with ``MSGFLUX_REQUIRE_REDIS=1`` (CI)
they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import msgflux as mf
from msgflux.testing.server import LoopbackServer

API_KEY = "sk-cache-tests-2f9c1d7e"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A ``redis-server`` child process on 127.0.0.1 (``url``), stopped by PID."""

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait_for_ping()

    def _wait_for_ping(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        message = f"redis-server did not start on port {self.port}"
                        raise RuntimeError(message) from None
                    time.sleep(0.02)
        finally:
            client.close()

    def flush(self) -> None:
        import redis

        with redis.Redis.from_url(self.url) as client:
            client.flushall()

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), as a crash would."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = (
            "redis-server is not installed (apt-get install -y redis-server; .ci/run installs "
            "it): the Redis cache tests cannot run"
        )
        if os.environ.get("MSGFLUX_REQUIRE_REDIS"):
            pytest.fail(reason)
        _skipped.add(reason)
        pytest.skip(reason)
    pytest.importorskip("redis", reason="the redis client is missing: pip install 'msgflux[redis]'")
    return binary


_skipped: set[str] = set()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Skipped Redis tests are said out loud, not only counted among the skips.
    for reason in sorted(_skipped):
        terminalreporter.write_line(f"Redis cache tests skipped: {reason}", yellow=True)


@pytest.fixture(scope="session")
def redis_session() -> Iterator[RedisServer]:
    server = RedisServer(_redis_binary())
    yield server
    server.stop()


@pytest.fixture
def redis_server(redis_session: RedisServer) -> RedisServer:
    """The session's redis-server, emptied for this test."""
    redis_session.flush()
    return redis_session


@pytest.fixture
def start_redis() -> Iterator[Callable[..., RedisServer]]:
    """``start_redis(port=None)``: a redis-server of this test's own (to kill), stopped
    afterwards."""
    binary = _redis_binary()
    started: list[RedisServer] = []

    def start(port: int | None = None) -> RedisServer:
        server = RedisServer(binary, port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def make_model(loopback_server: LoopbackServer) -> Iterator[Callable[..., Any]]:
    """``make_model(**options)``: an ``openai/m`` model on the loopback server, closed after."""
    pytest.importorskip("msgflux_openai")
    models: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("retry", False)
        options.setdefault("api_key", API_KEY)
        model = mf.Model.chat_completion("openai/m", base_url=loopback_server.base_url, **options)
        models.append(model)
        return model

    yield make
    for model in models:
        model.close()
        cache = model._response_cache
        if cache is not None:
            with contextlib.suppress(Exception):
                cache.close()


def chat_requests(server: LoopbackServer) -> int:
    return sum(1 for r in server.requests if r.path.endswith("/chat/completions"))


@pytest.fixture
def requests_to() -> Callable[[LoopbackServer], int]:
    """``requests_to(server)``: how many chat completion requests reached it."""
    return chat_requests
