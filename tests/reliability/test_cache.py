"""The response cache: what it keys on, what it never stores, and that hits stay pristine."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import msgspec
import pytest

from msgflux.dsl.typed_parsers.registry import register_typed_parser, typed_parser_registry
from msgflux.errors import ProviderError, StructuredOutputError
from msgflux.models.cache import ResponseCache, request_cache_key
from msgflux.testing.server import Reply, ToolCall
from msgflux.tools import MissingToolResultError, ToolDefinitions

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {}},
    },
}


def make_answer_class(field_type: Any) -> type:
    """A new ``Answer`` Struct: the same name every time, only identity tells them apart."""
    return msgspec.defstruct("Answer", [("value", field_type)])


@pytest.fixture
def cached(make_model):
    return make_model(enable_cache=True, cache_size=64)


def test_identical_calls_hit_and_stats_follow(cached, loopback_server, support):
    first = cached("hello")
    second = cached("hello")
    assert first.data == second.data == "echo: hello"
    assert support.chat_requests(loopback_server) == 1
    assert cached._response_cache.cache_info() == {
        "hits": 1,
        "misses": 1,
        "maxsize": 64,
        "currsize": 1,
    }
    cached._response_cache.cache_clear()
    assert cached._response_cache.cache_info()["currsize"] == 0
    cached("hello")
    assert support.chat_requests(loopback_server) == 2


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({}, {"system_prompt": "Be terse."}),
        ({"system_prompt": "Be terse."}, {"system_prompt": "Be verbose."}),
        ({}, {"temperature": 0}),
        ({"temperature": 0}, {"temperature": 0.7}),
        ({"top_p": 0}, {"top_p": 1}),
        ({"max_tokens": 10}, {"max_tokens": 11}),
        ({"seed": 1}, {"seed": 2}),
        ({"stop": ["a"]}, {"stop": ["b"]}),
        ({}, {"prefilling": "Sure"}),
        ({"extra_body": {"top_k": 1}}, {"extra_body": {"top_k": 2}}),
        ({}, {"tool_definitions": ToolDefinitions(schemas=[WEATHER])}),
        (
            {"tool_definitions": ToolDefinitions(schemas=[WEATHER])},
            {"tool_definitions": ToolDefinitions(schemas=[WEATHER, TIME])},
        ),
        (
            {"tool_definitions": ToolDefinitions(schemas=[WEATHER], choice="auto")},
            {"tool_definitions": ToolDefinitions(schemas=[WEATHER], choice="required")},
        ),
    ],
)
def test_everything_that_changes_the_answer_changes_the_key(
    cached, loopback_server, support, first, second
):
    cached("hello", **first)
    cached("hello", **second)
    assert support.chat_requests(loopback_server) == 2
    cached("hello", **first)
    cached("hello", **second)
    assert support.chat_requests(loopback_server) == 2  # and each is then a hit


def test_a_different_message_is_a_different_entry(cached, loopback_server, support):
    cached([{"role": "user", "content": "a"}])
    cached([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    cached([{"role": "user", "content": [{"type": "text", "text": "a"}]}])
    assert support.chat_requests(loopback_server) == 3


def test_what_does_not_change_the_answer_still_hits(cached, loopback_server, support):
    cached("hello", extra_body={"a": 1, "b": 2}, timeout=30)
    cached("hello", extra_body={"b": 2, "a": 1}, timeout=5)  # order and timeout: same answer
    cached("hello", extra_body={"a": 1, "b": 2}, extra_headers={"Authorization": "Bearer other"})
    assert support.chat_requests(loopback_server) == 1


def test_two_schemas_with_the_same_name_are_different_entries(cached, loopback_server, support):
    as_int, as_str = make_answer_class(int), make_answer_class(str)
    assert as_int.__qualname__ == as_str.__qualname__
    loopback_server.enqueue(Reply.text('{"value": 1}'), Reply.text('{"value": "one"}'))
    assert cached("q", generation_schema=as_int).data == {"value": 1}
    assert cached("q", generation_schema=as_str).data == {"value": "one"}
    assert cached("q", generation_schema=as_int).data == {"value": 1}  # hit, right schema
    assert support.chat_requests(loopback_server) == 2


def test_schema_identity_outlives_garbage_collection():
    import gc

    keys = set()
    for _ in range(8):  # a new class may take the id() of a collected one; tokens do not
        keys.add(request_cache_key(params={}, schema=make_answer_class(int)))
        gc.collect()
    assert len(keys) == 8


@pytest.fixture
def json_parser():
    class JSONParser:
        name = "reliability_json"
        template = "{{ instructions }}\nAnswer in JSON."

        def render(self, instructions: str) -> str:
            return self.template.replace("{{ instructions }}", instructions)

        def decode(self, text: str) -> dict[str, Any]:
            try:
                return json.loads(text)
            except ValueError as exc:
                raise StructuredOutputError(str(exc), raw_text=text) from exc

    register_typed_parser(JSONParser())
    yield "reliability_json"
    typed_parser_registry.pop("reliability_json", None)


def test_the_typed_parser_is_part_of_the_key(cached, loopback_server, support, json_parser):
    loopback_server.set_handler(lambda request: Reply.text('{"city": "Paris"}'))
    assert cached("q").data == '{"city": "Paris"}'
    parsed = cached("q", typed_parser=json_parser)
    assert parsed.data == {"city": "Paris"} and parsed.response_type == "structured"
    assert support.chat_requests(loopback_server) == 2
    # A caller mutating its dotdict does not change the next hit.
    parsed.data.city = "Lyon"
    parsed.data["extra"] = True
    again = cached("q", typed_parser=json_parser)
    assert again.data == {"city": "Paris"}
    assert support.chat_requests(loopback_server) == 2


def test_provider_and_base_url_are_part_of_the_key_and_the_api_key_is_not(support):
    params = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    base = request_cache_key(params=params, provider="openai", base_url="http://a/v1")
    assert base != request_cache_key(params=params, provider="groq", base_url="http://a/v1")
    assert base != request_cache_key(params=params, provider="openai", base_url="http://b/v1")
    with_header = {**params, "extra_headers": {"Authorization": f"Bearer {support.API_KEY}"}}
    assert base == request_cache_key(params=with_header, provider="openai", base_url="http://a/v1")
    assert support.API_KEY not in base


def test_structured_hits_cannot_be_corrupted(cached, loopback_server, support):
    schema = make_answer_class(list[int])
    loopback_server.enqueue(Reply.text('{"value": [1, 2, 3]}'))
    first = cached("q", generation_schema=schema)
    first.data.value.append(4)  # the miss's own response: the stored entry is a copy
    first.metadata.usage.total_tokens = -1
    second = cached("q", generation_schema=schema)
    assert second.data == {"value": [1, 2, 3]}
    assert second.metadata.usage.total_tokens != -1
    second.data["value"] = None  # a hit's response: the next hit is another copy
    assert cached("q", generation_schema=schema).data.value == [1, 2, 3]
    assert support.chat_requests(loopback_server) == 1


def test_tool_call_hits_cannot_be_corrupted(cached, loopback_server, support):
    tools = ToolDefinitions(schemas=[WEATHER])
    loopback_server.enqueue(Reply.calls(ToolCall("get_weather", {"city": "Paris"}, id="c1")))
    first = cached("weather?", tool_definitions=tools)
    assert first.response_type == "tool_call"
    first.data.insert_results("c1", "sunny")
    first.metadata["finish_reason"] = "mutated"
    second = cached("weather?", tool_definitions=tools)
    assert second.response_type == "tool_call"
    assert second.data is second.tool_calls  # the copy keeps the response's own aliasing
    assert second.data.get_calls()[0]["function"] == {
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }
    assert second.data.results == {}
    with pytest.raises(MissingToolResultError):
        second.data.get_messages()
    second.data.insert_results("c1", "rainy")
    third = cached("weather?", tool_definitions=tools)
    assert third.data.results == {} and third.metadata.finish_reason == "tool_calls"
    assert support.chat_requests(loopback_server) == 1


def test_errors_are_never_cached(cached, loopback_server, support):
    model = cached
    model.retry = False
    loopback_server.enqueue(Reply.error(503, "busy"))
    with pytest.raises(ProviderError):
        model("hello")
    assert model("hello").data == "echo: hello"
    assert support.chat_requests(loopback_server) == 2
    schema = make_answer_class(int)
    loopback_server.enqueue(Reply.text("not json"), Reply.text('{"value": 7}'))
    with pytest.raises(StructuredOutputError) as caught:
        model("q", generation_schema=schema)
    assert caught.value.raw_text == "not json"
    assert model("q", generation_schema=schema).data == {"value": 7}
    assert support.chat_requests(loopback_server) == 4


async def test_a_stream_and_a_whole_answer_are_separate_entries(cached, loopback_server, support):
    for _ in range(2):  # the second stream replays the first
        response = await cached.acall("hello", stream=True)
        assert "".join([chunk async for chunk in response.consume()]) == "echo: hello"
    assert (await cached.acall("hello")).data == "echo: hello"  # its own entry
    assert (await cached.acall("hello")).data == "echo: hello"
    assert support.chat_requests(loopback_server) == 2
    assert cached._response_cache.cache_info()["currsize"] == 2


def test_least_recently_used_goes_first(make_model, loopback_server, support):
    model = make_model(enable_cache=True, cache_size=2)
    model("a")
    model("b")
    model("a")  # a is now the most recent
    model("c")  # evicts b
    assert support.chat_requests(loopback_server) == 3
    model("a")
    assert support.chat_requests(loopback_server) == 3
    model("b")
    assert support.chat_requests(loopback_server) == 4
    assert model._response_cache.cache_info()["currsize"] == 2


def test_cache_size_is_validated():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="cache_size"):
            ResponseCache(bad)


def test_many_threads_share_one_cache(cached, loopback_server, support):
    prompts = [f"prompt {i % 8}" for i in range(256)]
    results: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def worker(chunk: list[str]) -> None:
        for prompt in chunk:
            response = cached(prompt)
            response.data += " (mutated by its caller)"
            with lock:
                results.append((prompt, response))

    threads = [threading.Thread(target=worker, args=(prompts[i::16],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 256
    assert all(r.data == f"echo: {p} (mutated by its caller)" for p, r in results)
    info = cached._response_cache.cache_info()
    assert info["hits"] + info["misses"] == 256 and info["currsize"] == 8
    assert support.chat_requests(loopback_server) == info["misses"]


async def test_many_tasks_share_one_cache(cached, loopback_server, support):
    prompts = [f"prompt {i % 8}" for i in range(256)]

    async def ask(prompt: str) -> tuple[str, Any]:
        response = await cached.acall(prompt)
        response.data = None  # a careless caller
        return prompt, await cached.acall(prompt)

    results = await asyncio.gather(*(ask(p) for p in prompts))
    assert all(r.data == f"echo: {p}" for p, r in results)
    info = cached._response_cache.cache_info()
    assert info["hits"] + info["misses"] == 512
    assert support.chat_requests(loopback_server) == info["misses"]
