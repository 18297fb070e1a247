"""Stream responses: both channels, every way of reading them, early close, failures."""

from __future__ import annotations

import asyncio
import threading

import pytest

import msgflux as mf
from msgflux.models.response import ModelStreamResponse


def fake(**options):
    return mf.Model.chat_completion("fake/stream", chunk_size=3, **options)


def stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("msgflux-stream")]


def test_sync_iteration_yields_content_and_fills_the_response():
    model = fake(responses=[{"content": "Hello world", "reasoning": "think"}])
    response = model("q", stream=True)
    assert isinstance(response, ModelStreamResponse)
    assert "".join(response) == "Hello world"
    assert response.data == "Hello world"
    assert response.reasoning == "think" and response.has_reasoning
    assert response.response_type == "text_generation"
    assert response.metadata.usage["total_tokens"] > 0
    assert response.metadata.finish_reason == "stop"


async def test_reasoning_and_content_read_in_either_order():
    model = fake(responses=[{"content": "108", "reasoning": "15*7=105, +3"}] * 2)
    response = await model.acall("q", stream=True)
    reasoning = "".join([chunk async for chunk in response.consume_reasoning()])
    content = "".join([chunk async for chunk in response.consume()])
    assert (reasoning, content) == ("15*7=105, +3", "108")

    response = await model.acall("q", stream=True)
    content = "".join([chunk async for chunk in response.consume()])
    reasoning = "".join([chunk async for chunk in response.consume_reasoning()])
    assert (reasoning, content) == ("15*7=105, +3", "108")


def test_async_consumption_of_a_sync_stream():
    model = fake(responses=["produced on a thread"])
    response = model("q", stream=True)

    async def read() -> str:
        return "".join([chunk async for chunk in response.consume()])

    assert asyncio.run(read()) == "produced on a thread"


def test_several_readers_each_see_every_chunk():
    model = fake(responses=["abcdefghij"])
    response = model("q", stream=True)
    first, second = list(response), list(response)
    assert first == second == ["abc", "def", "ghi", "j"]


def test_sync_stream_thread_ends_with_the_stream():
    model = fake()
    response = model("q" * 30, stream=True)
    response.wait(5)
    for thread in stream_threads():
        thread.join(5)
    assert stream_threads() == []


def test_stream_of_tool_calls_consumes_to_the_aggregator():
    model = fake(
        responses=[{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Tokyo"}}]}]
    )
    response = model("weather?", stream=True)
    assert response.response_type == "tool_call"
    aggregator = response.consume()
    assert aggregator.get_calls()[0]["function"] == {
        "name": "get_weather",
        "arguments": {"city": "Tokyo"},
    }
    assert response.data is aggregator


async def test_async_tool_call_stream_uses_aresult():
    model = fake(responses=[{"tool_calls": [{"name": "f", "arguments": {}}]}])
    response = await model.acall("q", stream=True)
    aggregator = await response.aresult()
    assert aggregator.get_calls()[0]["function"]["name"] == "f"
    assert response.consume() is aggregator  # once finished, consume() no longer blocks


def test_text_then_tool_calls_loses_neither():
    model = fake(
        responses=[
            {"content": "Let me check.", "tool_calls": [{"name": "f", "arguments": {"x": 0}}]}
        ]
    )
    response = model("q", stream=True)
    assert "".join(response) == "Let me check."
    assert response.response_type == "tool_call"
    assert response.data.content == "Let me check."
    assert response.data.get_calls()[0]["function"]["arguments"] == {"x": 0}


def test_prefilling_is_the_start_of_the_streamed_text():
    model = fake(responses=["continued"])
    response = model("q", stream=True, prefilling="Start: ")
    assert "".join(response) == "Start: continued"


def test_return_reasoning_false_streams_no_reasoning():
    model = fake(return_reasoning=False, responses=[{"content": "a", "reasoning": "secret"}])
    response = model("q", stream=True)
    assert list(response.iter_reasoning()) == []
    response.wait()
    assert response.reasoning is None and not response.has_reasoning


def test_sync_wait_inside_the_producing_loop_is_refused_not_deadlocked():
    model = fake(responses=["x" * 200])

    async def main() -> None:
        response = await model.acall("q", stream=True)
        if not response.done:
            with pytest.raises(RuntimeError, match="deadlock"):
                list(response)
        await response.aresult()

    asyncio.run(main())
