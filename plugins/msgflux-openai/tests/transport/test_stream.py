"""Streamed responses over real HTTP: decoding, stream endings, faults, early close."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

from msgflux.errors import (
    BadRequestError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ResponseDecodeError,
)
from msgflux.testing.server import Reply, ToolCall, Usage
from msgflux_openai.transport import ChatCompletionChunk, create_clients

MESSAGES = [{"role": "user", "content": "hi"}]


def _open(client, **params):
    return client.chat.completions.create(model="m", messages=MESSAGES, stream=True, **params)


async def _aopen(aclient, **params):
    return await aclient.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, **params
    )


def _text(chunks):
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_sync_text_stream_with_usage(server, client):
    server.enqueue(Reply.text("Hello big world", usage=Usage(4, 3), headers={"x-request-id": "r1"}))
    stream = _open(client, stream_options={"include_usage": True})
    assert (stream.status, stream.request_id) == (200, "r1")
    assert stream.headers["content-type"].startswith("text/event-stream")
    chunks = list(stream)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert _text(chunks) == "Hello big world"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 7
    assert server.last_request.json["stream_options"] == {"include_usage": True}
    assert server.last_request.headers["accept"] == "text/event-stream"


async def test_async_text_stream(server, aclient):
    server.enqueue(Reply.text("Hello big world", chunks=["Hel", "lo big", " world"]))
    stream = await _aopen(aclient)
    pieces = [c.choices[0].delta.content async for c in stream if c.choices]
    assert "".join(p or "" for p in pieces) == "Hello big world"
    assert "lo big" in pieces


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking"])
def test_reasoning_stream(server, client, field):
    server.enqueue(Reply.text("42", reasoning="let me think", reasoning_field=field))
    chunks = list(_open(client))
    reasoning = "".join(getattr(c.choices[0].delta, field) or "" for c in chunks if c.choices)
    assert reasoning == "let me think"
    assert _text(chunks) == "42"


def test_interleaved_tool_call_fragments(server, client):
    server.enqueue(
        Reply.calls(
            ToolCall("a", {"x": 1}, id="call_a"),
            ToolCall("b", {"y": 2}, id="call_b"),
            interleave_tool_calls=True,
            content="checking",
        )
    )
    calls: dict[int, dict] = {}
    chunks = list(_open(client))
    for chunk in chunks:
        for frag in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = calls.setdefault(frag.index, {"id": None, "name": None, "args": ""})
            entry["id"] = entry["id"] or frag.id
            if frag.function:
                entry["name"] = entry["name"] or frag.function.name
                entry["args"] += frag.function.arguments or ""
    assert calls == {
        0: {"id": "call_a", "name": "a", "args": '{"x":1}'},
        1: {"id": "call_b", "name": "b", "args": '{"y":2}'},
    }
    assert _text(chunks) == "checking"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_groq_usage_in_x_groq(server, client):
    server.enqueue(Reply.text("hi", usage=Usage(1, 1), usage_location="x_groq"))
    chunks = list(_open(client))
    assert chunks[-1].x_groq["usage"]["total_tokens"] == 2


def test_batches_sync(server, client):
    server.enqueue(Reply.text("one two three four five"))
    batches = list(_open(client).batches())
    assert batches and all(isinstance(b, list) and b for b in batches)
    assert _text([c for b in batches for c in b]) == "one two three four five"


async def test_batches_async(server, aclient):
    server.enqueue(Reply.text("one two three four five"))
    stream = await _aopen(aclient)
    batches = [batch async for batch in stream.batches()]
    assert _text([c for b in batches for c in b]) == "one two three four five"


def test_many_chunks(server, client):
    words = [f" w{i}" for i in range(3000)]
    server.enqueue(Reply.text("".join(words), chunks=words))
    assert _text(_open(client)) == "".join(words)


# -- how streams end ---------------------------------------------------------------------------


def test_clean_end_without_done_is_accepted(server, client):
    # close_after ends the chunked body properly after 3 events: no [DONE], no error.
    server.enqueue(Reply.text("a b c d", close_after=3))
    chunks = list(_open(client))
    assert len(chunks) == 3


def test_last_event_without_blank_line_is_delivered(server, client):
    server.enqueue(
        Reply.raw_events([{"choices": [{"delta": {"content": "x"}}]}, b'data: {"id":"z"}'])
    )
    chunks = list(_open(client))
    assert _text(chunks) == "x" and chunks[-1].id == "z"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_connection_reset_mid_stream(server, client, aclient, mode):
    server.enqueue(Reply.text("a b c d e f", reset_after=2))
    got: list = []
    with pytest.raises(ProviderConnectionError):
        if mode == "sync":
            for chunk in _open(client):
                got.append(chunk)
        else:
            async for chunk in await _aopen(aclient):
                got.append(chunk)
    assert len(got) == 2  # what arrived before the fault was delivered


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_malformed_sse_line(server, client, aclient, mode):
    server.enqueue(
        Reply.raw_events(
            [{"choices": [{"delta": {"content": "ok"}}]}, b"this is not sse\n\n", "[DONE]"]
        )
    )
    got: list = []
    with pytest.raises(ResponseDecodeError) as info:
        if mode == "sync":
            for chunk in _open(client):
                got.append(chunk)
        else:
            async for chunk in await _aopen(aclient):
                got.append(chunk)
    assert _text(got) == "ok"
    assert info.value.raw_text == "this is not sse"


def test_invalid_json_event(server, client):
    server.enqueue(Reply.raw_events([{"choices": []}, '{"trunc', "[DONE]"]))
    stream = _open(client)
    next(stream)
    with pytest.raises(ResponseDecodeError) as info:
        next(stream)
    assert info.value.raw_text == '{"trunc'


@pytest.mark.parametrize(
    "event",
    [
        {"error": {"message": "overloaded", "code": 429}},
        b'event: error\ndata: {"error": {"message": "overloaded", "code": 429}}\n\n',
    ],
)
def test_error_in_the_middle_of_a_stream(server, client, event):
    server.enqueue(Reply.raw_events([{"choices": [{"delta": {"content": "a"}}]}, event]))
    got = []
    with pytest.raises(RateLimitError) as info:
        for chunk in _open(client):
            got.append(chunk)
    assert _text(got) == "a"
    assert info.value.message == "overloaded"


def test_error_status_raises_at_create(server, client):
    server.enqueue(Reply.error(400, "bad stream", headers={"x-request-id": "r9"}))
    with pytest.raises(BadRequestError) as info:
        _open(client)
    assert (info.value.status, info.value.message, info.value.request_id) == (
        400,
        "bad stream",
        "r9",
    )


async def test_async_error_status_raises_at_create(server, aclient):
    server.enqueue(Reply.error(503, "busy"))
    with pytest.raises(ProviderError) as info:
        await _aopen(aclient)
    assert info.value.status == 503


def test_json_answer_to_a_stream_request(server, client):
    server.enqueue(Reply.raw(200, b'{"id": "x", "choices": []}'))
    with pytest.raises(ResponseDecodeError, match="instead of an event stream"):
        _open(client)


# -- stalls and timeouts -----------------------------------------------------------------------


def test_stalled_stream_times_out(server):
    clients = create_clients(base_url=server.base_url, api_key="k", timeout=0.3)
    try:
        server.enqueue(Reply.text("a b c d", stall_after=2))
        got = []
        with pytest.raises(RequestTimeoutError, match="next stream event"):
            for chunk in _open(clients.client):
                got.append(chunk)
        assert len(got) == 2
    finally:
        clients.close()


async def test_async_stalled_stream_times_out(server):
    clients = create_clients(base_url=server.base_url, api_key="k", timeout=0.3)
    try:
        server.enqueue(Reply.text("a b c d", stall_after=2))
        got = []
        with pytest.raises(RequestTimeoutError):
            async for chunk in await _aopen(clients.aclient):
                got.append(chunk)
        assert len(got) == 2
    finally:
        clients.close()


def test_per_call_timeout_overrides(server, client):
    server.enqueue(Reply.text("a b", stall_after=1))
    stream = _open(client, timeout=0.2)
    with pytest.raises(RequestTimeoutError):
        list(stream)


# -- early close and connection reuse ----------------------------------------------------------


def test_stream_read_to_the_end_reuses_its_connection(server, client, sockets):
    for _ in range(3):
        server.enqueue(Reply.text("a b c"))
        assert _text(_open(client)) == "a b c"
    assert sockets() == 1


def test_close_from_another_thread_unblocks_the_reader(server, client, sockets):
    server.enqueue(Reply.text("a b c d", stall_after=1))
    stream = _open(client)
    first = threading.Event()
    seen: list = []
    outcome: list = []

    def reader() -> None:
        try:
            for chunk in stream:
                seen.append(chunk)
                first.set()
            outcome.append("stopped")
        except BaseException as exc:  # pragma: no cover - reported below
            outcome.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    assert first.wait(5)
    # The reader is now blocked in recv on a stalled stream (the client timeout is 5 s).
    stream.close()
    thread.join(5)
    assert not thread.is_alive()
    assert outcome == ["stopped"] and len(seen) == 1
    assert sockets() == 0
    stream.close()  # idempotent
    server.enqueue(Reply.text("after"))
    assert _text(_open(client)) == "after"  # the pool is still healthy


def test_close_before_reading(server, client, sockets):
    server.enqueue(Reply.text("a b c"))
    stream = _open(client)
    stream.close()
    assert list(stream) == []
    assert sockets() == 0


def test_context_manager_closes(server, client, sockets):
    server.enqueue(Reply.text("a b c d", stall_after=2))
    with _open(client) as stream:
        next(stream)
    assert sockets() == 0


async def test_async_close_from_another_task(server, aclient, sockets):
    server.enqueue(Reply.text("a b c d", stall_after=1))
    stream = await _aopen(aclient)
    seen: list = []

    async def reader() -> None:
        async for chunk in stream:
            seen.append(chunk)

    task = asyncio.ensure_future(reader())
    while not seen:
        await asyncio.sleep(0.01)
    await stream.aclose()
    await asyncio.wait_for(task, 5)
    assert len(seen) == 1
    await asyncio.sleep(0.05)  # the aborted transport closes its socket on the next loop turn
    assert sockets() == 0


async def test_async_context_manager(server, aclient):
    server.enqueue(Reply.text("a b c"))
    async with await _aopen(aclient) as stream:
        chunk = await stream.__anext__()
    assert chunk.choices[0].delta.role == "assistant"
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


def test_abandoned_stream_gives_its_connection_back(server):
    clients = create_clients(base_url=server.base_url, api_key="k", timeout=2, max_connections=1)
    try:
        server.enqueue(Reply.text("a b c", stall_after=1), Reply.text("next"))
        stream = _open(clients.client)
        next(stream)
        del stream
        gc.collect()
        # With one connection allowed, this would wait for a free one and time out.
        out = clients.client.chat.completions.create(model="m", messages=MESSAGES)
        assert out.choices[0].message.content == "next"
    finally:
        clients.close()
