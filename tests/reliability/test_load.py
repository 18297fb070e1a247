"""Load with faults: 1,000 concurrent ``acall``s on one loop, and 32 threads sharing a model.

The loopback server echoes each request's text, so every answer can be checked against its
own request; a fault plan fails the first attempt of some requests (503 and 429 with
``Retry-After: 0``, a connection reset before the response), and the retry policy must
absorb every one of them. Afterwards no thread, task or socket may be left behind.

Run with ``-s`` to see the figures (requests, faults, retries, lost results).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

import msgflux as mf
from msgflux.testing.server import RecordedRequest, Reply


class FaultPlan:
    """Fails the first attempt of every request whose number ends in 0, 5 or 7 (of 10)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.injected = {"503": 0, "429": 0, "reset": 0}

    def __call__(self, request: RecordedRequest) -> Reply | None:
        # Runs on the server's single thread: no lock needed.
        text = request.json["messages"][-1]["content"]
        number = int(text.rsplit(" ", 1)[-1])
        if text in self.seen or number % 10 not in (0, 5, 7):
            return None  # echo
        self.seen.add(text)
        if number % 10 == 0:
            self.injected["503"] += 1
            return Reply.error(503, "overloaded", headers={"Retry-After": "0"})
        if number % 10 == 5:
            self.injected["429"] += 1
            return Reply.error(429, "slow down", headers={"Retry-After": "0"})
        self.injected["reset"] += 1
        return Reply.text("never sent", reset_before=True)

    @property
    def total(self) -> int:
        return sum(self.injected.values())


def retries(caplog: pytest.LogCaptureFixture, kind: str | None = None) -> int:
    """Retries logged by the policy (of errors whose type name is ``kind``, if given)."""
    return sum(
        1
        for r in caplog.records
        if r.name == "msgflux.retry" and (kind is None or r.error_type == kind)
    )


def check_retries(caplog: pytest.LogCaptureFixture, plan: FaultPlan) -> None:
    # Every 503 and 429 is retried once by the policy. A reset on a reused keep-alive
    # connection may instead be resent by the transport on a fresh connection (before any
    # response byte: connection hygiene); either way it costs exactly one more request.
    assert retries(caplog, "ProviderError") == plan.injected["503"]
    assert retries(caplog, "RateLimitError") == plan.injected["429"]
    assert retries(caplog, "ProviderConnectionError") <= plan.injected["reset"]
    assert retries(caplog) == retries(caplog, "ProviderError") + retries(
        caplog, "RateLimitError"
    ) + retries(caplog, "ProviderConnectionError")


def report(name: str, calls: int, server: Any, plan: FaultPlan, caplog: Any, lost: int) -> None:
    requests = sum(1 for r in server.requests if r.path.endswith("/chat/completions"))
    print(
        f"\n[{name}] calls={calls} requests={requests} faults={plan.total} {plan.injected} "
        f"policy retries={retries(caplog)} transport resends={requests - calls - retries(caplog)} "
        f"lost={lost}"
    )


def test_1000_concurrent_acalls_on_one_loop(loopback_server, transport, support, caplog):
    caplog.set_level(logging.INFO, logger="msgflux.retry")
    threads_before = set(threading.enumerate())
    sockets_before = support.socket_count()
    plan = FaultPlan()
    loopback_server.set_handler(plan)
    model = mf.Model.chat_completion(
        "openai/m",
        base_url=loopback_server.base_url,
        api_key="k",
        transport=transport,
        retry={**support.FAST_RETRY, "max_attempts": 3},
    )
    calls = 1000

    async def one(number: int) -> str:
        prompt = f"question {number}"
        if number % 4 == 3:  # a quarter of them stream
            response = await model.acall(prompt, stream=True)
            return "".join([piece async for piece in response.consume()])
        return (await model.acall(prompt)).data

    async def main() -> tuple[list[Any], set[Any]]:
        tasks_before = support.other_tasks()
        answers = await asyncio.gather(*(one(n) for n in range(calls)), return_exceptions=True)
        await model.aclose()
        await support.async_wait_until(lambda: support.other_tasks() <= tasks_before, 5)
        return answers, support.other_tasks() - tasks_before

    answers, tasks_left = asyncio.run(main())
    lost = [n for n, answer in enumerate(answers) if answer != f"echo: question {n}"]
    report("1000 acalls", calls, loopback_server, plan, caplog, len(lost))
    assert lost == [], [answers[n] for n in lost[:5]]
    assert plan.total == 300  # 100 each of 503, 429 and reset
    check_retries(caplog, plan)
    assert support.chat_requests(loopback_server) == calls + plan.total
    assert not loopback_server.errors
    assert not tasks_left
    assert support.wait_until(lambda: not support.extra_threads(threads_before), 5), [
        t.name for t in support.extra_threads(threads_before)
    ]
    if not support.wait_until(lambda: support.socket_count() <= sockets_before, 2):
        raise AssertionError(f"{support.socket_count() - sockets_before} sockets left open")


def test_32_threads_share_one_model(loopback_server, transport, support, caplog):
    caplog.set_level(logging.INFO, logger="msgflux.retry")
    threads_before = set(threading.enumerate())
    sockets_before = support.socket_count()
    plan = FaultPlan()
    loopback_server.set_handler(plan)
    model = mf.Model.chat_completion(
        "openai/m",
        base_url=loopback_server.base_url,
        api_key="k",
        transport=transport,
        retry={**support.FAST_RETRY, "max_attempts": 3},
    )
    per_thread, workers = 25, 32
    answers: dict[int, Any] = {}
    lock = threading.Lock()
    start = threading.Barrier(workers)

    def worker(index: int) -> None:
        start.wait()  # all threads hit the model at once
        for step in range(per_thread):
            number = index * per_thread + step
            prompt = f"question {number}"
            try:
                if number % 4 == 3:
                    answer: Any = "".join(model(prompt, stream=True))
                else:
                    answer = model(prompt).data
            except Exception as exc:  # recorded as a lost result
                answer = exc
            with lock:
                answers[number] = answer

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    calls = workers * per_thread
    lost = [n for n in range(calls) if answers.get(n) != f"echo: question {n}"]
    report("32 threads", calls, loopback_server, plan, caplog, len(lost))
    assert lost == [], [answers.get(n) for n in lost[:5]]
    assert plan.total == 240
    check_retries(caplog, plan)
    assert support.chat_requests(loopback_server) == calls + plan.total
    assert not loopback_server.errors
    model.close()
    assert support.wait_until(lambda: not support.extra_threads(threads_before), 5), [
        t.name for t in support.extra_threads(threads_before)
    ]
    assert support.wait_until(lambda: support.socket_count() <= sockets_before, 2), (
        support.socket_count() - sockets_before
    )
