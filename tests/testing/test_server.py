"""Wire tests of the loopback OpenAI-compatible server, through the real openai SDK and httpx."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from msgflux.testing.server import Audio, LoopbackServer, Reply, ToolCall, Usage

MESSAGES = [{"role": "user", "content": "hi there"}]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv
        assert srv.errors == []


@pytest.fixture
def client(server: LoopbackServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=10) as c:
        yield c


@pytest.fixture
async def aclient(server: LoopbackServer) -> Any:
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="k", max_retries=0, timeout=10
    ) as c:
        yield c


def create(client: openai.OpenAI, **kwargs: Any) -> Any:
    kwargs.setdefault("model", "m")
    kwargs.setdefault("messages", MESSAGES)
    return client.chat.completions.create(**kwargs)


def sse_payloads(text: str) -> list[str]:
    """The data payloads of an SSE body, in order."""
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def post_stream(server: LoopbackServer, **body: Any) -> httpx.Response:
    body = {"model": "m", "messages": MESSAGES, "stream": True, **body}
    return httpx.post(server.url("/v1/chat/completions"), json=body, timeout=10)


def reassemble(chunks: list[Any]) -> dict[int, dict[str, Any]]:
    """Tool calls rebuilt from streamed fragments, by index."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for fragment in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(fragment.index, {"id": None, "name": None, "arguments": ""})
            if fragment.id:
                call["id"] = fragment.id
            if fragment.function and fragment.function.name:
                call["name"] = fragment.function.name
            if fragment.function and fragment.function.arguments:
                call["arguments"] += fragment.function.arguments
    return calls


# -- text ------------------------------------------------------------------------------------


def test_text_reply_has_openai_completion_shape(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("Hello world", usage=Usage(3, 2)))

    out = create(client, model="gpt-x")

    assert out.object == "chat.completion"
    assert out.id.startswith("chatcmpl-")
    assert out.model == "gpt-x"
    assert isinstance(out.created, int)
    assert out.system_fingerprint
    choice = out.choices[0]
    assert (choice.index, choice.finish_reason, choice.logprobs) == (0, "stop", None)
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello world"
    assert choice.message.tool_calls is None
    assert (out.usage.prompt_tokens, out.usage.completion_tokens, out.usage.total_tokens) == (
        3,
        2,
        5,
    )


def test_streamed_text_uses_given_chunks(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("Hello world", chunks=["Hel", "lo world"]))

    chunks = list(create(client, stream=True, model="gpt-x"))

    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.model for c in chunks} == {"gpt-x"}
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    contents = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert contents == ["Hel", "lo world"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_default_stream_splits_text_into_pieces(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("one two three four"))

    pieces = [c.choices[0].delta.content for c in create(client, stream=True)]

    text_pieces = [p for p in pieces if p]
    assert len(text_pieces) > 1
    assert "".join(text_pieces) == "one two three four"


def test_sse_body_ends_with_done(server: LoopbackServer):
    server.enqueue(Reply.text("hi"))

    response = post_stream(server)

    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    assert all(json.loads(p)["object"] == "chat.completion.chunk" for p in payloads[:-1])


def test_chunks_must_join_to_the_content():
    with pytest.raises(ValueError, match="join"):
        Reply.text("Hello", chunks=["He", "lo"])


async def test_async_client_plain_and_streaming(server: LoopbackServer, aclient: Any):
    server.enqueue(Reply.text("first"), Reply.text("second answer"))

    out = await aclient.chat.completions.create(model="m", messages=MESSAGES)
    stream = await aclient.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    pieces = [c.choices[0].delta.content async for c in stream if c.choices]

    assert out.choices[0].message.content == "first"
    assert "".join(p for p in pieces if p) == "second answer"


def test_think_tags_in_text_are_sent_verbatim(server: LoopbackServer, client: openai.OpenAI):
    text = "<think>plan it</think>The answer"
    server.enqueue(Reply.text(text), Reply.text(text))

    plain = create(client).choices[0].message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in create(client, stream=True))

    assert plain == streamed == text


