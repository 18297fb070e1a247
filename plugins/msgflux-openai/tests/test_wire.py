"""The OpenAI plugin over real HTTP (the ``openai`` SDK) against the loopback server.

Requests are asserted as OpenAI would receive them; responses as the user receives them.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import threading

import pytest

import msgflux as mf
from msgflux.testing.server import Audio, Reply, ToolCall, Usage
from msgflux.tools import ToolDefinitions

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get current weather for a location.",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
                "additionalProperties": False,
            },
        },
    }
]


TRANSPORT = {"name": "fast"}


@pytest.fixture(autouse=True, params=["fast", "sdk"])
def transport(request):
    """Every test here runs on both transports: msgflux's own and the openai SDK."""
    TRANSPORT["name"] = request.param
    return request.param


@pytest.fixture
def model(loopback_server, transport):
    return openai_model(loopback_server)


def openai_model(server, **options):
    options.setdefault("transport", TRANSPORT["name"])
    return mf.Model.chat_completion(
        "openai/gpt-4.1-mini", base_url=server.base_url, api_key="k", **options
    )


# -- requests ---------------------------------------------------------------------------------


def test_plain_call_sends_the_minimal_request(model, loopback_server):
    assert model("Hello").consume() == "echo: Hello"
    request = loopback_server.last_request
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer k"
    assert request.json == {
        "model": "gpt-4.1-mini",
        "messages": [{"role": "user", "content": "Hello"}],
    }


def test_every_generation_parameter_reaches_the_wire(loopback_server):
    model = openai_model(
        loopback_server,
        max_tokens=1000,
        temperature=0,
        top_p=0.9,
        stop=["\n\n"],
        seed=7,
        reasoning_effort="low",
        verbosity="medium",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "mp3"},
        logprobs=True,
        top_logprobs=2,
        prompt_cache_retention="24h",
        web_search_options={"search_context_size": "low"},
        parallel_tool_calls=False,
        extra_body={"metadata": {"app": "tests"}},
        extra_headers={"X-App": "msgflux-tests"},
    )
    model("hi", tool_definitions=ToolDefinitions(schemas=TOOLS, choice="get_weather"))
    request = loopback_server.last_request
    body = request.json
    assert body["max_completion_tokens"] == 1000 and "max_tokens" not in body
    assert body["temperature"] == 0
    assert body["top_p"] == 0.9
    assert body["stop"] == ["\n\n"]
    assert body["seed"] == 7
    assert body["reasoning_effort"] == "low"
    assert body["verbosity"] == "medium"
    assert body["modalities"] == ["text", "audio"]
    assert body["audio"] == {"voice": "alloy", "format": "mp3"}
    assert body["logprobs"] is True and body["top_logprobs"] == 2
    assert body["prompt_cache_retention"] == "24h"
    assert body["web_search_options"] == {"search_context_size": "low"}
    assert body["tools"] == TOOLS
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert body["metadata"] == {"app": "tests"}
    assert request.headers["x-app"] == "msgflux-tests"


def test_parallel_tool_calls_is_not_sent_without_tools(loopback_server):
    model = openai_model(loopback_server, parallel_tool_calls=True)
    model("hi")
    assert "parallel_tool_calls" not in loopback_server.last_request.json


def test_per_call_extra_body_and_headers_merge_over_the_models(loopback_server):
    model = openai_model(loopback_server, extra_body={"a": 1, "b": 1}, extra_headers={"X-A": "1"})
    model("hi", extra_body={"b": 2}, extra_headers={"X-B": "2"})
    request = loopback_server.last_request
    assert (request.json["a"], request.json["b"]) == (1, 2)
    assert (request.headers["x-a"], request.headers["x-b"]) == ("1", "2")
    assert model.extra_body == {"a": 1, "b": 1}  # the model's own settings are untouched


def test_the_callers_tool_schemas_are_not_mutated(model):
    import copy

    tools = copy.deepcopy(TOOLS)
    model("hi", tool_definitions=ToolDefinitions(schemas=tools, choice="required"))
    assert tools == TOOLS


