"""Non-streamed responses: every OpenAI field decodes, tolerant of what other servers send."""

from __future__ import annotations

import base64

import pytest

from msgflux.errors import ProviderError, ResponseDecodeError
from msgflux.testing.server import Audio, Reply, ToolCall, Usage
from msgflux_openai.transport import ChatCompletion, ChatCompletionChunk

MESSAGES = [{"role": "user", "content": "hi"}]


def test_text_reply_fields(server, client):
    server.enqueue(
        Reply.text(
            "Hello world",
            id="chatcmpl-1",
            model="served-model",
            created=1700000000,
            system_fingerprint="fp_1",
            usage=Usage(10, 5, reasoning_tokens=2, cached_tokens=3),
            extra={"service_tier": "default"},
        )
    )
    out = client.chat.completions.create(model="m", messages=MESSAGES)
    assert isinstance(out, ChatCompletion)
    assert (out.id, out.object, out.created, out.model) == (
        "chatcmpl-1",
        "chat.completion",
        1700000000,
        "served-model",
    )
    assert out.system_fingerprint == "fp_1"
    assert out.service_tier == "default"
    choice = out.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello world"
    assert choice.message.tool_calls is None
    usage = out.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (10, 5, 15)
    assert usage.completion_tokens_details == {"reasoning_tokens": 2}
    assert usage.prompt_tokens_details == {"cached_tokens": 3}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking"])
def test_reasoning_fields(server, client, field):
    server.enqueue(Reply.text("42", reasoning="think hard", reasoning_field=field))
    message = client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message
    assert getattr(message, field) == "think hard"
    assert message.content == "42"


def test_reasoning_details_refusal_annotations_logprobs(server, client):
    details = [{"type": "reasoning.text", "text": "step"}]
    annotations = [{"type": "url_citation", "url_citation": {"url": "https://x.test"}}]
    server.enqueue(
        Reply.text(
            "ok",
            reasoning_details=details,
            refusal="no",
            annotations=annotations,
            logprobs=True,
        )
    )
    choice = client.chat.completions.create(model="m", messages=MESSAGES).choices[0]
    assert choice.message.reasoning_details == details
    assert choice.message.refusal == "no"
    assert choice.message.annotations == annotations
    assert choice.logprobs["content"][0]["token"] == "ok"