# -- reasoning -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking"])
def test_reasoning_field_in_message(server: LoopbackServer, client: openai.OpenAI, field: str):
    server.enqueue(Reply.text("42", reasoning="Think hard.", reasoning_field=field))

    message = create(client).choices[0].message

    assert message.model_extra[field] == "Think hard."
    assert message.content == "42"
    assert [f for f in ("reasoning_content", "reasoning", "thinking") if hasattr(message, f)] == [
        field
    ]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking"])
def test_reasoning_streams_before_content(
    server: LoopbackServer, client: openai.OpenAI, field: str
):
    server.enqueue(Reply.text("The answer", reasoning="Let me think", reasoning_field=field))

    order = []
    for chunk in create(client, stream=True):
        delta = chunk.choices[0].delta
        if getattr(delta, field, None):
            order.append(("reasoning", getattr(delta, field)))
        if delta.content:
            order.append(("content", delta.content))

    kinds = [kind for kind, _ in order]
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning")
    assert "".join(t for k, t in order if k == "reasoning") == "Let me think"
    assert "".join(t for k, t in order if k == "content") == "The answer"


def test_reasoning_details(server: LoopbackServer, client: openai.OpenAI):
    details = [
        {"type": "reasoning.text", "text": "step 1", "index": 0},
        {"type": "reasoning.encrypted", "data": "abc", "index": 1},
    ]
    reply = Reply.text(
        "ok", reasoning="step 1", reasoning_field="reasoning", reasoning_details=details
    )
    server.enqueue(reply, reply)

    message = create(client).choices[0].message
    streamed = [
        item
        for chunk in create(client, stream=True)
        for item in (chunk.choices[0].delta.model_extra or {}).get("reasoning_details", [])
    ]

    assert message.model_extra["reasoning_details"] == details
    assert message.model_extra["reasoning"] == "step 1"
    assert streamed == details


# -- tool calls ------------------------------------------------------------------------------