def test_api_key_from_env_and_clear_error_when_missing(loopback_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(mf.MissingAPIKeyError, match="OPENAI_API_KEY"):
        mf.Model.chat_completion("openai/gpt-4.1-mini", base_url=loopback_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    mf.Model.chat_completion("openai/gpt-4.1-mini", base_url=loopback_server.base_url)("hi")
    assert loopback_server.last_request.headers["authorization"] == "Bearer from-env"


def test_base_url_from_env(loopback_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", loopback_server.base_url)
    model = mf.Model.chat_completion("openai/gpt-4.1-mini", api_key="k")
    assert model("hi").consume() == "echo: hi"


# -- responses --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking"])
def test_reasoning_is_extracted_from_each_field_name(model, loopback_server, field):
    loopback_server.enqueue(
        Reply.text("108", reasoning="15*7=105, +3=108", reasoning_field=field),
        Reply.text("108", reasoning="15*7=105, +3=108", reasoning_field=field),
    )
    response = model("What is 15 * 7 + 3?")
    assert response.consume() == "108"
    assert response.reasoning == "15*7=105, +3=108"
    streamed = model("again", stream=True)
    assert "".join(streamed) == "108"
    assert streamed.reasoning == "15*7=105, +3=108"


def test_metadata_usage_finish_reason_annotations_logprobs(model, loopback_server):
    citation = {
        "type": "url_citation",
        "url_citation": {"url": "https://example.com/a", "title": "A"},
    }
    loopback_server.enqueue(
        Reply.text(
            "cited answer",
            annotations=[citation],
            logprobs=True,
            usage=Usage(prompt_tokens=19, completion_tokens=9, reasoning_tokens=3, cached_tokens=4),
            finish_reason="length",
        )
    )
    response = model("q", logprobs=True)
    metadata = response.metadata
    assert metadata.usage.prompt_tokens == 19 and metadata.usage.completion_tokens == 9
    assert metadata.usage.completion_tokens_details.reasoning_tokens == 3
    assert metadata.usage.prompt_tokens_details.cached_tokens == 4
    assert metadata.finish_reason == "length"
    assert [a["url_citation"]["url"] for a in metadata.get("annotations", [])] == [
        "https://example.com/a"
    ]
    assert [entry["token"] for entry in metadata.logprobs["content"]] == ["cited", " answer"]


def test_streamed_metadata_arrives_at_the_end(model, loopback_server):
    citation = {
        "type": "url_citation",
        "url_citation": {"url": "https://example.com/b", "title": "B"},
    }
    loopback_server.enqueue(Reply.text("one two three", annotations=[citation], logprobs=True))
    response = model("q", stream=True, logprobs=True)
    assert "".join(response) == "one two three"
    assert response.metadata.usage.total_tokens > 0
    assert response.metadata.finish_reason == "stop"
    assert response.metadata.annotations == [citation]
    assert [entry["token"] for entry in response.metadata.logprobs["content"]] == [
        "one",
        " two",
        " three",
    ]
    assert loopback_server.last_request.json["stream_options"] == {"include_usage": True}


def test_tool_calls_from_a_whole_message(model, loopback_server):
    loopback_server.enqueue(
        Reply.calls(
            ToolCall("get_weather", {"location": "Paris"}, id="call_1"),
            ToolCall("get_weather", {"location": "Tokyo"}, id="call_2"),
            content="Checking both.",
        )
    )
    response = model("weather?", tool_definitions=ToolDefinitions(schemas=TOOLS))
    assert response.response_type == "tool_call"
    aggregator = response.consume()
    assert [call["id"] for call in aggregator.get_calls()] == ["call_1", "call_2"]
    assert aggregator.get_calls()[1]["function"]["arguments"] == {"location": "Tokyo"}
    assert aggregator.content == "Checking both."
    assert response.metadata.finish_reason == "tool_calls"


@pytest.mark.parametrize("ids", ["first", "every", "late"])
def test_streamed_parallel_tool_calls_interleaved(model, loopback_server, ids):
    loopback_server.enqueue(
        Reply.calls(
            ToolCall(
                "get_weather",
                '{"location": "Paris"}',
                id="call_a",
                chunks=['{"loc', 'ation": "Pa', 'ris"}'],
            ),
            ToolCall("get_time", '{"tz": "UTC"}', id="call_b", chunks=['{"tz"', ': "UTC"}']),
            interleave_tool_calls=True,
            tool_call_ids=ids,
        )
    )
    response = model("q", stream=True, tool_definitions=ToolDefinitions(schemas=TOOLS))
    calls = response.consume().get_calls()
    assert calls == [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"location": "Paris"}},
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "get_time", "arguments": {"tz": "UTC"}},
        },
    ]


