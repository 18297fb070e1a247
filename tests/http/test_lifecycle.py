"""Connections over a client's life: pooling, concurrency, event loops, threads, closing.

These talk to the OpenAI-compatible loopback server of ``msgflux.testing`` with plain JSON
bodies: the pool under test is msgflux.http's, whatever the wire format.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import pytest

from msgflux.errors import RequestTimeoutError
from msgflux.http import Client, Timeout
from msgflux.testing.server import LoopbackServer, Reply

from .conftest import client_sockets

PATH = "/chat/completions"


def _body(text: str, stream: bool = False) -> bytes:
    payload: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": text}]}
    if stream:
        payload["stream"] = True
    return msgspec.json.encode(payload)


def _content(body: bytes) -> str:
    return str(msgspec.json.decode(body)["choices"][0]["message"]["content"])


def _ask(client: Client, text: str = "hi") -> str:
    return _content(client.request("POST", PATH, _body(text)).body)


async def _aask(client: Client, text: str = "hi") -> str:
    return _content((await client.arequest("POST", PATH, _body(text))).body)


def _open_stream(client: Client, text: str = "hi") -> Any:
    return client.stream("POST", PATH, _body(text, stream=True))


@pytest.fixture
def server(loopback_server: LoopbackServer) -> LoopbackServer:
    return loopback_server


@pytest.fixture
def client(server: LoopbackServer) -> Iterator[Client]:
    with Client(server.base_url, timeout=5.0) as client:
        yield client


@pytest.fixture
def aclient(client: Client) -> Client:
    return client


@pytest.fixture
def clients(client: Client) -> Client:
    return client


@pytest.fixture
def sockets(server: LoopbackServer) -> Any:
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("counts sockets through /proc (Linux only)")
    return lambda: client_sockets(server.port)


@pytest.fixture
def local_ports(server: LoopbackServer) -> Any:
    """Local ports of the established connections to the server (client side only)."""
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("reads sockets through /proc (Linux only)")
    return lambda: sorted(_ours(server.port))


def _ours(port: int) -> set[int]:
    """Local ports of this process's sockets whose remote end is ``port`` (client side)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                remote = int(fields[2].rsplit(":", 1)[1], 16)
                if remote == port and fields[9] in inodes and fields[3] == "01":
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_sequential_requests_share_one_connection(server, client, sockets):
    assert [_ask(client, str(i)) for i in range(20)] == [f"echo: {i}" for i in range(20)]
    assert sockets() == 1


async def test_async_sequential_requests_share_one_connection(server, aclient, sockets):
    for i in range(20):
        assert await _aask(aclient, str(i)) == f"echo: {i}"
    assert sockets() == 1


async def test_many_concurrent_async_requests(server, aclient):
    texts = [str(i) for i in range(300)]
    answers = await asyncio.gather(*(_aask(aclient, t) for t in texts))
    assert answers == [f"echo: {t}" for t in texts]  # each answer went to its own caller


async def test_max_connections_caps_async_concurrency(server, sockets):
    clients = Client(server.base_url, max_connections=3)
    try:
        server.set_handler(lambda request: Reply.echo(request, delay=0.02))
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, sockets())
                await asyncio.sleep(0.005)

        watcher = asyncio.ensure_future(watch())
        answers = await asyncio.gather(*(_aask(clients, str(i)) for i in range(30)))
        watcher.cancel()
        assert answers == [f"echo: {i}" for i in range(30)]
        assert 1 <= peak <= 3
    finally:
        clients.close()


async def test_waiting_for_a_free_connection_times_out(server):
    clients = Client(server.base_url, timeout=Timeout(connect=0.2, read=10), max_connections=1)
    try:
        server.enqueue(Reply.text("slow", delay=1))
        first = asyncio.ensure_future(clients.arequest("POST", PATH, _body("hi"), timeout=5))
        await asyncio.sleep(0.05)
        with pytest.raises(RequestTimeoutError, match="free connection"):
            await _aask(clients)
        assert _content((await first).body) == "slow"
    finally:
        clients.close()


def test_sync_client_is_thread_safe(server, client, sockets):
    def worker(n: int) -> list[str]:
        return [_ask(client, f"{n}-{i}") for i in range(15)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8)))
    assert results == [[f"echo: {n}-{i}" for i in range(15)] for n in range(8)]
    assert 1 <= sockets() <= 8


def test_sync_max_connections(server):
    clients = Client(server.base_url, timeout=Timeout(connect=0.3, read=10), max_connections=1)
    try:
        server.enqueue(Reply.text("a b", stall_after=1))
        stream = _open_stream(clients)
        with pytest.raises(RequestTimeoutError, match="free connection"):
            _ask(clients)
        stream.close()
        assert _ask(clients) == "echo: hi"
    finally:
        clients.close()