def test_tool_calls_in_message(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(
        Reply.calls(
            ("call_a", "get_weather", '{"city": "Paris"}'),
            ToolCall("get_time", {"tz": "UTC"}),
            content="Let me check.",
        )
    )

    choice = create(client).choices[0]

    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    first, second = choice.message.tool_calls
    assert (first.id, first.type, first.function.name) == ("call_a", "function", "get_weather")
    assert first.function.arguments == '{"city": "Paris"}'
    assert second.id and second.id != first.id
    assert json.loads(second.function.arguments) == {"tz": "UTC"}


@pytest.mark.parametrize("ids", ["first", "every", "late"])
@pytest.mark.parametrize("interleave", [False, True])
def test_streamed_tool_call_fragments_reassemble(
    server: LoopbackServer, client: openai.OpenAI, ids: str, interleave: bool
):
    server.enqueue(
        Reply.calls(
            ("call_a", "get_weather", '{"city": "Paris", "unit": "C"}'),
            ToolCall("lookup", '{"q": "x"}', id="call_b", chunks=['{"q"', ': "x"}']),
            content="Checking.",
            tool_call_ids=ids,
            interleave_tool_calls=interleave,
        )
    )

    chunks = list(create(client, stream=True))

    assert reassemble(chunks) == {
        0: {"id": "call_a", "name": "get_weather", "arguments": '{"city": "Paris", "unit": "C"}'},
        1: {"id": "call_b", "name": "lookup", "arguments": '{"q": "x"}'},
    }
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Checking."
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    fragments = [f for c in chunks for f in c.choices[0].delta.tool_calls or []]
    indexes = [f.index for f in fragments]
    # Interleaving alternates the two calls; otherwise call 0 is complete before call 1 starts.
    assert (indexes != sorted(indexes)) is interleave
    call_0 = [f for f in fragments if f.index == 0]
    if ids == "first":
        assert call_0[0].id == "call_a" and call_0[0].function.name == "get_weather"
        assert call_0[0].function.arguments == ""
        assert all(f.id is None and f.function.name is None for f in call_0[1:])
    elif ids == "every":
        assert all(f.id == "call_a" and f.function.name == "get_weather" for f in call_0)
    else:
        assert call_0[0].id is None and call_0[0].function.name is None
        assert call_0[1].id == "call_a" and call_0[1].function.name == "get_weather"


def test_tool_call_fragments_come_after_text(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.calls(("c1", "f", "{}"), content="Before the call."))

    kinds = []
    for chunk in create(client, stream=True):
        delta = chunk.choices[0].delta
        if delta.content:
            kinds.append("text")
        if delta.tool_calls:
            kinds.append("tool")

    assert kinds == sorted(kinds, key=lambda k: k != "text")
    assert set(kinds) == {"text", "tool"}


# -- usage -----------------------------------------------------------------------------------


def test_usage_chunk_only_with_include_usage(server: LoopbackServer, client: openai.OpenAI):
    usage = Usage(10, 4, reasoning_tokens=2, cached_tokens=6)
    server.enqueue(Reply.text("hi", usage=usage), Reply.text("hi", usage=usage))

    without = list(create(client, stream=True))
    with_usage = list(create(client, stream=True, stream_options={"include_usage": True}))

    assert all(c.usage is None for c in without)
    assert all(c.choices for c in without)
    last = with_usage[-1]
    assert last.choices == []
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (
        10,
        4,
        14,
    )
    assert last.usage.completion_tokens_details.reasoning_tokens == 2
    assert last.usage.prompt_tokens_details.cached_tokens == 6
    assert all(c.usage is None for c in with_usage[:-1])


def test_usage_null_fields_on_other_chunks_with_include_usage(server: LoopbackServer):
    response = post_stream(server, stream_options={"include_usage": True})

    events = [json.loads(p) for p in sse_payloads(response.text)[:-1]]

    assert all("usage" in e for e in events)
    assert [e["usage"] is None for e in events] == [True] * (len(events) - 1) + [False]


def test_usage_in_x_groq(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("hi", usage=Usage(5, 1), usage_location="x_groq"))

    chunks = list(create(client, stream=True, stream_options={"include_usage": True}))

    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["x_groq"]["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 1,
        "total_tokens": 6,
    }
    assert all("x_groq" not in (c.model_extra or {}) for c in chunks[:-1])


def test_usage_can_be_left_out(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("hi", usage=None))

    assert create(client).usage is None


# -- other message fields --------------------------------------------------------------------


def test_annotations_logprobs_refusal_audio(server: LoopbackServer, client: openai.OpenAI):
    citation = {
        "type": "url_citation",
        "url_citation": {"url": "https://e.x", "title": "E", "start_index": 0, "end_index": 2},
    }
    server.enqueue(
        Reply.text("Hi you", annotations=[citation], logprobs=True),
        Reply.text(None, refusal="I can't."),
        Reply.text(None, audio=Audio("spoken", data=b"\x00\x01", id="audio_1", expires_at=7)),
    )

    annotated = create(client).choices[0]
    refused = create(client).choices[0].message
    audio = create(client).choices[0].message.audio

    assert annotated.message.annotations[0].url_citation.url == "https://e.x"
    assert [t.token for t in annotated.logprobs.content] == ["Hi", " you"]
    assert refused.refusal == "I can't." and refused.content is None
    assert (audio.id, audio.transcript, audio.expires_at) == ("audio_1", "spoken", 7)
    assert base64.b64decode(audio.data) == b"\x00\x01"


def test_streamed_annotations_and_logprobs(server: LoopbackServer, client: openai.OpenAI):
    entries = [
        {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []},
        {"token": " you", "logprob": -0.2, "bytes": None, "top_logprobs": []},
    ]
    citation = {"type": "url_citation", "url_citation": {"url": "https://e.x"}}
    server.enqueue(Reply.text("Hi you", logprobs=entries, annotations=[citation]))

    chunks = list(create(client, stream=True))

    content_chunks = [c for c in chunks if c.choices[0].delta.content]
    assert [c.choices[0].delta.content for c in content_chunks] == ["Hi", " you"]
    assert [c.choices[0].logprobs.content[0].logprob for c in content_chunks] == [-0.1, -0.2]
    assert chunks[-1].choices[0].delta.model_extra["annotations"] == [citation]


def test_reply_overrides_id_model_and_headers(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(
        Reply.text("x", id="chatcmpl-42", model="served", headers={"x-request-id": "r1"})
    )

    raw = client.chat.completions.with_raw_response.create(model="asked", messages=MESSAGES)
    out = raw.parse()

    assert (out.id, out.model) == ("chatcmpl-42", "served")
    assert raw.headers["x-request-id"] == "r1"


# -- errors ----------------------------------------------------------------------------------


def test_rate_limit_error_reaches_the_sdk(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(
        Reply.error(
            429,
            "Slow down",
            code="rate_limit_exceeded",
            headers={"Retry-After": "3", "x-request-id": "req_9"},
        )
    )

    with pytest.raises(openai.RateLimitError) as info:
        create(client)

    error = info.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "3"
    assert error.request_id == "req_9"
    assert error.body == {
        "message": "Slow down",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (404, openai.NotFoundError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_error_statuses_on_streaming_requests(
    server: LoopbackServer, client: openai.OpenAI, status: int, exc: type[Exception]
):
    server.enqueue(Reply.error(status, "nope", type="custom_type"))

    with pytest.raises(exc) as info:
        create(client, stream=True)

    assert info.value.body["type"] == "custom_type"
    assert info.value.body["message"] == "nope"


def test_error_body_override(server: LoopbackServer):
    server.enqueue(Reply.error(502, body=b"<html>bad gateway</html>", content_type="text/html"))

    response = post_stream(server)

    assert response.status_code == 502
    assert response.text == "<html>bad gateway</html>"
    assert response.headers["content-type"] == "text/html"


def test_unknown_route_is_openai_404(server: LoopbackServer):
    response = httpx.post(server.url("/v1/embeddingz"), json={})

    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_models_and_health(server: LoopbackServer, client: openai.OpenAI):
    assert [m.id for m in client.models.list()] == ["loopback-model"]
    assert httpx.get(server.url("/health")).json() == {"status": "ok"}


# -- raw bytes and raw events ----------------------------------------------------------------


def test_raw_truncated_body(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.raw(body=b'{"id": "x", "choi'), Reply.raw(body=b'{"id": "x", "choi'))

    response = httpx.post(server.url("/v1/chat/completions"), json={"messages": []})
    with pytest.raises(ValueError):
        create(client)

    assert response.status_code == 200
    assert response.content == b'{"id": "x", "choi'


def test_raw_body_shorter_than_its_content_length(server: LoopbackServer):
    server.enqueue(Reply.raw(body=b'{"a"', headers={"content-length": "100"}))

    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(server.url("/v1/chat/completions"), json={"messages": []})


def test_raw_events_are_sent_verbatim(server: LoopbackServer):
    server.enqueue(
        Reply.raw_events(
            [{"choices": []}, '{"broken', b": keep-alive comment\n\n", "[DONE]"],
            headers={"x-extra": "1"},
        )
    )

    response = post_stream(server)

    assert response.headers["x-extra"] == "1"
    assert (
        response.text
        == 'data: {"choices":[]}\n\ndata: {"broken\n\n: keep-alive comment\n\ndata: [DONE]\n\n'
    )


def test_malformed_event_breaks_the_sdk_stream(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.raw_events(['{"broken', "[DONE]"]))

    with pytest.raises(ValueError):
        list(create(client, stream=True))


# -- faults ----------------------------------------------------------------------------------


def test_reset_after_n_events(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("a b c d", reset_after=3))

    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in create(client, stream=True):
            received.append(chunk)

    assert [c.choices[0].delta.content for c in received] == ["", "a", " b"]


def test_reset_is_a_tcp_reset(server: LoopbackServer):
    server.enqueue(Reply.text("a b", reset_after=1))
    body = json.dumps({"model": "m", "messages": MESSAGES, "stream": True}).encode()
    head = b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body)

    received = b""
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(head + body)
        with pytest.raises(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk

    assert received.startswith(b"HTTP/1.1 200 OK")
    assert received.count(b"data: ") == 1


def test_reset_before_any_response(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("never", reset_before=True))

    with pytest.raises(openai.APIConnectionError):
        create(client)
    assert create(client).choices[0].message.content == "echo: hi there"


def test_close_after_ends_stream_without_done(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("a b c", close_after=2), Reply.text("a b c", close_after=2))

    response = post_stream(server)
    chunks = list(create(client, stream=True))

    assert response.status_code == 200
    assert len(sse_payloads(response.text)) == 2
    assert "[DONE]" not in response.text
    assert [c.choices[0].delta.content for c in chunks] == ["", "a"]


def test_close_after_bytes_truncates_a_json_body(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("hello", close_after=10))

    with pytest.raises(openai.APIConnectionError):
        create(client)


def test_stall_after_n_events_times_out_the_client(server: LoopbackServer):
    server.enqueue(Reply.text("a b c", stall_after=2))
    stalled = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=0.3)

    received = []
    with pytest.raises(openai.APITimeoutError):
        for chunk in create(stalled, stream=True):
            received.append(chunk)

    assert [c.choices[0].delta.content for c in received] == ["", "a"]
    stalled.close()


def test_stalled_json_body_times_out(server: LoopbackServer):
    server.enqueue(Reply.text("a b c", stall_after=0))

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url("/v1/chat/completions"), json={"messages": []}, timeout=0.3)


def test_delay_before_response(server: LoopbackServer):
    server.enqueue(Reply.text("late", delay=5))
    impatient = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=0.2)

    with pytest.raises(openai.APITimeoutError):
        create(impatient)
    impatient.close()


def test_chunk_delay_between_events(server: LoopbackServer):
    server.enqueue(Reply.text("a b", chunk_delay=5))
    impatient = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=0.3)

    received = []
    with pytest.raises(openai.APITimeoutError):
        for chunk in create(impatient, stream=True):
            received.append(chunk)

    assert len(received) == 1
    impatient.close()


def test_delayed_reply_arrives(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("a b c", delay=0.01, chunk_delay=0.01))

    chunks = list(create(client, stream=True))

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "a b c"


# -- recording -------------------------------------------------------------------------------


def test_requests_are_recorded_with_headers_and_json(server: LoopbackServer, client: openai.OpenAI):
    create(client, temperature=0, extra_headers={"X-Custom": "yes"})

    request = server.last_request
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["Authorization"] == "Bearer k"
    assert request.headers["authorization"] == "Bearer k"
    assert request.headers["x-custom"] == "yes"
    assert request.json == {"model": "m", "messages": MESSAGES, "temperature": 0}
    assert json.loads(request.body) == request.json


def test_clear_and_snapshot(server: LoopbackServer):
    httpx.get(server.url("/health"))
    snapshot = server.requests
    server.clear()
    httpx.get(server.url("/v1/models?limit=2"))

    assert [r.path for r in snapshot] == ["/health"]
    assert [r.path for r in server.requests] == ["/v1/models"]
    assert server.last_request.query == {"limit": "2"}
    assert server.last_request.json is None


def test_last_request_before_any_request(server: LoopbackServer):
    with pytest.raises(LookupError):
        _ = server.last_request


def test_chunked_request_body(server: LoopbackServer):
    body = json.dumps({"model": "m", "messages": MESSAGES}).encode()

    def pieces() -> Iterator[bytes]:
        yield body[:7]
        yield body[7:]

    response = httpx.post(server.url("/v1/chat/completions"), content=pieces())

    assert server.last_request.headers["transfer-encoding"] == "chunked"
    assert server.last_request.body == body
    assert response.json()["choices"][0]["message"]["content"] == "echo: hi there"


def test_keep_alive_reuses_the_connection(server: LoopbackServer):
    with httpx.Client() as http:
        addresses = [
            http.get(server.url("/health"))
            .extensions["network_stream"]
            .get_extra_info("client_addr")
            for _ in range(3)
        ]

    assert len(set(addresses)) == 1


def test_pipelined_requests_on_one_socket(server: LoopbackServer):
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(request * 3 + b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk

    assert data.count(b"HTTP/1.1 200 OK") == 4
    assert data.count(b'{"status":"ok"}') == 4


# -- scripting -------------------------------------------------------------------------------


def test_default_echo_joins_text_parts(server: LoopbackServer, client: openai.OpenAI):
    messages = [
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "reply"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "part one"},
                {"type": "image_url", "image_url": {"url": "data:,"}},
                {"type": "text", "text": "part two"},
            ],
        },
    ]

    out = create(client, messages=messages)

    assert out.choices[0].message.content == "echo: part one\npart two"


