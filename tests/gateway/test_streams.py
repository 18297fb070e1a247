"""Streams through a gateway: failed over while nothing reached the consumer; after that, an
error that says what was delivered, never a truncated answer presented as complete.

Each test asserts the consumer's outcome (chunks, error and its counts), the requests each
server saw, and how long it took.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import msgflux as mf
from msgflux.errors import (
    ProviderConnectionError,
    RequestTimeoutError,
    ResponseDecodeError,
    StreamInterruptedError,
)
from msgflux.testing.server import Reply, ToolCall

NEVER = 60.0
BOUND = 15.0
# a's silences end at its read limit; connecting to it is never what these tests time.
SHORT_READ = mf.Timeout(connect=NEVER, read=0.5)


def chunk(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if text is None else {"content": text}
    return {
        "id": "chatcmpl-raw",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


@pytest.fixture
def pair(servers, deploy):
    a, b = servers(2)

    def build(**a_options: Any) -> Any:
        return mf.ModelGateway(
            [
                {"name": "a", "group": "chat", "model": deploy(a), **a_options},
                {"name": "b", "group": "chat", "model": deploy(b)},
            ]
        )

    return a, b, build


def read(response: Any) -> tuple[list[str], BaseException | None]:
    received: list[str] = []
    try:
        for piece in response:
            received.append(piece)
    except Exception as exc:
        return received, exc
    return received, None


async def aread(response: Any) -> tuple[list[str], BaseException | None]:
    received: list[str] = []
    try:
        async for piece in response.consume():
            received.append(piece)
    except Exception as exc:
        return received, exc
    return received, None


# -- before any chunk: failed over ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Reply.error(503, "overloaded"),
        Reply.text("never sent", reset_before=True),
        Reply.text("one two", stall_after=0),  # headers, then nothing: no first token
        Reply.raw_events(['{"id": "trunc', chunk("two"), "[DONE]"]),  # malformed first event
        Reply.raw_events([{"error": {"message": "model overloaded", "code": 503}}, "[DONE]"]),
        Reply.text("one two", close_after=1),  # the role chunk, then the end: no [DONE]
    ],
    ids=["503", "reset", "no-first-token", "malformed-first", "error-event", "ended-early"],
)
def test_a_stream_that_fails_before_its_first_chunk_moves_on(pair, count, stopwatch, fault):
    a, b, build = pair
    gateway = build(timeout=SHORT_READ)
    a.enqueue(fault)
    with stopwatch() as watch:
        response = gateway("hello", stream=True)
        received, error = read(response)
    assert error is None and "".join(received) == "echo: hello"
    assert [x["deployment"] for x in response.metadata.gateway.attempts] == ["a", "b"]
    assert response.metadata.usage is not None  # the answering call's own usage
    assert (count(a), count(b)) == (1, 1)
    assert watch.seconds < BOUND


def test_a_slow_first_token_moves_on_after_the_timeout(pair, count, stopwatch):
    a, b, build = pair
    gateway = build(timeout=SHORT_READ)
    a.enqueue(Reply.text("too late", delay=NEVER))
    with stopwatch() as watch:
        response = gateway("hello", stream=True)
    assert 0.5 <= watch.seconds < BOUND  # the wait for a's first token is bounded by 0.5 s
    assert "".join(response) == "echo: hello"
    assert response.metadata.gateway.attempts[0]["error"].startswith("RequestTimeoutError")
    assert (count(a), count(b)) == (1, 1)


async def test_a_slow_first_token_moves_on_async(pair, count, stopwatch):
    a, b, build = pair
    gateway = build(timeout=SHORT_READ)
    a.enqueue(Reply.text("too late", delay=NEVER))
    with stopwatch() as watch:
        response = await gateway.acall("hello", stream=True)
    assert 0.5 <= watch.seconds < BOUND
    assert "".join([c async for c in response.consume()]) == "echo: hello"
    assert (count(a), count(b)) == (1, 1)
    await gateway.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_first_token_limit_alone_moves_a_stream_on(pair, count, stopwatch, mode):
    # Connecting and reading have all the time they want: only the time to the first event
    # is short, so the wait a's silence costs is that limit, nothing else.
    a, b, build = pair
    gateway = build(timeout=mf.Timeout(connect=NEVER, read=NEVER, first_token=0.5))
    a.enqueue(Reply.text("too late", stall_after=0))  # headers, then no event at all
    with stopwatch() as watch:
        if mode == "sync":
            response = gateway("hello", stream=True)
            text = "".join(response)
        else:
            response = await gateway.acall("hello", stream=True)
            text = "".join([piece async for piece in response.consume()])
    assert 0.5 <= watch.seconds < BOUND
    assert text == "echo: hello"
    error = response.metadata.gateway.attempts[0]["error"]
    assert error.startswith("RequestTimeoutError") and "first" in error
    assert (count(a), count(b)) == (1, 1)
    await gateway.aclose()


def test_a_tool_call_stream_cut_halfway_moves_on_too(pair, count, stopwatch):
    a, b, build = pair
    call = ToolCall("get_weather", {"city": "Paris"}, id="call_1")
    a.enqueue(Reply.calls(call, reset_after=3))  # role chunk + two argument fragments
    b.enqueue(Reply.calls(call))
    with stopwatch() as watch:
        response = build()("weather?", stream=True)
        aggregator = response.consume()
    assert watch.seconds < BOUND
    assert aggregator.get_calls() == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
        }
    ]
    assert response.response_type == "tool_call"
    assert response.metadata.gateway.deployment == "b"
    assert (count(a), count(b)) == (1, 1)


# -- after chunks were delivered: a clear error ------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "delivered", "cause"),
    [
        (
            Reply.text("one two three four five", reset_after=3),
            ["one", " two"],
            ProviderConnectionError,
        ),
        (
            Reply.raw_events([chunk("one "), "{not json", chunk("two"), "[DONE]"]),
            ["one "],
            ResponseDecodeError,
        ),
        (
            Reply.text("one two three", close_after=3),
            ["one", " two"],
            ProviderConnectionError,
        ),  # no [DONE], no finish_reason: cut
    ],
    ids=["cut", "malformed", "no-done"],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_stream_broken_after_delivery_says_how_much_arrived(
    pair, count, stopwatch, fault, delivered, cause, mode
):
    a, b, build = pair
    gateway = build()
    a.enqueue(fault)

    async def run() -> tuple[Any, list[str], BaseException | None]:
        response = await gateway.acall("hello", stream=True)
        return response, *await aread(response)

    with stopwatch() as watch:
        if mode == "sync":
            response = gateway("hello", stream=True)
            received, error = read(response)
        else:
            response, received, error = asyncio.run(run())
    assert watch.seconds < BOUND
    assert received == delivered
    assert isinstance(error, StreamInterruptedError) and isinstance(error.__cause__, cause)
    assert error.deployment == "a" and error.model == "openai/m"
    assert error.chunks == len(delivered)
    assert error.characters == len("".join(delivered))
    assert f"after {len(delivered)} chunks ({error.characters} characters)" in str(error)
    assert "incomplete" in str(error)
    assert response.done and response.error is error
    with pytest.raises(StreamInterruptedError):
        response.result()
    assert (count(a), count(b)) == (1, 0)  # never restarted behind the consumer's back
    assert gateway.stats()["failed"] == 1


def test_a_stream_that_stalls_mid_answer_ends_at_the_read_timeout(pair, count, stopwatch):
    a, b, build = pair
    gateway = build(timeout=SHORT_READ)
    a.enqueue(Reply.text("one two three", stall_after=2))  # role chunk, "one", then silence
    response = gateway("hello", stream=True)
    with stopwatch() as watch:
        received, error = read(response)
    assert received == ["one"]
    assert isinstance(error, StreamInterruptedError)
    assert isinstance(error.__cause__, RequestTimeoutError)
    assert (error.chunks, error.characters) == (1, 3)
    assert 0.4 <= watch.seconds < BOUND  # the stall is bounded by a's read timeout
    assert (count(a), count(b)) == (1, 0)


def test_a_mid_answer_stall_is_bounded_by_the_read_limit_alone(pair, count, stopwatch):
    a, b, build = pair
    gateway = build(timeout=mf.Timeout(connect=NEVER, read=0.5, first_token=NEVER))
    a.enqueue(Reply.text("one two three", stall_after=2))  # role chunk, "one", then silence
    response = gateway("hello", stream=True)
    with stopwatch() as watch:
        received, error = read(response)
    assert received == ["one"]
    assert isinstance(error, StreamInterruptedError)
    assert isinstance(error.__cause__, RequestTimeoutError) and error.__cause__.phase == "read"
    assert 0.4 <= watch.seconds < BOUND
    assert (count(a), count(b)) == (1, 0)


def test_reasoning_counts_as_delivered(pair, count, stopwatch):
    a, b, build = pair
    a.enqueue(Reply.text("answer", reasoning="think think", reset_after=3))
    with stopwatch() as watch:
        response = build()("hello", stream=True)
        reasoning, error = read(response.iter_reasoning())
    assert watch.seconds < BOUND
    received, same = read(response)
    assert reasoning == ["think", " think"] and received == []
    assert isinstance(error, StreamInterruptedError) and same is error
    assert (error.chunks, error.characters) == (2, 11)
    assert (count(a), count(b)) == (1, 0)


# -- a consumer that leaves early ----------------------------------------------------------------


def test_closing_the_stream_early_releases_the_deployment(pair, count):
    a, b, build = pair
    gateway = build()
    words = " ".join(f"w{i}" for i in range(300))
    a.enqueue(Reply.text(words, chunk_delay=0.005))
    response = gateway("hello", stream=True)
    for index, _piece in enumerate(response):
        if index == 3:
            break
    assert response.wait(10) and response.error is None
    health = gateway.stats()["deployments"]["a"]
    assert health["in_flight"] == 0 and health["failures"] == 0
    assert (count(a), count(b)) == (1, 0)


async def test_cancelling_an_async_gateway_stream(pair, count):
    a, _, build = pair
    gateway = build()
    a.enqueue(Reply.text(" ".join(["w"] * 300), chunk_delay=0.005))
    response = await gateway.acall("hello", stream=True)
    await response.aclose()
    assert response.done and response.error is None
    assert gateway.stats()["deployments"]["a"]["in_flight"] == 0
    current = asyncio.current_task()
    assert not [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    await gateway.aclose()
