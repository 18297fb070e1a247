"""Thinking blocks and their signatures travel through a tool loop unchanged.

The API requires the thinking blocks (and redacted thinking) of the assistant turn that
called tools to come back, byte for byte, in the next request. msgflux carries them in the
tool-call history as ``provider_data``: ``get_messages()`` puts them on the assistant
message, the Anthropic wire format sends them back in their places, and no other provider
ever receives them.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from msgflux.testing.server import Reply
from msgflux.tools import ToolDefinitions

TOOLS = ToolDefinitions(
    schemas=[
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        }
    ]
)


def _thinking(text: str, signature: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": signature}


def _call(call_id: str, q: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": "lookup", "input": {"q": q}}


# Signatures and thinking with what an encoder might change: slashes, pluses, quotes,
# escapes, non-ASCII text, newlines.
ROUND_1 = [
    _thinking("Need the capital first.\nThen its weather — «quick».", "EqQBCkYIARgCKkD+/a=="),
    _call("toolu_01", "capital of France"),
]
ROUND_2 = [  # interleaved: thinking between the calls, and a redacted block
    _thinking('Paris. Now "weather".', "Sig/2+\\u00e9=="),
    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"},
    {"type": "text", "text": "Looking up two things."},
    _call("toolu_02", "weather Paris"),
    _thinking("And the time.", "c2lnbmF0dXJlLTM="),
    _call("toolu_03", "time Paris"),
]


def _block_bytes(blocks: list[dict[str, Any]]) -> list[bytes]:
    return [msgspec.json.encode(block) for block in blocks if block["type"] != "tool_use"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_three_rounds_carry_the_earlier_thinking_blocks_byte_for_byte(server, make, stream):
    model = make()
    server.enqueue(
        Reply(content_blocks=ROUND_1),
        Reply(content_blocks=ROUND_2),
        Reply.text("Sunny, 14:00."),
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in the capital?"}]

    def turn(results: dict[str, str]) -> Any:
        response = model(messages, tool_definitions=TOOLS, enable_thinking=True, stream=stream)
        answer = response.result() if stream else response.consume()
        if results:
            answer.insert_results(results)
            messages.extend(answer.get_messages())
        return response, answer

    first, _ = turn({"toolu_01": "Paris"})
    assert first.reasoning == ROUND_1[0]["thinking"]
    second, calls = turn({"toolu_02": "sunny", "toolu_03": "14:00"})
    assert [call["id"] for call in calls.get_calls()] == ["toolu_02", "toolu_03"]
    assert second.reasoning == ROUND_2[0]["thinking"] + ROUND_2[4]["thinking"]
    _, final = turn({})
    assert final == "Sunny, 14:00."

    requests = server.requests
    assert len(requests) == 3
    # Each block's bytes, as the server sent them, are in every later request.
    for raw in _block_bytes(ROUND_1):
        assert raw in requests[1].body and raw in requests[2].body
    for raw in _block_bytes(ROUND_2):
        assert raw not in requests[1].body and raw in requests[2].body
    sent = requests[2].json["messages"]
    assert sent[1] == {"role": "assistant", "content": ROUND_1}
    assert sent[3] == {"role": "assistant", "content": ROUND_2}  # interleaving kept
    assert [block["tool_use_id"] for block in sent[4]["content"]] == ["toolu_02", "toolu_03"]


def test_the_server_sent_exactly_these_bytes(server, make):
    # The byte comparison above is against what the server sent, not only what was scripted.
    import urllib.request

    server.enqueue(Reply(content_blocks=ROUND_1))
    request = urllib.request.Request(
        server.base_url + "/v1/messages",
        data=b'{"model":"m","max_tokens":9,"messages":[]}',
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        body = answer.read()

    for raw in _block_bytes(ROUND_1):
        assert raw in body


def test_the_history_holds_the_blocks_as_provider_data(server, make):
    server.enqueue(Reply(content_blocks=ROUND_1))

    aggregator = make()("q", tool_definitions=TOOLS, enable_thinking=True).consume()
    aggregator.insert_results("toolu_01", "Paris")
    assistant = aggregator.get_messages()[0]

    assert assistant["provider_data"] == {"anthropic": {"content": ROUND_1}}
    assistant["provider_data"]["anthropic"]["content"].clear()  # a copy: ours is untouched
    assert aggregator.get_messages()[0]["provider_data"] == {"anthropic": {"content": ROUND_1}}


def test_edited_calls_keep_the_thinking_blocks_first(server, make):
    model = make()
    server.enqueue(Reply(content_blocks=ROUND_1), Reply.text("ok"))
    aggregator = model("q", tool_definitions=TOOLS, enable_thinking=True).consume()
    aggregator.insert_results("toolu_01", "Paris")
    messages = [{"role": "user", "content": "q"}, *aggregator.get_messages()]
    messages[1]["tool_calls"][0]["function"]["arguments"] = '{"q": "edited"}'

    model(messages, tool_definitions=TOOLS, enable_thinking=True)

    assistant = server.last_request.json["messages"][1]
    assert assistant["content"][0] == ROUND_1[0]
    assert assistant["content"][1]["input"] == {"q": "edited"}


def test_a_cached_answer_keeps_the_blocks(server, make):
    model = make(cache="memory")
    server.enqueue(Reply(content_blocks=ROUND_1))
    model("q", tool_definitions=TOOLS, enable_thinking=True)

    hit = model("q", tool_definitions=TOOLS, enable_thinking=True).consume()  # from the cache

    assert len(server.requests) == 1
    hit.insert_results("toolu_01", "Paris")
    assert hit.get_messages()[0]["provider_data"] == {"anthropic": {"content": ROUND_1}}


def test_answers_without_thinking_carry_no_provider_data(server, make):
    server.enqueue(Reply(content_blocks=[_call("toolu_01", "x")]))

    aggregator = make()("q", tool_definitions=TOOLS).consume()
    aggregator.insert_results("toolu_01", "y")

    assert "provider_data" not in aggregator.get_messages()[0]