def test_queue_is_consumed_in_order_then_echo(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("one"), Reply.text("two"))

    answers = [create(client).choices[0].message.content for _ in range(3)]

    assert answers == ["one", "two", "echo: hi there"]
    assert server.pending == 0


def test_handler_overrides_echo(server: LoopbackServer, client: openai.OpenAI):
    server.set_handler(lambda request: Reply.text(f"model was {request.json['model']}"))
    server.enqueue(Reply.text("queued first"))

    answers = [create(client, model=f"m{i}").choices[0].message.content for i in range(2)]
    server.set_handler(lambda request: None)
    fallback = create(client).choices[0].message.content

    assert answers == ["queued first", "model was m1"]
    assert fallback == "echo: hi there"


async def test_async_handler(server: LoopbackServer, aclient: Any):
    async def handler(request: Any) -> Reply:
        await asyncio.sleep(0)
        return Reply.text("from async handler")

    server.set_handler(handler)

    out = await aclient.chat.completions.create(model="m", messages=MESSAGES)

    assert out.choices[0].message.content == "from async handler"


def test_failing_handler_answers_500_and_is_recorded():
    with LoopbackServer() as srv:
        failing = openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0)

        def handler(request: Any) -> Reply:
            raise RuntimeError("boom")

        srv.set_handler(handler)
        with pytest.raises(openai.InternalServerError, match="boom"):
            create(failing)
        failing.close()

        assert [type(e) for e in srv.errors] == [RuntimeError]


