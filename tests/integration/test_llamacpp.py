"""msgflux against real llama.cpp servers serving SmolLM2-135M-Instruct.

The loopback tests prove the protocol we believe in; these prove the one that exists. Tests
that take ``model`` run against both servers, llama-cpp-python's and llama.cpp's own
llama-server (``real_server`` in ``conftest.py``); where the servers differ, the test says
how, and the plugin README's feature table comes from these tests. Tool calls need
``python_server_model``: with SmolLM2's chat template llama-server does not call tools (see
``test_llama_server.py``).

The model is tiny, so the assertions are about structure and plumbing (types, non-empty text,
a valid Struct, a call to the forced tool), never about what the answers say.
"""

from __future__ import annotations

import asyncio
import threading
import time

import msgspec
import pytest

import msgflux as mf
from msgflux.tools import ToolCallAggregator, ToolDefinitions

LONG_PROMPT = "Write a long story about a lighthouse keeper and the sea."


class City(msgspec.Struct):
    name: str
    country: str
    population: int


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city's name.
    """
    return f"sunny, 21 C in {city}"


def forced_weather_tool() -> ToolDefinitions:
    return ToolDefinitions.from_callables([get_weather], choice="get_weather")


def assert_text_answer(response: mf.ModelResponse) -> None:
    assert response.response_type == "text_generation"
    text = response.consume()
    assert isinstance(text, str) and text.strip()
    assert response.metadata.finish_reason in ("stop", "length")


# What each server logs when a client leaves in the middle of an answer.
DISCONNECTED = {"llama-cpp-python": "Disconnected from client", "llama-server": "cancel task"}


def disconnects(server) -> int:
    """How many times the server logged a client leaving in the middle of an answer."""
    return server.log_text().count(DISCONNECTED[server.kind])


def wait_for_disconnects(server, more_than: int, timeout: float = 60.0) -> None:
    """Wait until the server has logged a client leaving more than ``more_than`` times.

    llama-server answers requests side by side, so a later answer completing says nothing
    about when it noticed the abandoned one; the wait is bounded, not a measurement.
    """
    deadline = time.monotonic() + timeout
    while disconnects(server) <= more_than:
        assert time.monotonic() < deadline, f"no disconnect logged:\n{server.log_tail()}"
        time.sleep(0.05)


# -- plain calls ------------------------------------------------------------------------------


def test_chat(model, real_server):
    response = model("Say hello in one short sentence.")
    assert_text_answer(response)
    usage = response.metadata.usage
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    if real_server.kind == "llama-server":
        # How much of the prompt its cache served; llama-cpp-python does not say.
        assert isinstance(usage["prompt_tokens_details"]["cached_tokens"], int)


async def test_async_chat(model):
    response = await model.acall("Name a colour.")
    assert_text_answer(response)


def test_system_prompt_and_history(model):
    history = [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name?"},
    ]
    assert_text_answer(model(history, system_prompt="You are brief."))


def test_max_tokens_bounds_the_answer(model):
    # llama-cpp-python ignores `max_completion_tokens` (what the openai base sends): without
    # the plugin's renaming this answer would run to the end of a long story. llama-server
    # takes it as it is.
    response = model(LONG_PROMPT, max_tokens=3)
    assert response.metadata.finish_reason == "length"
    assert response.metadata.usage["completion_tokens"] == 3


def test_logprobs(model):
    response = model("Say hi.", logprobs=True, top_logprobs=2, max_tokens=4)
    entries = response.metadata.logprobs["content"]
    assert len(entries) == response.metadata.usage["completion_tokens"]
    assert all(isinstance(entry["logprob"], float) for entry in entries)
    assert "".join(entry["token"] for entry in entries) == response.consume()


# -- streaming --------------------------------------------------------------------------------


def test_stream_sync(model):
    response = model("Count from one to five.", stream=True)
    chunks = list(response)
    assert chunks and all(isinstance(chunk, str) for chunk in chunks)
    assert "".join(chunks) == response.data and response.data.strip()
    assert response.response_type == "text_generation"
    assert response.metadata.finish_reason in ("stop", "length")


async def test_stream_async(model):
    response = await model.acall("Count from one to five.", stream=True)
    chunks = [chunk async for chunk in response.consume()]
    assert chunks and all(isinstance(chunk, str) for chunk in chunks)
    assert "".join(chunks) == await response.aresult()
    assert response.metadata.finish_reason in ("stop", "length")


def test_stream_usage_depends_on_the_server(model, real_server):
    # llama-cpp-python ignores stream_options.include_usage; llama-server sends usage in a
    # last chunk. If that changes, this test tells us to update the plugin README.
    response = model("Say hi.", stream=True, max_tokens=4)
    response.result()
    if real_server.kind == "llama-cpp-python":
        assert "usage" not in response.metadata
    else:
        usage = response.metadata.usage
        assert usage["completion_tokens"] == 4
        assert isinstance(usage["prompt_tokens_details"]["cached_tokens"], int)


async def test_concurrent_streams_each_get_their_whole_answer(model):
    # llama-cpp-python queues requests (the fixture starts it with --interrupt_requests
    # False; by default it aborts the stream in progress whenever another request arrives);
    # llama-server answers them side by side (4 slots).
    async def one(n: int) -> tuple[str, str]:
        response = await model.acall(f"Count from one to {n}.", stream=True, max_tokens=12)
        text = "".join([chunk async for chunk in response.consume()])
        return text, response.metadata.finish_reason

    results = await asyncio.gather(*(one(n) for n in (3, 4, 5)))
    for text, finish_reason in results:
        assert text.strip() and finish_reason in ("stop", "length")


def test_concurrent_sync_streams_from_threads(model):
    results: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append("".join(model("Name a fruit.", stream=True, max_tokens=8)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 3 and all(text.strip() for text in results)


def test_leaving_a_stream_midway_closes_it_and_the_server_still_answers(model, real_server):
    before = disconnects(real_server)
    response = model(LONG_PROMPT, stream=True, max_tokens=400)
    received = []
    for chunk in response:
        received.append(chunk)
        if len(received) == 3:
            break
    assert response.wait(timeout=60) and response.done
    assert_text_answer(model("Say hi.", max_tokens=8))
    # The server noticed its client leave (and stopped generating for it).
    wait_for_disconnects(real_server, more_than=before)


async def test_closing_an_async_stream_midway_and_the_server_still_answers(model, real_server):
    before = disconnects(real_server)
    response = await model.acall(LONG_PROMPT, stream=True, max_tokens=400)
    received = []
    async for chunk in response.consume():
        received.append(chunk)
        if len(received) == 3:
            break
    await response.aclose()
    assert response.done and len(received) == 3
    assert_text_answer(await model.acall("Say hi.", max_tokens=8))
    await asyncio.to_thread(wait_for_disconnects, real_server, before)


# -- structured output ------------------------------------------------------------------------


def test_structured_output_into_a_struct(model):
    response = model("Describe Paris as JSON.", generation_schema=City, max_tokens=80)
    assert response.response_type == "structured"
    city = msgspec.convert(response.consume(), City)
    assert isinstance(city, City)
    assert isinstance(city.population, int) and isinstance(city.name, str)


async def test_structured_output_async(model):
    response = await model.acall("Describe Rome as JSON.", generation_schema=City, max_tokens=80)
    assert isinstance(msgspec.convert(response.consume(), City), City)


# -- tool calls (llama-cpp-python; llama-server: test_llama_server.py) ---------------------------


def test_forced_tool_call(python_server_model):
    response = python_server_model(
        "What is the weather in Paris?", tool_definitions=forced_weather_tool()
    )
    assert response.response_type == "tool_call"
    aggregator = response.consume()
    assert isinstance(aggregator, ToolCallAggregator)
    [call] = aggregator.get_calls()
    assert call["function"]["name"] == "get_weather"
    assert isinstance(call["function"]["arguments"]["city"], str)
    assert call["id"]
    assert response.metadata.finish_reason == "tool_calls"


def test_forced_tool_call_streamed(python_server_model):
    # The server repeats the call id and the function name in every fragment; the calls
    # must still assemble to one call named once.
    response = python_server_model(
        "What is the weather in Paris?", tool_definitions=forced_weather_tool(), stream=True
    )
    aggregator = response.consume()
    assert response.response_type == "tool_call"
    [call] = aggregator.get_calls()
    assert call["function"]["name"] == "get_weather"
    assert isinstance(call["function"]["arguments"]["city"], str)


async def test_forced_tool_call_streamed_async(python_server_model):
    response = await python_server_model.acall(
        "What is the weather in Oslo?", tool_definitions=forced_weather_tool(), stream=True
    )
    aggregator = await response.aresult()
    [call] = aggregator.get_calls()
    assert call["function"]["name"] == "get_weather"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_full_tool_loop(python_server_model, stream):
    tools = forced_weather_tool()
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    response = python_server_model(messages, tool_definitions=tools, stream=stream)
    aggregator = response.consume()
    for call in aggregator.get_calls():
        function = call["function"]
        aggregator.insert_results(
            call["id"], tools.tools[function["name"]].call(function["arguments"])
        )
    messages += aggregator.get_messages()
    # The assistant message of the round has no text; the server rejects `content: null`.
    assert messages[1]["role"] == "assistant" and messages[1]["content"] is None
    final = python_server_model(
        messages, tool_definitions=ToolDefinitions.from_callables([get_weather])
    )
    assert_text_answer(final)


# -- errors -----------------------------------------------------------------------------------


def test_context_overflow_is_a_bad_request(model):
    with pytest.raises(mf.BadRequestError) as caught:
        model("word " * 3000)
    assert caught.value.status == 400 and "context" in str(caught.value)


def test_invalid_request_is_a_bad_request_not_a_server_error(model, real_server):
    with pytest.raises(mf.BadRequestError) as caught:
        model("Say hi.", extra_body={"top_logprobs": -1})
    if real_server.kind == "llama-cpp-python":
        # It answers request validation errors with HTTP 500; msgflux would retry those.
        assert "validation error" in str(caught.value)
        assert isinstance(caught.value.__cause__, mf.ProviderError)
        assert caught.value.__cause__.status == 500
    else:
        assert caught.value.status == 400 and "top_logprobs" in str(caught.value)


def test_enable_thinking_is_refused_before_sending(model):
    with pytest.raises(mf.UnsupportedParameterError, match="enable_thinking"):
        model("Say hi.", enable_thinking=True)


# -- agent (llama-cpp-python: it calls tools) -------------------------------------------------


class WeatherLog:
    """A tool that remembers its calls, to prove the agent ran it."""

    def __init__(self) -> None:
        self.cities: list[str] = []

    def get_weather(self, city: str) -> str:
        """Get the current weather in a city.

        Args:
            city: The city's name.
        """
        self.cities.append(city)
        return f"sunny, 21 C in {city}"


def weather_agent(model, log: WeatherLog, **config):
    import msgflux.nn as nn

    # The tool choice forces the first call only; the agent's later calls use "auto",
    # which this server answers with text.
    return nn.Agent(
        model,
        instructions="Answer with the weather the tool reports.",
        tools=[log.get_weather],
        config={"tool_choice": "get_weather", **config},
    )


def test_agent_runs_its_tool_and_answers(python_server_model):
    log = WeatherLog()
    result = weather_agent(python_server_model, log, return_messages=True)(
        "What is the weather in Paris?"
    )
    assert isinstance(result.answer, str) and result.answer.strip()
    assert len(log.cities) == 1 and isinstance(log.cities[0], str)
    roles = [message["role"] for message in result.messages]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert result.messages[2]["content"] == f"sunny, 21 C in {log.cities[0]}"


async def test_agent_async(python_server_model):
    log = WeatherLog()
    answer = await weather_agent(python_server_model, log).acall("What is the weather in Rome?")
    assert isinstance(answer, str) and answer.strip()
    assert len(log.cities) == 1


def test_agent_streaming(python_server_model):
    log = WeatherLog()
    response = weather_agent(python_server_model, log, stream=True)("What is the weather in Oslo?")
    chunks = list(response)
    assert "".join(chunks).strip() and response.response_type == "text_generation"
    assert len(log.cities) == 1
    assert [message["role"] for message in response.messages][-2] == "tool"
