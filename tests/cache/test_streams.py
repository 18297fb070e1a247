"""Streams in the cache: a finished stream is recorded and replays as a stream (chunks,
reasoning, tool calls, metadata, usage); a stream that failed or was left early is not."""

from __future__ import annotations

import pytest

from msgflux.testing.server import Reply, ToolCall
from msgflux.tools import ToolDefinitions

ANSWER = Reply.text(
    "The answer is 42.",
    chunks=["The ", "answer ", "is ", "42."],
    reasoning="Six times seven.",
    reasoning_chunks=["Six ", "times ", "seven."],
    reasoning_field="reasoning",
)


@pytest.fixture(params=["memory", "disk", "redis"])
def cache_option(request, tmp_path):
    if request.param == "redis":
        return request.getfixturevalue("redis_server").url
    return {"memory": "memory", "disk": f"disk:{tmp_path}/streams.db"}[request.param]


def read_sync(response):
    return list(response), list(response.iter_reasoning()), response


async def read_async(response):
    content = [chunk async for chunk in response.consume()]
    reasoning = [chunk async for chunk in response.consume_reasoning()]
    await response.aresult()
    return content, reasoning, response


def assert_same(first, second):
    content, reasoning, original = first
    replay_content, replay_reasoning, replay = second
    assert replay_content == content == ["The ", "answer ", "is ", "42."]
    assert replay_reasoning == reasoning == ["Six ", "times ", "seven."]
    assert replay.data == original.data and replay.reasoning == original.reasoning
    assert replay.metadata == original.metadata
    assert (
        replay.metadata.usage == original.metadata.usage and "total_tokens" in replay.metadata.usage
    )
    assert replay.response_type == original.response_type == "text_generation"


def test_a_stream_replays_from_sync_code(make_model, loopback_server, requests_to, cache_option):
    loopback_server.set_handler(lambda request: ANSWER)
    model = make_model(cache=cache_option)
    first = read_sync(model("q", stream=True))
    second = read_sync(model("q", stream=True))
    assert_same(first, second)
    assert requests_to(loopback_server) == 1
    assert model._response_cache.cache_info()["hits"] == 1


async def test_a_stream_replays_from_async_code(
    make_model, loopback_server, requests_to, cache_option
):
    loopback_server.set_handler(lambda request: ANSWER)
    model = make_model(cache=cache_option)
    first = await read_async(await model.acall("q", stream=True))
    second = await read_async(await model.acall("q", stream=True))
    assert_same(first, second)
    third = read_sync(model("q", stream=True))  # recorded by an async call, replayed in sync
    assert_same(first, third)
    assert requests_to(loopback_server) == 1


async def test_a_tool_call_stream_replays_its_calls(make_model, loopback_server, requests_to):
    tools = ToolDefinitions(
        schemas=[{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    )
    loopback_server.set_handler(
        lambda request: Reply.calls(
            ToolCall("get_weather", {"city": "Paris"}, id="c1"),
            ToolCall("get_weather", {"city": "Lyon"}, id="c2"),
            content="Checking both.",
            interleave_tool_calls=True,
        )
    )
    model = make_model(cache="memory")
    first = await model.acall("weather?", stream=True, tool_definitions=tools)
    calls = (await first.aresult()).get_calls()
    second = await model.acall("weather?", stream=True, tool_definitions=tools)
    assert second.response_type == "tool_call"
    assert (await second.aresult()).get_calls() == calls and len(calls) == 2
    assert second.data.content == "Checking both."
    assert requests_to(loopback_server) == 1


def test_a_stream_left_early_is_not_recorded(make_model, loopback_server, requests_to):
    loopback_server.enqueue(ANSWER.replace(stall_after=5))  # never finishes by itself
    loopback_server.set_handler(lambda request: ANSWER)
    model = make_model(cache="memory")
    stream = model("q", stream=True)
    assert next(iter(stream)) == "The "
    stream.close()  # the consumer leaves: the stream is closed, not finished
    assert model("q", stream=True).result() == "The answer is 42."
    assert model("q", stream=True).result() == "The answer is 42."  # that one was recorded
    assert requests_to(loopback_server) == 2


async def test_a_stream_that_failed_is_not_recorded(make_model, loopback_server, requests_to):
    loopback_server.enqueue(ANSWER.replace(reset_after=4))
    loopback_server.set_handler(lambda request: ANSWER)
    model = make_model(cache="memory")
    broken = await model.acall("q", stream=True)
    with pytest.raises(Exception):  # noqa: B017 - whatever the transport raises for a reset
        await broken.aresult()
    whole = await model.acall("q", stream=True)
    assert await whole.aresult() == "The answer is 42."
    assert requests_to(loopback_server) == 2
    assert model._response_cache.cache_info()["currsize"] == 1


def test_prefilling_is_part_of_a_recorded_stream(make_model, loopback_server, requests_to):
    model = make_model(cache="memory")
    first = model("q", stream=True, prefilling="Sure: ")
    second = model("q", stream=True, prefilling="Sure: ")
    assert list(first) == list(second) and second.data.startswith("Sure: ")
    assert requests_to(loopback_server) == 1