def test_reset_forgets_everything(server: LoopbackServer, client: openai.OpenAI):
    server.enqueue(Reply.text("queued"))
    server.set_handler(lambda request: Reply.text("handled"))
    create(client, messages=[{"role": "user", "content": "x"}])
    server.enqueue(Reply.text("queued again"))

    server.reset()

    assert server.requests == []
    assert server.pending == 0
    assert create(client).choices[0].message.content == "echo: hi there"


async def test_concurrent_requests_get_their_own_echo(server: LoopbackServer, aclient: Any):
    async def ask(i: int) -> str:
        messages = [{"role": "user", "content": f"request {i}"}]
        out = await aclient.chat.completions.create(model="m", messages=messages)
        return out.choices[0].message.content

    answers = await asyncio.gather(*(ask(i) for i in range(200)))

    assert answers == [f"echo: request {i}" for i in range(200)]
    assert len(server.requests) == 200


async def test_concurrent_streams_get_their_own_echo(server: LoopbackServer, aclient: Any):
    async def ask(i: int) -> str:
        messages = [{"role": "user", "content": f"stream {i}"}]
        stream = await aclient.chat.completions.create(model="m", messages=messages, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream])

    answers = await asyncio.gather(*(ask(i) for i in range(50)))

    assert answers == [f"echo: stream {i}" for i in range(50)]


