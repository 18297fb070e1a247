"""The Messages API event stream, event by event, into msgflux's stream responses."""

from __future__ import annotations

from typing import Any

import pytest

import msgflux as mf
from msgflux.testing.anthropic_server import event_frame
from msgflux.testing.server import Reply, ToolCall, Usage
from msgflux.tools import ToolDefinitions

TOOLS = ToolDefinitions(
    schemas=[
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object", "properties": {}}},
        }
    ]
)


def _events(*events: dict[str, Any]) -> Reply:
    return Reply.raw_events([event_frame(event) for event in events])


START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 5},
    },
}


def _delta(index: int, **delta: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def test_every_event_kind_lands_in_its_place(server, make):
    server.enqueue(
        _events(
            START,
            {"type": "ping"},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": ""},
            },
            _delta(0, type="thinking_delta", thinking="Two plus"),
            _delta(0, type="thinking_delta", thinking=" two."),
            _delta(0, type="signature_delta", signature="c2ln"),
            {"type": "content_block_stop", "index": 0},
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "text", "text": ""},
            },
            {"type": "ping"},
            _delta(1, type="text_delta", text="It is"),
            _delta(1, type="text_delta", text=" 4."),
            {"type": "content_block_stop", "index": 1},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
            {"type": "message_stop"},
        )
    )

    response = make()("2+2?", stream=True, enable_thinking=True)

    assert list(response) == ["It is", " 4."]
    assert list(response.iter_reasoning()) == ["Two plus", " two."]
    assert response.reasoning == "Two plus two."
    metadata = response.metadata
    assert (metadata.id, metadata.model) == ("msg_1", "claude-sonnet-4-20250514")
    assert (metadata.finish_reason, metadata.stop_reason) == ("stop", "end_turn")
    assert dict(metadata.usage) == {
        "input_tokens": 12,
        "output_tokens": 9,
        "cache_read_input_tokens": 5,
    }


async def test_async_stream_of_text_thinking_and_tool_calls(server, make):
    server.enqueue(
        Reply.calls(
            ToolCall("f", '{"a": [1, 2]}', id="toolu_9", chunks=['{"a"', ": [1,", " 2]}"]),
            content="Calling.",
            reasoning="Plan it.",
        )
    )

    response = await make().acall("q", stream=True, tool_definitions=TOOLS, enable_thinking=True)
    thinking = [chunk async for chunk in response.consume_reasoning()]
    aggregator = await response.aresult()

    assert "".join(thinking) == "Plan it."
    assert aggregator.content == "Calling."
    assert aggregator.get_calls() == [
        {"id": "toolu_9", "type": "function", "function": {"name": "f", "arguments": {"a": [1, 2]}}}
    ]
    assert response.metadata.finish_reason == "tool_calls"
    assert aggregator.provider_data["anthropic"]["content"][0]["type"] == "thinking"


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_stop_reasons_become_finish_reasons(server, make, stop_reason, finish_reason, stream):
    server.enqueue(Reply.text("x", finish_reason=stop_reason))

    response = make()("q", stream=stream)
    if stream:
        response.result()

    assert (response.metadata.finish_reason, response.metadata.stop_reason) == (
        finish_reason,
        stop_reason,
    )
    assert ("refusal" in response.metadata) is (stop_reason == "refusal")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_usage_with_prompt_cache_counts(server, make, stream):
    server.enqueue(Reply.text("ok", usage=Usage(10, 4, cached_tokens=300, cache_write_tokens=50)))

    response = make()("q", stream=stream)
    if stream:
        response.result()

    usage = response.metadata.usage
    assert usage["cache_read_input_tokens"] == 300
    assert usage["cache_creation_input_tokens"] == 50
    assert (usage["input_tokens"], usage["output_tokens"]) == (10, 4)
    from msgflux.models.profiles.usage import token_counts

    assert token_counts(usage).input_tokens == 360  # Anthropic's input excludes the cache


def test_leaving_a_stream_early_closes_it(server, make):
    server.enqueue(Reply.text("one two three four", chunk_delay=0.05))
    response = make()("q", stream=True)

    for _ in response:
        break

    assert response.wait(timeout=30) and response.closed_early


def test_a_stream_that_ends_without_message_stop_is_an_error_not_a_truncated_answer(server, make):
    server.enqueue(Reply.text("one two three", close_after=5))
    response = make(retry=False)("q", stream=True)

    with pytest.raises(mf.ProviderError):
        response.result(timeout=30)