def test_tool_calls(server, client):
    server.enqueue(
        Reply.calls(
            ToolCall("get_weather", {"city": "Paris"}, id="call_1"),
            ToolCall("get_time", '{"tz": "UTC"}', id="call_2"),
            content="let me check",
        )
    )
    out = client.chat.completions.create(model="m", messages=MESSAGES)
    message = out.choices[0].message
    assert out.choices[0].finish_reason == "tool_calls"
    assert message.content == "let me check"
    assert [(c.id, c.type, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_1", "function", "get_weather", '{"city":"Paris"}'),
        ("call_2", "function", "get_time", '{"tz": "UTC"}'),
    ]


def test_audio(server, client):
    server.enqueue(
        Reply.text(None, audio=Audio("hello there", b"\x00\x01", id="audio_1", expires_at=99))
    )
    audio = client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.audio
    assert (audio.id, audio.transcript, audio.expires_at) == ("audio_1", "hello there", 99)
    assert base64.b64decode(audio.data) == b"\x00\x01"


def test_groq_and_unknown_fields(server, client):
    server.enqueue(
        Reply.text(
            "hi",
            extra={"x_groq": {"id": "req_g"}, "brand_new_field": {"nested": [1, 2]}},
            message_extra={"some_vendor_field": True},
        )
    )
    out = client.chat.completions.create(model="m", messages=MESSAGES)
    assert out.x_groq == {"id": "req_g"}
    assert out.choices[0].message.content == "hi"


def test_to_dict_is_plain_omits_none_and_is_a_copy(server, client):
    server.enqueue(Reply.text("hi", usage=Usage(1, 2), extra={"x_groq": {"id": "g"}}))
    out = client.chat.completions.create(model="m", messages=MESSAGES)
    data = out.to_dict()
    assert type(data) is dict
    message = data["choices"][0]["message"]
    assert message["role"] == "assistant" and message["content"] == "hi"
    assert "tool_calls" not in message and "reasoning" not in message  # None: omitted
    assert data["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert "error" not in data and "citations" not in data
    data["x_groq"]["id"] = "changed"
    data["choices"].clear()
    assert out.x_groq == {"id": "g"} and out.choices  # the response is untouched


# -- tolerance, straight through the decoders --------------------------------------------------


def _completion(body: bytes) -> ChatCompletion:
    from msgflux_openai.transport.structs import completion_decoder

    return completion_decoder.decode(body)


def _chunk(body: bytes) -> ChatCompletionChunk:
    from msgflux_openai.transport.structs import chunk_decoder

    return chunk_decoder.decode(body)


def test_null_where_lists_are_expected():
    out = _completion(b'{"id":"x","choices":null,"usage":null}')
    assert out.choices == []
    chunk = _chunk(b'{"choices":null}')
    assert chunk.choices == []
    message = _completion(
        b'{"choices":[{"message":{"content":"a","tool_calls":null,"annotations":null}}]}'
    ).choices[0]
    assert message.message.tool_calls is None and message.message.annotations is None


def test_missing_fields_have_defaults():
    out = _completion(b'{"choices":[{"message":{"content":"a"}}]}')
    assert out.id is None and out.choices[0].index == 0 and out.choices[0].finish_reason is None
    chunk = _chunk(b'{"choices":[{"finish_reason":"stop"}]}')
    assert chunk.choices[0].delta.content is None  # a missing delta is an empty delta


def test_lenient_types():
    out = _completion(
        b'{"created":1700000000.0,"usage":{"prompt_tokens":3.0,"completion_tokens":"4"},'
        b'"choices":[{"index":0,"message":{"content":"null","tool_calls":'
        b'[{"id":"c","function":{"name":"f","arguments":{"a":1}}}]}}]}'
    )
    assert out.created == 1700000000
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (3, 4)
    message = out.choices[0].message
    assert message.content == "null"  # a string stays a string
    call = message.tool_calls[0]
    assert call.type == "function"  # filled in when a server omits it
    assert call.function.arguments == '{"a":1}'  # an object is re-encoded as OpenAI's string


def test_content_parts_list():
    out = _completion(b'{"choices":[{"message":{"content":[{"type":"text","text":"a"}]}}]}')
    assert out.choices[0].message.content == [{"type": "text", "text": "a"}]


def test_chunk_tool_call_fragments_keep_missing_index_as_none():
    chunk = _chunk(
        b'{"choices":[{"delta":{"tool_calls":[{"id":"c1","function":{"name":"f",'
        b'"arguments":"{\\"a"}}]}}]}'
    )
    call = chunk.choices[0].delta.tool_calls[0]
    assert (call.index, call.id, call.function.name, call.function.arguments) == (
        None,
        "c1",
        "f",
        '{"a',
    )


def test_undecodable_200_body_raises_with_raw_text(server, client):
    server.enqueue(Reply.raw(200, b"<html>oops</html>", content_type="text/html"))
    with pytest.raises(ResponseDecodeError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.raw_text == "<html>oops</html>"


def test_wrong_shape_200_body_raises_with_raw_text(server, client):
    server.enqueue(Reply.raw(200, b'{"choices": "not a list"}'))
    with pytest.raises(ResponseDecodeError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.raw_text == '{"choices": "not a list"}'
    assert "choices" in str(info.value)


def test_error_object_with_status_200(server, client):
    server.enqueue(Reply.raw(200, b'{"error":{"message":"upstream failed","code":502}}'))
    with pytest.raises(ProviderError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.message == "upstream failed"
    assert info.value.status == 502


async def test_async_decode_matches_sync(server, client, aclient):
    reply = Reply.calls(ToolCall("f", {"x": 1}, id="call_9"), usage=Usage(3, 4))
    server.enqueue(reply, reply)
    sync_out = client.chat.completions.create(model="m", messages=MESSAGES)
    async_out = await aclient.chat.completions.create(model="m", messages=MESSAGES)
    sync_dict, async_dict = sync_out.to_dict(), async_out.to_dict()
    for data in (sync_dict, async_dict):
        data.pop("id"), data.pop("created")
    assert sync_dict == async_dict


def test_vendor_usage_fields_are_kept(server, client):
    usage = {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5, "queue_time": 0.5}
    server.enqueue(Reply.text("x", usage=usage))
    out = client.chat.completions.create(model="m", messages=MESSAGES).usage
    assert out.total_tokens == 5
    assert out.queue_time == 0.5  # read like the SDK's extra attributes
    assert out.model_extra == {"queue_time": 0.5}
    assert out.to_dict() == usage
    with pytest.raises(AttributeError):
        _ = out.not_sent


def test_invalid_usage_is_a_decode_error(server, client):
    server.enqueue(Reply.raw(200, b'{"choices": [], "usage": [1, 2]}'))
    with pytest.raises(ResponseDecodeError):
        client.chat.completions.create(model="m", messages=MESSAGES)