def test_reasoning_in_tool_call_embeds_think_tags(loopback_server):
    model = openai_model(loopback_server, reasoning_in_tool_call=True)
    loopback_server.enqueue(
        Reply.calls(
            ToolCall("calc", {"e": "14+28"}, id="call_1"),
            reasoning="Need 14+28 first.",
            reasoning_field="reasoning",
        )
    )
    aggregator = model("q", tool_definitions=ToolDefinitions(schemas=TOOLS)).consume()
    aggregator.insert_results("call_1", 42)
    assistant, tool = aggregator.get_messages()
    assert assistant["content"].startswith("<think>Need 14+28 first.</think>")
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "42"}


def test_audio_output_is_decoded(model, loopback_server):
    loopback_server.enqueue(Reply.text(None, audio=Audio(transcript="hello", data=b"\x00\x01mp3")))
    response = model(
        "say hello", modalities=["text", "audio"], audio={"voice": "alloy", "format": "mp3"}
    )
    assert response.response_type == "audio_text_generation"
    assert response.data.audio == b"\x00\x01mp3"
    assert response.data.text == "hello"
    assert base64.b64encode(response.data.audio)


def test_refusal_is_kept_in_metadata(model, loopback_server):
    loopback_server.enqueue(Reply.text(None, refusal="I can't help with that."))
    response = model("q")
    assert response.consume() == ""
    assert response.metadata.refusal == "I can't help with that."


# -- streaming --------------------------------------------------------------------------------


def test_stream_returns_after_the_first_chunk_and_sync_iteration_gets_the_rest(
    model, loopback_server
):
    loopback_server.enqueue(Reply.text("a b c d", chunk_delay=0.05))
    response = model("q", stream=True)
    assert response.first_chunk_event.is_set()
    assert not response.done
    assert "".join(response) == "a b c d"
    assert response.done and response.data == "a b c d"


async def test_async_stream_reasoning_first_then_content(model, loopback_server):
    loopback_server.enqueue(
        Reply.text(
            "The answer is 4.",
            reasoning="2 plus 2 is 4",
            reasoning_field="reasoning",
            chunk_delay=0.01,
        )
    )
    response = await model.acall("What is 2+2?", stream=True)
    thinking = "".join([chunk async for chunk in response.consume_reasoning()])
    answer = "".join([chunk async for chunk in response.consume()])
    assert (thinking, answer) == ("2 plus 2 is 4", "The answer is 4.")
    assert response.reasoning == thinking and response.has_reasoning


async def test_async_sync_wait_on_the_producing_loop_is_refused(model, loopback_server):
    loopback_server.enqueue(
        Reply.calls(ToolCall("get_weather", {"location": "x"}, id="c"), chunk_delay=0.05)
    )
    response = await model.acall("q", stream=True, tool_definitions=ToolDefinitions(schemas=TOOLS))
    with pytest.raises(RuntimeError, match="aresult"):
        response.consume()
    aggregator = await response.aresult()
    assert aggregator.get_calls()[0]["id"] == "c"


def test_stream_failing_before_the_first_chunk_raises_at_the_call(loopback_server):
    model = openai_model(loopback_server, retry=False)
    loopback_server.enqueue(Reply.error(503, "overloaded"))
    with pytest.raises(mf.ProviderError) as caught:
        model("q", stream=True)
    assert caught.value.status == 503 and "overloaded" in str(caught.value)
    if TRANSPORT["name"] == "sdk":
        assert isinstance(caught.value.__cause__, __import__("openai").APIStatusError)


