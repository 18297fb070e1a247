"""model.batch / model.abatch over real HTTP: order, per-item errors, 429s, budgets, callbacks."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import msgflux as mf
from msgflux.batch import abatch, batch
from msgflux.errors import BadRequestError, ProviderError, RateLimitError
from msgflux.testing.server import Reply

from .conftest import chat_requests

pytestmark = pytest.mark.requires_provider("openai")


def test_results_come_back_in_input_order_whatever_order_they_finish(loopback_server, make_model):
    def slow_first(request):  # earlier inputs answer later
        index = int(request.json["messages"][-1]["content"].split()[-1])
        return Reply.echo(request, delay=0.05 * (5 - index))

    loopback_server.set_handler(slow_first)
    finished = []

    results = make_model().batch(
        [f"item {i}" for i in range(6)],
        progress=False,
        on_result=lambda item: finished.append(item.index),
    )

    assert [item.response.consume() for item in results] == [f"echo: item {i}" for i in range(6)]
    assert [item.index for item in results] == list(range(6))
    assert finished != sorted(finished)  # the callback sees completion order


def test_a_failed_item_is_its_result_and_the_batch_goes_on(loopback_server, make_model):
    def reject_two(request):
        if request.json["messages"][-1]["content"] == "two":
            return Reply.error(400, "bad item")
        return None

    loopback_server.set_handler(reject_two)

    results = make_model().batch(["one", "two", "three"], progress=False)

    assert [item.ok for item in results] == [True, False, True]
    assert isinstance(results[1].error, BadRequestError)
    with pytest.raises(BadRequestError):
        results[1].result()
    assert results.responses[1] is None
    assert results.errors == [results[1]]
    assert (results.stats.succeeded, results.stats.failed) == (2, 1)


async def test_abatch_gives_what_batch_gives(make_model):
    model = make_model()
    inputs = [f"q{i}" for i in range(20)]

    from_async = await model.abatch(inputs, progress=False)
    from_sync = await asyncio.to_thread(model.batch, inputs, progress=False)

    assert [i.response.consume() for i in from_async] == [i.response.consume() for i in from_sync]


async def test_batch_called_inside_a_running_loop_runs_on_its_own_thread(make_model):
    results = make_model().batch(["inside a loop"], progress=False)

    assert results[0].response.consume() == "echo: inside a loop"


def test_429s_are_retried_by_the_batch_not_by_the_models_policy(loopback_server, make_model):
    loopback_server.enqueue(
        Reply.error(429, "slow down", headers={"retry-after-ms": "20"}),
        Reply.error(429, "slow down"),
    )

    results = make_model(retry={"max_attempts": 5}).batch(["only item"], progress=False)

    assert results[0].response.consume() == "echo: only item"
    assert (results[0].attempts, results[0].rate_limited) == (3, 2)
    assert results.stats.rate_limited == 2
    assert len(chat_requests(loopback_server)) == 3  # the batch's 3 attempts, none multiplied


def test_other_errors_are_retried_by_the_models_policy_within_the_call(loopback_server, make_model):
    loopback_server.enqueue(Reply.error(503, "busy"), Reply.error(503, "busy"))

    results = make_model(retry={"max_attempts": 3, "initial_backoff": 0.001}).batch(
        ["x"], progress=False
    )

    assert results[0].ok
    assert results[0].attempts == 1  # one call by the batch; its policy made three requests
    assert len(chat_requests(loopback_server)) == 3


def test_outside_a_batch_the_model_still_retries_429(loopback_server, make_model):
    loopback_server.enqueue(Reply.error(429, "slow down", headers={"retry-after-ms": "1"}))

    assert make_model()("x").consume() == "echo: x"
    assert len(chat_requests(loopback_server)) == 2


def test_an_item_out_of_rate_limit_retries_holds_the_429(loopback_server, make_model):
    loopback_server.set_handler(
        lambda request: Reply.error(429, "always", headers={"retry-after-ms": "1"})
    )

    results = make_model().batch(["never answered"], max_rate_limit_retries=3, progress=False)

    assert isinstance(results[0].error, RateLimitError)
    assert results[0].attempts == 4
    assert len(chat_requests(loopback_server)) == 4


def test_a_quota_429_is_final_at_once(loopback_server, make_model):
    loopback_server.enqueue(Reply.error(429, "no credit", code="insufficient_quota"))

    results = make_model().batch(["x"], progress=False)

    assert isinstance(results[0].error, RateLimitError)
    assert results[0].attempts == 1


def test_concurrency_never_exceeds_the_maximum(loopback_server, make_model):
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    async def count(request):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.01)
        with lock:
            state["now"] -= 1
        return Reply.echo(request)

    loopback_server.set_handler(count)

    results = make_model().batch([f"c{i}" for i in range(60)], max_concurrency=3, progress=False)

    assert results.ok
    assert state["peak"] <= 3


def test_a_requests_per_minute_budget_is_never_exceeded(loopback_server, make_model):
    started = time.monotonic()

    results = make_model().batch(
        [f"r{i}" for i in range(25)], requests_per_minute=1200, progress=False
    )  # 20 a second: the first 20 at once, then one every 50 ms

    assert results.ok
    assert time.monotonic() - started >= 0.2  # a lower bound: a loaded machine only adds time


def test_a_tokens_per_minute_budget_is_settled_with_the_reported_usage(loopback_server, make_model):
    loopback_server.set_handler(
        lambda request: Reply.echo(
            request, usage=mf.testing.Usage(prompt_tokens=40, completion_tokens=60)
        )
    )
    started = time.monotonic()

    # 500 tokens a second (and at most 500 at once); the calls use 800 in all, 100 each once
    # the usage is known: starting the last one needs at least 0.6 s of refill.
    results = make_model().batch(
        [f"t{i}" for i in range(8)],
        tokens_per_minute=30_000,
        max_tokens=10,
        max_concurrency=1,
        progress=False,
    )

    assert results.ok
    assert results.stats.total_tokens == 800
    assert time.monotonic() - started >= 0.3


def test_stats_count_tokens_and_requests(make_model):
    results = make_model().batch(["a b", "c"], progress=False)

    assert results.stats.requests == 2
    assert results.stats.prompt_tokens > 0 and results.stats.completion_tokens > 0
    assert "2 succeeded" in repr(results)


def test_an_exception_in_on_result_stops_the_batch_and_cancels_the_rest(
    loopback_server, make_model
):
    loopback_server.set_handler(lambda request: Reply.echo(request, delay=0.05))

    def explode(item):
        raise RuntimeError("callback failed")

    threads_before = threading.active_count()
    with pytest.raises(RuntimeError, match="callback failed"):
        make_model().batch([f"x{i}" for i in range(50)], max_concurrency=4, on_result=explode)

    assert len(chat_requests(loopback_server)) < 50
    assert threading.active_count() <= threads_before


async def test_cancelling_abatch_cancels_the_calls_in_flight(loopback_server, make_model):
    loopback_server.set_handler(lambda request: Reply.echo(request, stall=True))
    model = make_model(timeout=30)

    task = asyncio.create_task(model.abatch([f"s{i}" for i in range(10)], progress=False))
    while len(chat_requests(loopback_server)) < 4:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftovers == []


async def test_an_async_on_result_is_awaited(make_model):
    seen = []

    async def record(item):
        await asyncio.sleep(0)
        seen.append(item.index)

    await make_model().abatch(["a", "b", "c"], on_result=record, progress=False)

    assert sorted(seen) == [0, 1, 2]


def test_any_callable_or_coroutine_function_can_be_batched():
    calls = []

    def shout(messages, suffix=""):
        calls.append(threading.current_thread().name)
        if messages == "boom":
            raise ProviderError("no", status=500)
        return messages.upper() + suffix

    async def whisper(messages, **kwargs):
        return messages.lower()

    results = batch(shout, ["a", "boom", "c"], suffix="!", progress=False)
    assert [item.response for item in results] == ["A!", None, "C!"]
    assert isinstance(results[1].error, ProviderError)
    assert all(name.startswith("msgflux-batch") for name in calls)
    assert [i.response for i in asyncio.run(abatch(whisper, ["X"], progress=False))] == ["x"]


def test_something_not_callable_is_refused():
    with pytest.raises(TypeError, match="calls a model"):
        batch(42, ["x"])


def test_no_bar_when_stderr_is_not_a_terminal(make_model, capsys):
    make_model().batch(["quiet"])

    assert capsys.readouterr().err == ""


def test_a_bar_when_asked(make_model, capsys):
    make_model().batch(["a", "b"], progress=True)

    err = capsys.readouterr().err
    assert "2/2" in err and "batch" in err
