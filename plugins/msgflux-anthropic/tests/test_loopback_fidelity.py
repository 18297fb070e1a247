"""The loopback Messages API server answers as the API does: the official SDK reads it.

``msgflux.testing.anthropic_server.MessagesServer`` is what every wire test of this plugin
talks to; if its answers were not the API's, those tests would prove nothing. The
``anthropic`` SDK (a test-only dependency) reads its plain answers, tool calls, thinking
blocks, errors and streams here.
"""

from __future__ import annotations

import pytest

from msgflux.testing.anthropic_server import MessagesServer, event_frame, signature_of
from msgflux.testing.server import Reply, ToolCall, Usage

anthropic = pytest.importorskip("anthropic")

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def client(server: MessagesServer):
    with anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0) as sdk:
        yield sdk


def _create(client, **options):
    return client.messages.create(
        model="claude-sonnet-4-20250514", max_tokens=64, messages=MESSAGES, **options
    )


def test_a_plain_answer_with_usage(server, client):
    server.enqueue(
        Reply.text("Hello there", usage=Usage(5, 2, cached_tokens=3, cache_write_tokens=1))
    )

    message = _create(client)

    assert message.type == "message" and message.role == "assistant"
    assert [block.text for block in message.content] == ["Hello there"]
    assert message.stop_reason == "end_turn"
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (5, 2)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (3, 1)


def test_tool_calls_and_thinking_blocks(server, client):
    server.enqueue(
        Reply.calls(
            ToolCall("get_weather", {"city": "Paris"}, id="toolu_1"), reasoning="Look it up."
        )
    )

    message = _create(client)

    thinking, call = message.content
    assert (thinking.type, thinking.thinking) == ("thinking", "Look it up.")
    assert thinking.signature == signature_of("Look it up.")
    assert (call.type, call.id, call.name, call.input) == (
        "tool_use",
        "toolu_1",
        "get_weather",
        {"city": "Paris"},
    )
    assert message.stop_reason == "tool_use"


def test_scripted_blocks_with_redacted_thinking(server, client):
    blocks = [
        {"type": "thinking", "thinking": "a", "signature": "s1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "done"},
    ]
    server.enqueue(Reply(content_blocks=blocks))

    message = _create(client)

    assert [block.model_dump(exclude_none=True) for block in message.content][1:] == blocks[1:]
    assert message.content[0].signature == "s1"


def test_a_stream_accumulates_to_the_same_message(server, client):
    server.enqueue(
        Reply.calls(
            ToolCall("f", '{"x": 1}', id="toolu_2", chunks=['{"x"', ": 1}"]),
            content="Calling f.",
            reasoning="Think first.",
        )
    )

    with client.messages.stream(
        model="claude-sonnet-4-20250514", max_tokens=64, messages=MESSAGES
    ) as stream:
        kinds = {event.type for event in stream}
        message = stream.get_final_message()

    assert {"message_start", "content_block_start", "content_block_delta"} <= kinds
    thinking, text, call = message.content
    assert (thinking.thinking, thinking.signature) == ("Think first.", signature_of("Think first."))
    assert text.text == "Calling f."
    assert (call.id, call.input) == ("toolu_2", {"x": 1})
    assert message.stop_reason == "tool_use"


def test_errors_have_the_apis_shape(server, client):
    server.enqueue(Reply.error(529, "Overloaded"))

    with pytest.raises(anthropic.APIStatusError) as caught:
        _create(client)

    assert caught.value.status_code == 529
    assert caught.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_an_in_stream_error_event(server, client):
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.enqueue(Reply.raw_events([event_frame(error)]))

    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        with client.messages.stream(
            model="claude-sonnet-4-20250514", max_tokens=64, messages=MESSAGES
        ) as stream:
            list(stream)


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"anthropic-version": "2023-06-01"}, b'{"model":"m","max_tokens":8,"messages":[]}', 401),
        ({"x-api-key": "k"}, b'{"model":"m","max_tokens":8,"messages":[]}', 400),
        (
            {"x-api-key": "k", "anthropic-version": "2023-06-01"},
            b'{"model":"m","messages":[]}',
            400,
        ),
    ],
    ids=["no-key", "no-version", "no-max-tokens"],
)
def test_what_the_api_refuses_the_server_refuses(server, headers, body, status):
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(server.base_url + "/v1/messages", data=body, headers=headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)

    assert caught.value.code == status
    assert json.loads(caught.value.read())["type"] == "error"