def test_error_in_the_middle_of_a_stream_reaches_the_consumer(loopback_server):
    model = openai_model(loopback_server, retry=False)
    loopback_server.enqueue(Reply.text("one two three four", reset_after=2))
    response = model("q", stream=True)
    with pytest.raises(mf.ProviderConnectionError):
        list(response)
    assert response.error is not None and response.done


def test_leaving_a_stream_early_closes_it_and_ends_its_thread(model, loopback_server):
    loopback_server.enqueue(Reply.text(" ".join(["word"] * 200), chunk_delay=0.01))
    response = model("q", stream=True)
    for _index, _chunk in zip(range(3), response, strict=False):
        pass
    assert response.wait(5)
    for thread in threading.enumerate():
        if thread.name.startswith("msgflux-stream"):
            thread.join(5)
    assert not [t for t in threading.enumerate() if t.name.startswith("msgflux-stream")]
    assert len(response.data.split()) < 200


async def test_closing_an_async_stream_cancels_its_task(model, loopback_server):
    loopback_server.enqueue(Reply.text(" ".join(["word"] * 200), chunk_delay=0.01))
    response = await model.acall("q", stream=True)
    async for _chunk in response.consume():
        break
    await response.aclose()
    assert response.done and response._producer.done()


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (401, mf.AuthenticationError),
        (403, mf.AuthenticationError),
        (400, mf.BadRequestError),
        (404, mf.BadRequestError),
        (422, mf.BadRequestError),
        (429, mf.RateLimitError),
        (500, mf.ProviderError),
    ],
)
def test_provider_errors_are_mapped(loopback_server, status, error_type):
    model = openai_model(loopback_server, retry=False)
    loopback_server.enqueue(
        Reply.error(
            status, "provider says no", headers={"x-request-id": "req_42", "Retry-After": "2"}
        )
    )
    with pytest.raises(error_type) as caught:
        model("q")
    error = caught.value
    assert error.status == status and error.provider == "openai"
    assert error.message == "provider says no" and error.request_id == "req_42"
    if status == 429:
        assert error.retry_after == 2.0


def test_unreachable_server_is_a_connection_error():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = mf.Model.chat_completion(
        "openai/m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", retry=False
    )
    with pytest.raises(mf.ProviderConnectionError):
        model("q")


# -- imports, clients, custom providers -------------------------------------------------------