def test_asyncio_run_twice(server, clients, sockets):
    async def main(text: str) -> str:
        return await _aask(clients, text)

    assert asyncio.run(main("one")) == "echo: one"
    # asyncio.run finalized the loop: the pool closed its connection while it could.
    assert sockets() == 0
    assert asyncio.run(main("two")) == "echo: two"
    assert sockets() == 0


def test_loop_closed_by_hand_then_another_loop(server, clients, sockets):
    loop = asyncio.new_event_loop()
    assert loop.run_until_complete(_aask(clients, "one")) == "echo: one"
    loop.close()  # no shutdown_asyncgens: the client notices on its next use
    other = asyncio.new_event_loop()
    try:
        assert other.run_until_complete(_aask(clients, "two")) == "echo: two"
        assert sockets() == 1  # the closed loop's socket is gone, the new one is pooled
    finally:
        other.run_until_complete(other.shutdown_asyncgens())
        other.close()
    assert sockets() == 0
    # Known limit: the first loop's transport objects could not run their cleanup on a closed
    # loop (the socket itself was closed), so asyncio may warn about them when collected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def test_two_loops_in_two_threads_at_once(server, clients):
    barrier = threading.Barrier(2)

    def run(tag: str) -> list[str]:
        async def main() -> list[str]:
            barrier.wait(5)
            return list(await asyncio.gather(*(_aask(clients, f"{tag}{i}") for i in range(20))))

        return asyncio.run(main())

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(run, ["a", "b"])
    assert a == [f"echo: a{i}" for i in range(20)]
    assert b == [f"echo: b{i}" for i in range(20)]


def test_close_releases_everything_and_creates_no_threads(server, sockets):
    before = set(threading.enumerate())
    clients = Client(server.base_url)
    _ask(clients)

    async def main() -> None:
        await asyncio.gather(*(_aask(clients) for _ in range(10)))

    loop = asyncio.new_event_loop()
    loop.run_until_complete(main())
    assert sockets() > 1
    assert set(threading.enumerate()) == before  # neither client starts a thread
    clients.close()
    loop.run_until_complete(asyncio.sleep(0))  # transports close on the next loop turn
    loop.close()
    gc.collect()
    assert sockets() == 0
    # Closing releases connections; the clients stay usable and open new ones.
    assert _ask(clients)
    assert asyncio.run(_aask(clients))
    clients.close()


async def test_async_close_inside_the_loop(server, sockets):
    clients = Client(server.base_url)
    await asyncio.gather(*(_aask(clients) for _ in range(5)))
    assert sockets() >= 1
    await clients.aclose()
    assert sockets() == 0  # closed by the time aclose returns
    clients.close()  # idempotent


def test_server_restart_between_requests(sockets):
    with LoopbackServer() as first:
        port = first.port
        clients = Client(first.base_url, timeout=5)
        assert _ask(clients, "a") == "echo: a"
    # The server closed our idle keep-alive connection; a new server takes the port.
    with LoopbackServer(port=port) as second:
        try:
            assert _ask(clients, "b") == "echo: b"
            assert len(second.requests) == 1  # sent once, on a fresh connection
        finally:
            clients.close()


async def test_async_server_restart_between_requests():
    with LoopbackServer() as first:
        port = first.port
        clients = Client(first.base_url, timeout=5)
        assert await _aask(clients, "a") == "echo: a"
    with LoopbackServer(port=port) as second:
        try:
            assert await _aask(clients, "b") == "echo: b"
            assert len(second.requests) == 1
        finally:
            clients.close()


def test_connection_close_header_is_honoured(server, client, sockets):
    server.enqueue(Reply.text("bye", headers={"Connection": "close"}))
    assert _ask(client) == "bye"
    assert sockets() == 0
    assert _ask(client) == "echo: hi"


async def test_cancelled_request_frees_its_connection(server, aclient, sockets):
    server.enqueue(Reply.text("slow", delay=5))
    task = asyncio.ensure_future(_aask(aclient))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.01)
    assert sockets() == 0
    assert await _aask(aclient, "next") == "echo: next"


def test_sync_waiter_gets_the_released_connection(server):
    clients = Client(server.base_url, timeout=5, max_connections=1)
    try:
        server.enqueue(Reply.text("a b", stall_after=1))
        stream = _open_stream(clients)
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(_ask, clients, "queued")
            # The request waits for the only connection; it may not finish before it is freed.
            assert not waiting.done()
            stream.close()
            assert waiting.result(5) == "echo: queued"
    finally:
        clients.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_share_pooled_connections(server, client, local_ports):
    assert _ask(client, "parent") == "echo: parent"
    (parent_port,) = local_ports()  # the pooled keep-alive connection
    pid = os.fork()
    if pid == 0:  # child: must open its own connection, never write on the parent's
        code = 1
        try:
            ok = _ask(client, "child") == "echo: child"
            code = 0 if ok and parent_port not in local_ports() else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _ask(client, "parent again") == "echo: parent again"
    assert local_ports() == [parent_port]  # the parent still uses its own connection
