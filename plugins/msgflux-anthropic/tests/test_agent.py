"""``nn.Agent`` on Anthropic: tools, thinking carried between rounds, streaming, reasoning."""

from __future__ import annotations

from typing import Any

import msgflux.nn as nn
from msgflux.testing.server import Reply


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"sunny in {city}"


def _round(thinking: str, signature: str, call_id: str, city: str) -> Reply:
    return Reply(
        content_blocks=[
            {"type": "thinking", "thinking": thinking, "signature": signature},
            {"type": "tool_use", "id": call_id, "name": "get_weather", "input": {"city": city}},
        ]
    )


def _assistant_turns(request: Any) -> list[list[dict[str, Any]]]:
    return [m["content"] for m in request.json["messages"] if m["role"] == "assistant"]


def test_agent_tool_loop_with_thinking(server, make):
    server.enqueue(
        _round("Paris first.", "sig-1", "toolu_1", "Paris"),
        _round("Now Rome.", "sig-2", "toolu_2", "Rome"),
        Reply.text("Both sunny.", reasoning="Summarise."),
    )
    agent = nn.Agent(make(enable_thinking=True), tools=[get_weather])

    assert agent("Weather in Paris and Rome?") == "Both sunny."

    first, second, third = server.requests
    assert all(r.json["thinking"]["type"] == "enabled" for r in (first, second, third))
    turns = _assistant_turns(third)
    assert [
        block["signature"] for turn in turns for block in turn if block["type"] == "thinking"
    ] == [
        "sig-1",
        "sig-2",
    ]
    results = [m for m in third.json["messages"] if m["role"] == "user"][1:]
    assert [r["content"][0]["content"] for r in results] == ["sunny in Paris", "sunny in Rome"]


def test_streaming_agent_with_reasoning_and_tools(server, make):
    server.enqueue(
        _round("Look it up.", "sig-a", "toolu_1", "Oslo"),
        Reply.text("Sunny in Oslo.", reasoning="Answer now."),
    )
    agent = nn.Agent(make(enable_thinking=True), tools=[get_weather], config={"stream": True})

    response = agent("Weather in Oslo?")
    answer = "".join(response)

    assert answer == "Sunny in Oslo."
    assert "Look it up." in response.reasoning and "Answer now." in response.reasoning
    assert _assistant_turns(server.requests[1])[0][0] == {
        "type": "thinking",
        "thinking": "Look it up.",
        "signature": "sig-a",
    }
    assert all(r.json["stream"] is True for r in server.requests)


async def test_async_agent_returns_reasoning_beside_the_answer(server, make):
    server.enqueue(
        _round("Check.", "sig-x", "toolu_1", "Lima"), Reply.text("Sunny.", reasoning="Done.")
    )
    agent = nn.Agent(
        make(enable_thinking=True),
        tools=[get_weather],
        config={"reasoning_in_response": True},
    )

    result = await agent.acall("Weather in Lima?")

    assert (result.answer, result.reasoning) == ("Sunny.", "Done.")
    assert _assistant_turns(server.requests[1])[0][0]["signature"] == "sig-x"