def test_import_msgflux_does_not_import_openai(transport):
    code = (
        "import sys, msgflux as mf\n"
        "assert 'openai' in mf.list_providers(), mf.list_providers()\n"
        "assert 'openai' not in sys.modules\n"
        "mf.Model.chat_completion('openai/m', api_key='k', base_url='http://127.0.0.1:9/v1',\n"
        f"                         transport={transport!r})\n"
        "print('openai' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # The SDK is imported only when a model chose the SDK transport.
    assert result.stdout.strip() == str(transport == "sdk")


def test_injected_openai_client_is_used(loopback_server, transport):
    import openai

    client = openai.OpenAI(base_url=loopback_server.base_url, api_key="injected", max_retries=0)
    if transport == "fast":
        with pytest.raises(ValueError, match="transport='sdk'"):
            mf.Model.chat_completion("openai/m", api_key="unused", client=client, transport="fast")
        return
    model = mf.Model.chat_completion("openai/m", api_key="unused", client=client)
    model("hi")
    assert loopback_server.last_request.headers["authorization"] == "Bearer injected"


def test_the_same_model_serves_several_event_loops(model):
    async def ask(text):
        return (await model.acall(text)).consume()

    assert asyncio.run(ask("one")) == "echo: one"
    assert asyncio.run(ask("two")) == "echo: two"


def test_fastapi_streaming_response_served_by_a_real_server(loopback_server):
    import httpx
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    loopback_server.set_handler(
        lambda request: Reply.text(
            "Streaming to the browser", reasoning="plan the words", reasoning_field="reasoning"
        )
    )
    model = openai_model(loopback_server)
    app = FastAPI()

    @app.get("/chat")
    async def chat(query: str):
        response = await model.acall(messages=[{"role": "user", "content": query}], stream=True)
        return StreamingResponse(response.consume(), media_type="text/plain")

    @app.get("/chat/reasoning")
    async def chat_reasoning(query: str):
        response = await model.acall(messages=[{"role": "user", "content": query}], stream=True)
        return StreamingResponse(response.consume_reasoning(), media_type="text/plain")

    @app.get("/chat/sync")
    def chat_sync(query: str):
        response = model(messages=[{"role": "user", "content": query}], stream=True)
        return StreamingResponse(response.consume(), media_type="text/plain")

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            for path, expected in [
                ("/chat", "Streaming to the browser"),
                ("/chat/reasoning", "plan the words"),
                ("/chat/sync", "Streaming to the browser"),
            ]:
                with http.stream("GET", path, params={"query": "hi"}) as reply:
                    assert reply.status_code == 200
                    pieces = list(reply.iter_text())
                assert "".join(pieces) == expected
    finally:
        server.should_exit = True
        thread.join(10)


def test_each_sync_stream_has_its_own_producer_thread(model, loopback_server):
    loopback_server.set_handler(lambda request: Reply.text("a b c d e", chunk_delay=0.1))
    responses = [model(f"q{i}", stream=True) for i in range(4)]
    alive = [t for t in threading.enumerate() if t.name.startswith("msgflux-stream")]
    assert len(alive) >= 4  # no small shared pool: a fourth stream is not waiting for a slot
    assert ["".join(response) for response in responses] == ["a b c d e"] * 4


def test_profile_and_cost_from_the_response_usage(model, loopback_server):
    loopback_server.enqueue(
        Reply.text("ok", usage=Usage(prompt_tokens=1000, completion_tokens=500))
    )
    usage = model("q").metadata.usage
    profile = model.profile
    assert profile is not None and profile.capabilities.tool_call
    assert profile.limits.context > 0
    expected = (1000 * profile.cost.input_per_million + 500 * profile.cost.output_per_million) / 1e6
    assert profile.cost.calculate_from_usage(usage) == pytest.approx(expected)
    assert profile.cost.calculate(
        input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens
    ) == (pytest.approx(expected))


class ThoughtsProvider:
    """A third-party provider whose server puts reasoning in a field of its own."""

    @mf.hookimpl
    def register_providers(self):
        return [mf.ProviderSpec(name="thoughtful", extends="openai", api_key_required=False)]

    @mf.hookimpl
    def extract_reasoning(self, message, reasoning):
        return reasoning or getattr(message, "thoughts", None)


def test_a_plugin_reads_fields_only_its_server_sends(loopback_server, transport):
    from msgflux.plugins import registered_plugin

    with registered_plugin(ThoughtsProvider(), "thoughtful"):
        model = mf.Model.chat_completion(
            "thoughtful/m", base_url=loopback_server.base_url, transport=transport
        )
        loopback_server.enqueue(
            Reply.text("42", message_extra={"thoughts": "six times seven"}),
            Reply.text("42", message_extra={"thoughts": "six times seven"}),
        )
        response = model("q")
        assert (response.consume(), response.reasoning) == ("42", "six times seven")
        streamed = model("q", stream=True)
        assert "".join(streamed) == "42"
        assert streamed.reasoning == "six times seven"


def test_closing_a_stalled_sync_stream_ends_it(loopback_server, transport):
    if transport == "sdk":
        pytest.skip(
            "the openai SDK's blocking read cannot be interrupted from another thread; the "
            "stream ends at the read timeout (documented); the fast transport shuts the socket"
        )
    model = openai_model(loopback_server, timeout=60)
    loopback_server.enqueue(Reply.text("one two three", stall_after=3))
    response = model("q", stream=True)
    assert not response.done
    response.close()
    assert response.wait(5)  # the producer's blocked read was woken, long before the timeout
    assert response.error is None  # closing is not a failure