# -- lifecycle -------------------------------------------------------------------------------


def open_fds() -> int | None:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


def test_stop_closes_connections_and_joins_the_thread():
    before = set(threading.enumerate())
    fds_before = open_fds()
    srv = LoopbackServer().start()
    assert set(threading.enumerate()) != before
    srv.enqueue(Reply.text("a b c", stall_after=1))
    outcome: list[BaseException | None] = []

    def read_stalled_stream() -> None:
        with openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0, timeout=30) as c:
            try:
                list(create(c, stream=True))
                outcome.append(None)
            except openai.APIConnectionError as exc:
                outcome.append(exc)

    reader = threading.Thread(target=read_stalled_stream)
    reader.start()
    while not srv.requests:
        threading.Event().wait(0.01)
    keep_alive = httpx.Client()
    keep_alive.get(srv.url("/health"))

    srv.stop()
    reader.join(timeout=30)  # a hang guard, not a timing assertion

    assert not reader.is_alive()
    assert outcome and isinstance(outcome[0], openai.APIConnectionError)
    assert set(threading.enumerate()) == before
    with pytest.raises(httpx.ConnectError):
        httpx.get(srv.url("/health"))
    keep_alive.close()
    srv.stop()  # idempotent
    assert open_fds() == fds_before


def test_given_port_and_restart():
    srv = LoopbackServer().start()
    port = srv.port
    srv.stop()

    with LoopbackServer(port) as again:
        assert again.port == port
        assert again.base_url == f"http://127.0.0.1:{port}/v1"
        assert httpx.get(again.url("health")).status_code == 200


