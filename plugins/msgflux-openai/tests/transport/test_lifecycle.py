"""Connections over a client's life: pooling, concurrency, event loops, threads, closing."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

from msgflux.errors import RequestTimeoutError
from msgflux.testing.server import LoopbackServer, Reply
from msgflux_openai.transport import create_clients

MESSAGES = [{"role": "user", "content": "hi"}]


def _ask(client, text="hi"):
    out = client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
    return out.choices[0].message.content


async def _aask(aclient, text="hi"):
    out = await aclient.chat.completions.create(
        model="m", messages=[{"role": "user", "content": text}]
    )
    return out.choices[0].message.content


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
    clients = create_clients(base_url=server.base_url, api_key="k", max_connections=3)
    try:
        server.set_handler(lambda request: Reply.echo(request, delay=0.02))
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, sockets())
                await asyncio.sleep(0.005)

        watcher = asyncio.ensure_future(watch())
        answers = await asyncio.gather(*(_aask(clients.aclient, str(i)) for i in range(30)))
        watcher.cancel()
        assert answers == [f"echo: {i}" for i in range(30)]
        assert 1 <= peak <= 3
    finally:
        clients.close()


async def test_waiting_for_a_free_connection_times_out(server):
    clients = create_clients(base_url=server.base_url, api_key="k", timeout=0.2, max_connections=1)
    try:
        server.enqueue(Reply.text("slow", delay=1))
        first = asyncio.ensure_future(
            clients.aclient.chat.completions.create(model="m", messages=MESSAGES, timeout=5)
        )
        await asyncio.sleep(0.05)
        with pytest.raises(RequestTimeoutError, match="free connection"):
            await _aask(clients.aclient)
        assert (await first).choices[0].message.content == "slow"
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
    clients = create_clients(base_url=server.base_url, api_key="k", timeout=0.3, max_connections=1)
    try:
        server.enqueue(Reply.text("a b", stall_after=1))
        stream = clients.client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        with pytest.raises(RequestTimeoutError, match="free connection"):
            _ask(clients.client)
        stream.close()
        assert _ask(clients.client) == "echo: hi"
    finally:
        clients.close()


def test_asyncio_run_twice(server, clients, sockets):
    async def main(text: str) -> str:
        return await _aask(clients.aclient, text)

    assert asyncio.run(main("one")) == "echo: one"
    # asyncio.run finalized the loop: the pool closed its connection while it could.
    assert sockets() == 0
    assert asyncio.run(main("two")) == "echo: two"
    assert sockets() == 0


def test_loop_closed_by_hand_then_another_loop(server, clients, sockets):
    loop = asyncio.new_event_loop()
    assert loop.run_until_complete(_aask(clients.aclient, "one")) == "echo: one"
    loop.close()  # no shutdown_asyncgens: the client notices on its next use
    other = asyncio.new_event_loop()
    try:
        assert other.run_until_complete(_aask(clients.aclient, "two")) == "echo: two"
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
            return list(
                await asyncio.gather(*(_aask(clients.aclient, f"{tag}{i}") for i in range(20)))
            )

        return asyncio.run(main())

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(run, ["a", "b"])
    assert a == [f"echo: a{i}" for i in range(20)]
    assert b == [f"echo: b{i}" for i in range(20)]


def test_close_releases_everything_and_creates_no_threads(server, sockets):
    before = set(threading.enumerate())
    clients = create_clients(base_url=server.base_url, api_key="k")
    _ask(clients.client)

    async def main() -> None:
        await asyncio.gather(*(_aask(clients.aclient) for _ in range(10)))

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
    assert _ask(clients.client)
    assert asyncio.run(_aask(clients.aclient))
    clients.close()


async def test_async_close_inside_the_loop(server, sockets):
    clients = create_clients(base_url=server.base_url, api_key="k")
    await asyncio.gather(*(_aask(clients.aclient) for _ in range(5)))
    assert sockets() >= 1
    await clients.aclose()
    assert sockets() == 0  # closed by the time aclose returns
    clients.close()  # idempotent


def test_server_restart_between_requests(sockets):
    with LoopbackServer() as first:
        port = first.port
        clients = create_clients(base_url=first.base_url, api_key="k", timeout=5)
        assert _ask(clients.client, "a") == "echo: a"
    # The server closed our idle keep-alive connection; a new server takes the port.
    with LoopbackServer(port=port) as second:
        try:
            assert _ask(clients.client, "b") == "echo: b"
            assert len(second.requests) == 1  # sent once, on a fresh connection
        finally:
            clients.close()


async def test_async_server_restart_between_requests():
    with LoopbackServer() as first:
        port = first.port
        clients = create_clients(base_url=first.base_url, api_key="k", timeout=5)
        assert await _aask(clients.aclient, "a") == "echo: a"
    with LoopbackServer(port=port) as second:
        try:
            assert await _aask(clients.aclient, "b") == "echo: b"
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
    clients = create_clients(base_url=server.base_url, api_key="k", timeout=5, max_connections=1)
    try:
        server.enqueue(Reply.text("a b", stall_after=1))
        stream = clients.client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(_ask, clients.client, "queued")
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
