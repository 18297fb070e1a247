"""Every kind of answer comes back from every backend as the pipeline produced it."""

from __future__ import annotations

import msgspec
import pytest

from msgflux.dotdict import dotdict
from msgflux.testing.server import Reply, ToolCall
from msgflux.tools import ToolCallAggregator, ToolDefinitions


class Event(msgspec.Struct):
    name: str
    guests: list[str]
    day: str = "Friday"


WEATHER = ToolDefinitions(
    schemas=[
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
)


@pytest.fixture(params=["memory", "disk", "redis"])
def model(request, tmp_path, make_model):
    if request.param == "redis":
        spec = request.getfixturevalue("redis_server").url
    else:
        spec = {"memory": "memory", "disk": f"disk:{tmp_path}/answers.db"}[request.param]
    return make_model(cache=spec)


def twice(model, server, requests_to, *args, **kwargs):
    first = model(*args, **kwargs)
    second = model(*args, **kwargs)
    assert requests_to(server) == 1
    assert second is not first
    assert type(second.data) is type(first.data)
    assert second.response_type == first.response_type
    assert second.metadata == first.metadata and second.reasoning == first.reasoning
    return first, second


def test_text_with_reasoning(model, loopback_server, requests_to):
    loopback_server.set_handler(lambda r: Reply.text("Paris.", reasoning="Capital of France."))
    first, second = twice(model, loopback_server, requests_to, "capital?")
    assert second.data == "Paris." and second.reasoning == "Capital of France."
    assert second.metadata.usage.total_tokens == first.metadata.usage.total_tokens


def test_structured(model, loopback_server, requests_to):
    loopback_server.set_handler(lambda r: Reply.text('{"name": "party", "guests": ["Ann"]}'))
    first, second = twice(model, loopback_server, requests_to, "event?", generation_schema=Event)
    assert type(second.data) is dotdict
    assert second.data == first.data == {"name": "party", "guests": ["Ann"], "day": "Friday"}
    second.data.guests.append("Bob")  # a hit cannot corrupt the next one
    assert model("event?", generation_schema=Event).data.guests == ["Ann"]


def test_tool_calls(model, loopback_server, requests_to):
    loopback_server.set_handler(
        lambda r: Reply.calls(ToolCall("get_weather", {"city": "Paris"}, id="c1"))
    )
    first, second = twice(model, loopback_server, requests_to, "weather?", tool_definitions=WEATHER)
    assert isinstance(second.data, ToolCallAggregator) and second.data is second.tool_calls
    assert second.data.get_calls() == first.data.get_calls()
    second.data.insert_results("c1", "sunny")
    assert second.data.get_messages()[1]["content"] == "sunny"
    assert model("weather?", tool_definitions=WEATHER).data.results == {}


async def test_async_calls(model, loopback_server, requests_to):
    first = await model.acall("hello")
    second = await model.acall("hello")
    assert second.data == first.data == "echo: hello" and requests_to(loopback_server) == 1
    assert model("hello").data == "echo: hello" and requests_to(loopback_server) == 1


def test_cache_info_and_clear(model, loopback_server, requests_to):
    model("a")
    model("a")
    model("b")
    info = model._response_cache.cache_info()
    assert (info["hits"], info["misses"], info["currsize"]) == (1, 2, 2)
    model._response_cache.cache_clear()
    assert model._response_cache.cache_info() == {**info, "hits": 0, "misses": 0, "currsize": 0}
    model("a")
    assert requests_to(loopback_server) == 3