async def test_async_context_manager():
    async with LoopbackServer() as srv, httpx.AsyncClient() as http:
        response = await http.get(srv.url("/health"))
    assert response.status_code == 200


def test_expect_100_continue(server: LoopbackServer):
    body = json.dumps({"model": "m", "messages": MESSAGES}).encode()
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nExpect: 100-continue\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(head)
        interim = sock.recv(65536)
        sock.sendall(body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"echo: hi there" in data


def test_repeated_headers_are_kept_apart(server: LoopbackServer):
    request = b"GET /health HTTP/1.1\r\nX-Tag: a\r\nx-tag: b\r\nConnection: close\r\n\r\n"
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(request)
        while sock.recv(65536):
            pass

    headers = server.last_request.headers
    assert headers["X-TAG"] == "a, b"
    assert headers.get_list("x-tag") == ["a", "b"]
    assert headers.raw[:2] == [("X-Tag", "a"), ("x-tag", "b")]


def test_recording_can_be_turned_off():
    with LoopbackServer(record=False) as srv:
        httpx.get(srv.url("/health"))
        assert srv.requests == []


def test_command_line_server_answers_echo():
    process = subprocess.Popen(
        [sys.executable, "-m", "msgflux.testing.server"], stdout=subprocess.PIPE, text=True
    )
    try:
        base_url = process.stdout.readline().strip()
        with openai.OpenAI(base_url=base_url, api_key="k", max_retries=0) as c:
            answer = create(c).choices[0].message.content
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert answer == "echo: hi there"
    assert process.returncode == 0


def test_tool_only_stream_opens_with_null_content(server: LoopbackServer):
    server.enqueue(Reply.calls(("c1", "f", "{}")))

    events = [json.loads(p) for p in sse_payloads(post_stream(server).text)[:-1]]

    assert events[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": None,
        "refusal": None,
    }
    assert events[1]["choices"][0]["delta"]["tool_calls"][0]["id"] == "c1"


def test_usage_on_finish_chunk_and_extra_fields(server: LoopbackServer, client: openai.OpenAI):
    base = Reply.text("hi", usage=Usage(2, 1), usage_location="finish")
    server.enqueue(base.replace(extra={"provider": "P"}, message_extra={"custom": 1}))

    chunks = list(create(client, stream=True))

    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.total_tokens == 3
    assert {c.model_extra["provider"] for c in chunks} == {"P"}
    assert chunks[0].choices[0].delta.model_extra["custom"] == 1
    assert base.extra is None
