"""Single-flight: identical calls in flight at once send one request; its answer or its error
reaches every caller; a cancelled leader hands over; nothing deadlocks."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from msgflux.cache import ResponseCache
from msgflux.errors import ProviderError
from msgflux.testing.server import Reply


class NothingStored:
    """A backend that never keeps anything: only single-flight can spare a request."""

    def get(self, key):
        return None

    def set(self, key, value, ttl=None):
        pass

    def delete(self, key):
        pass

    def clear(self):
        pass

    def stats(self):
        return {"currsize": 0}


class Gate:
    """A loopback handler that holds chat requests until ``open()`` (optionally only the
    first), then answers with ``reply`` (the echo by default)."""

    def __init__(self, reply: Reply | None = None, *, only_first: bool = False) -> None:
        self.opened = threading.Event()
        self.reply = reply
        self.only_first = only_first
        self.seen = 0

    async def __call__(self, request: Any) -> Reply | None:
        self.seen += 1
        if not (self.only_first and self.seen > 1):
            while not self.opened.is_set():
                await asyncio.sleep(0.002)
        return self.reply

    def open(self) -> None:
        self.opened.set()


async def until(condition, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)


def wait_for(condition, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


@pytest.fixture(params=["memory", "disk", "nothing-stored"])
def cache_option(request, tmp_path) -> Any:
    return {
        "memory": "memory",
        "disk": f"disk:{tmp_path}/sf.db",
        "nothing-stored": NothingStored(),
    }[request.param]


async def test_100_concurrent_acalls_send_one_request(
    make_model, loopback_server, requests_to, cache_option
):
    gate = Gate()
    loopback_server.set_handler(gate)
    model = make_model(cache=cache_option)
    cache: ResponseCache = model._response_cache

    async def open_when_all_wait() -> None:
        await until(lambda: cache.stats()["waiting"] == 99)
        gate.open()

    results = await asyncio.gather(
        *(model.acall("same question") for _ in range(100)), open_when_all_wait()
    )
    answers = results[:100]
    assert requests_to(loopback_server) == 1
    assert all(answer.data == "echo: same question" for answer in answers)
    assert len({id(answer) for answer in answers}) == 100  # each caller its own copy
    answers[0].data = "mutated"
    assert answers[1].data == "echo: same question"
    assert cache.cache_info()["hits"] == 99 and cache.cache_info()["misses"] == 1
    assert cache.stats()["in_flight"] == 0


def test_32_threads_send_one_request(make_model, loopback_server, requests_to, cache_option):
    gate = Gate()
    loopback_server.set_handler(gate)
    model = make_model(cache=cache_option)
    cache: ResponseCache = model._response_cache
    answers: list[Any] = []
    lock = threading.Lock()

    def ask() -> None:
        answer = model("same question")
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=ask) for _ in range(32)]
    for thread in threads:
        thread.start()
    wait_for(lambda: cache.stats()["waiting"] == 31)
    gate.open()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 32 and all(a.data == "echo: same question" for a in answers)
    assert requests_to(loopback_server) == 1


async def test_an_error_reaches_every_waiter_and_is_not_cached(
    make_model, loopback_server, requests_to
):
    gate = Gate(Reply.error(500, "the server broke"))
    loopback_server.set_handler(gate)
    model = make_model(cache="memory")

    async def open_when_all_wait() -> None:
        await until(lambda: model._response_cache.stats()["waiting"] == 9)
        gate.open()

    results = await asyncio.gather(
        *(model.acall("q") for _ in range(10)), open_when_all_wait(), return_exceptions=True
    )
    errors = results[:10]
    assert all(isinstance(error, ProviderError) for error in errors), errors
    assert "the server broke" in str(errors[0])
    assert requests_to(loopback_server) == 1
    loopback_server.set_handler(None)
    assert (await model.acall("q")).data == "echo: q"  # the error was not stored
    assert requests_to(loopback_server) == 2


async def test_a_cancelled_leader_hands_over_to_a_follower(
    make_model, loopback_server, requests_to
):
    gate = Gate()
    loopback_server.set_handler(gate)
    model = make_model(cache="memory")
    cache: ResponseCache = model._response_cache
    leader = asyncio.create_task(model.acall("q"))
    await until(lambda: requests_to(loopback_server) == 1)
    followers = [asyncio.create_task(model.acall("q")) for _ in range(5)]
    await until(lambda: cache.stats()["waiting"] == 5)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    await until(lambda: requests_to(loopback_server) == 2)  # a follower leads now
    gate.open()
    answers = await asyncio.wait_for(asyncio.gather(*followers), 60)
    assert [answer.data for answer in answers] == ["echo: q"] * 5
    assert requests_to(loopback_server) == 2


async def test_threads_follow_a_task_leader(make_model, loopback_server, requests_to):
    gate = Gate()
    loopback_server.set_handler(gate)
    model = make_model(cache="memory")
    cache: ResponseCache = model._response_cache
    leader = asyncio.create_task(model.acall("q"))
    await until(lambda: requests_to(loopback_server) == 1)
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda: answers.append(model("q"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    await until(lambda: cache.stats()["waiting"] == 4)
    gate.open()
    assert (await leader).data == "echo: q"
    for thread in threads:
        await asyncio.to_thread(thread.join, 60)
    assert [answer.data for answer in answers] == ["echo: q"] * 4
    assert requests_to(loopback_server) == 1


async def test_a_blocking_call_on_the_leaders_loop_does_not_deadlock(
    make_model, loopback_server, requests_to
):
    gate = Gate(only_first=True)
    loopback_server.set_handler(gate)
    model = make_model(cache="memory")
    leader = asyncio.create_task(model.acall("q"))
    await until(lambda: requests_to(loopback_server) == 1)
    # Waiting here would block the loop the leader needs: this call goes alone instead.
    assert model("q").data == "echo: q"
    assert requests_to(loopback_server) == 2
    gate.open()
    assert (await leader).data == "echo: q"
