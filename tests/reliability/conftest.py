"""Shared pieces of the reliability tests: models on every transport, resource snapshots.

These tests talk to the loopback server through the ``openai`` provider plugin, so they
need ``msgflux-openai``; every test that takes the ``transport`` fixture runs once per
transport the plugin offers (``msgflux_openai.clients.TRANSPORTS``).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("msgflux_openai")

import msgflux as mf
from msgflux.testing.server import LoopbackServer
from msgflux_openai.clients import TRANSPORTS

#: Retries that wait milliseconds, so fault tests run in well under a second each.
FAST_RETRY = {"initial_backoff": 0.001, "max_backoff": 0.005, "max_retry_after": 2.0}

API_KEY = "sk-reliability-7b1f0e5c9d2a4e8f"


# "auto" only picks one of the others (fast, or the SDK behind a proxy): not run twice.
CONCRETE_TRANSPORTS = [name for name in TRANSPORTS if name != "auto"]


@pytest.fixture(params=CONCRETE_TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_model(loopback_server: LoopbackServer, transport: str) -> Iterator[Callable[..., Any]]:
    """``make_model(**options)``: an ``openai/m`` model on the loopback server, closed after."""
    models: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("api_key", API_KEY)
        model = mf.Model.chat_completion(
            "openai/m", base_url=loopback_server.base_url, transport=transport, **options
        )
        models.append(model)
        return model

    yield make
    for model in models:
        model.close()


def chat_requests(server: LoopbackServer) -> int:
    """How many chat completion requests reached the server."""
    return sum(1 for r in server.requests if r.path.endswith("/chat/completions"))


def socket_count() -> int:
    """Open sockets of this process (client and server side)."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:  # closed between listdir and readlink
            pass
    return count


def extra_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and t.is_alive()]


def wait_until(condition: Callable[[], bool], limit: float = 10.0) -> bool:
    """Poll ``condition`` (the other side of a socket closes asynchronously)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


async def async_wait_until(condition: Callable[[], bool], limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


def other_tasks() -> set[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return {task for task in asyncio.all_tasks() if task is not current}


class _Support:
    """The helpers above, for test modules (``--import-mode=importlib`` cannot import this)."""

    FAST_RETRY = FAST_RETRY
    API_KEY = API_KEY
    chat_requests = staticmethod(chat_requests)
    socket_count = staticmethod(socket_count)
    extra_threads = staticmethod(extra_threads)
    wait_until = staticmethod(wait_until)
    async_wait_until = staticmethod(async_wait_until)
    other_tasks = staticmethod(other_tasks)


@pytest.fixture
def support() -> type[_Support]:
    return _Support
