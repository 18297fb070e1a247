"""Streaming agents with tools: the relay of several model streams into one response.

Among them, the combinations an earlier implementation crashed on: streaming + reasoning +
tools, and a model stream that sends text and then tool calls.
"""

# Agents are declared with class attributes, as the spec does (`config = {...}`).

from __future__ import annotations

import asyncio
import threading

import pytest

import msgflux as mf
import msgflux.nn as nn
from msgflux.nn import TURN_SEPARATOR, AgentStreamResponse, ToolTurnLimitError
from msgflux.testing.server import Reply, ToolCall, Usage

SEP = TURN_SEPARATOR


def get_weather(city: str) -> str:
    """Get the current weather of a city.

    Args:
        city: The city's name.
    """
    return f"sunny in {city}"


def weather_agent(llm, **config):
    class Forecaster(nn.Agent):
        model = llm
        instructions = "Use the tools."
        tools = [get_weather]

    return Forecaster(config={"stream": True, **config})


async def read_all(response) -> tuple[list[str], list[str]]:
    content = [chunk async for chunk in response.consume()]
    reasoning = [chunk async for chunk in response.consume_reasoning()]
    return content, reasoning


# -- streaming + reasoning + tools ---------------------------------------------------------------


def enqueue_reasoning_then_tools(server):
    server.enqueue(
        Reply.calls(
            ToolCall("get_weather", {"city": "Paris"}, id="call_1"),
            reasoning="I need the weather tool.",
        ),
        Reply.text("It is sunny in Paris.", reasoning="The tool says sunny."),
    )


def assert_second_request_has_the_tool_round(server):
    messages = server.requests[1].json["messages"]
    assert messages[-2]["role"] == "assistant"
    assert messages[-2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny in Paris"}


def test_sync_stream_with_reasoning_and_tools(server, model_for):
    llm = model_for(reasoning_effort="low", reasoning_in_tool_call=True)
    gate = threading.Event()
    ran = []

    def get_weather(city: str) -> str:
        """Get the weather."""
        assert gate.wait(10)  # the tool runs only after the caller got the stream
        ran.append(city)
        return f"sunny in {city}"

    agent = nn.Agent(llm, tools=[get_weather], config={"stream": True})
    enqueue_reasoning_then_tools(server)
    response = agent("Weather in Paris?")

    # The call returned on the first reasoning chunk, before the tool ran.
    assert isinstance(response, AgentStreamResponse)
    assert response.has_reasoning and ran == []
    gate.set()
    assert "".join(response) == "It is sunny in Paris."
    assert "".join(response.iter_reasoning()) == (
        "I need the weather tool." + SEP + "The tool says sunny."
    )
    assert ran == ["Paris"]
    assert response.response_type == "text_generation"
    assert response.data == "It is sunny in Paris."
    assert_second_request_has_the_tool_round(server)
    # the model's own reasoning went back to it in <think> tags
    assert server.requests[1].json["messages"][-2]["content"] == (
        "<think>I need the weather tool.</think>"
    )


async def test_async_stream_with_reasoning_and_tools(server, model_for):
    llm = model_for(reasoning_effort="low")
    enqueue_reasoning_then_tools(server)
    response = await weather_agent(llm).acall("Weather in Paris?")

    content, reasoning = await read_all(response)
    assert "".join(content) == "It is sunny in Paris."
    assert "".join(reasoning) == "I need the weather tool." + SEP + "The tool says sunny."
    assert response.reasoning == "I need the weather tool." + SEP + "The tool says sunny."
    assert_second_request_has_the_tool_round(server)


async def test_reasoning_is_readable_before_the_answer_across_tool_rounds(server, model_for):
    llm = model_for(reasoning_effort="low")
    enqueue_reasoning_then_tools(server)
    response = await weather_agent(llm).acall("Weather in Paris?")
    reasoning = "".join([chunk async for chunk in response.consume_reasoning()])
    content = "".join([chunk async for chunk in response.consume()])
    assert (reasoning, content) == (
        "I need the weather tool." + SEP + "The tool says sunny.",
        "It is sunny in Paris.",
    )


def test_return_reasoning_false_streams_no_reasoning(server, model_for):
    llm = model_for(reasoning_effort="low", return_reasoning=False)
    enqueue_reasoning_then_tools(server)
    response = weather_agent(llm)("Weather in Paris?")
    assert "".join(response) == "It is sunny in Paris."
    assert list(response.iter_reasoning()) == []
    assert response.reasoning is None and response.has_reasoning is False


# -- text, then tool calls, in one model stream -------------------------------------------------


def enqueue_text_then_tools(server):
    server.enqueue(
        Reply.calls(
            ToolCall("get_weather", {"city": "Paris"}, id="call_1"),
            content="Let me check the weather.",
        ),
        Reply.text("It is sunny in Paris."),
    )


def assert_text_and_calls_kept(server, response):
    # The preamble was streamed, and it stays in the history with the calls it came with.
    assert response.data == "Let me check the weather." + SEP + "It is sunny in Paris."
    assistant = server.requests[1].json["messages"][-2]
    assert assistant["content"] == "Let me check the weather."
    assert assistant["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert_second_request_has_the_tool_round(server)
    assert response.messages[-1] == {"role": "assistant", "content": "It is sunny in Paris."}
    assert [m["role"] for m in response.messages] == ["user", "assistant", "tool", "assistant"]


def test_sync_stream_text_then_tool_calls_loses_neither(server, model_for):
    enqueue_text_then_tools(server)
    response = weather_agent(model_for())("Weather in Paris?")
    chunks = list(response)
    assert chunks[0] == "Let"
    assert SEP in chunks
    assert response.response_type == "text_generation"  # never a tool-call response
    assert_text_and_calls_kept(server, response)


async def test_async_stream_text_then_tool_calls_loses_neither(server, model_for):
    enqueue_text_then_tools(server)
    response = await weather_agent(model_for()).acall("Weather in Paris?")
    content, _ = await read_all(response)
    assert "".join(content) == "Let me check the weather." + SEP + "It is sunny in Paris."
    assert_text_and_calls_kept(server, response)


async def test_stream_of_parallel_interleaved_calls_runs_them_all(server, model_for):
    barrier = asyncio.Barrier(2)

    async def lookup(city: str) -> str:
        """Look a city up."""
        async with asyncio.timeout(10):
            await barrier.wait()  # both calls must be running at the same time
        return city.upper()

    server.enqueue(
        Reply.calls(
            ToolCall("lookup", {"city": "Paris"}, id="a"),
            ToolCall("lookup", {"city": "Rome"}, id="b"),
            interleave_tool_calls=True,
        ),
        Reply.text("done"),
    )
    agent = nn.Agent(model_for(), tools=[lookup], config={"stream": True})
    response = await agent.acall("Paris and Rome")
    assert await response.aresult() == "done"
    tools = [m for m in server.requests[1].json["messages"] if m["role"] == "tool"]
    assert tools == [
        {"role": "tool", "tool_call_id": "a", "content": "PARIS"},
        {"role": "tool", "tool_call_id": "b", "content": "ROME"},
    ]


# -- failures -------------------------------------------------------------------------------------


def test_a_failure_before_any_chunk_raises_from_the_call(server, model_for):
    server.enqueue(Reply.error(400, "bad request"))
    agent = weather_agent(model_for())
    with pytest.raises(mf.BadRequestError, match="bad request"):
        agent("Weather?")


async def test_a_failure_before_any_chunk_raises_from_acall(server, model_for):
    server.enqueue(Reply.error(400, "bad request"))
    with pytest.raises(mf.BadRequestError, match="bad request"):
        await weather_agent(model_for()).acall("Weather?")


async def test_a_failure_after_the_first_chunk_reaches_the_reader(server, model_for):
    server.enqueue(
        Reply.calls(ToolCall("get_weather", {"city": "Paris"}), content="Let me check."),
        Reply.error(400, "context too long"),
    )
    response = await weather_agent(model_for()).acall("Weather?")
    received = []
    with pytest.raises(mf.BadRequestError, match="context too long"):
        async for chunk in response.consume():
            received.append(chunk)
    assert "".join(received) == "Let me check."
    assert isinstance(response.error, mf.BadRequestError)


def test_tool_turn_limit_before_any_chunk_raises_from_the_call(server, model_for):
    call = Reply.calls(ToolCall("get_weather", {"city": "Paris"}))
    server.enqueue(call, call, call)
    agent = weather_agent(model_for(), max_tool_turns=2)
    with pytest.raises(ToolTurnLimitError, match="after 2 round"):
        agent("Weather?")
    assert len(server.requests) == 3


async def test_tool_turn_limit_after_chunks_reaches_the_reader(server, model_for):
    call = Reply.calls(ToolCall("get_weather", {"city": "Paris"}), content="Checking.")
    server.enqueue(call, call)
    response = await weather_agent(model_for(), max_tool_turns=1).acall("Weather?")
    with pytest.raises(ToolTurnLimitError) as caught:
        await response.aresult()
    assert caught.value.max_tool_turns == 1
    assert caught.value.calls[0]["function"]["name"] == "get_weather"
    assert response.data == "Checking." + SEP + "Checking."


# -- what else the relay carries -----------------------------------------------------------------


def test_metadata_sums_usage_over_the_model_calls(server, model_for):
    server.enqueue(
        Reply.calls(
            ToolCall("get_weather", {"city": "Paris"}),
            usage=Usage(prompt_tokens=10, completion_tokens=5),
        ),
        Reply.text("sunny", usage=Usage(prompt_tokens=20, completion_tokens=1)),
    )
    response = weather_agent(model_for())("Weather?")
    response.wait(10)
    assert response.metadata.usage.prompt_tokens == 30
    assert response.metadata.usage.completion_tokens == 6
    assert response.metadata.usage.total_tokens == 36
    assert response.metadata.finish_reason == "stop"


def test_verbose_streaming_agent_prints_each_step(server, model_for, capsys):
    enqueue_reasoning_then_tools(server)
    response = weather_agent(model_for(reasoning_effort="low"), verbose=True)("Weather?")
    response.result()
    assert capsys.readouterr().out.splitlines() == [
        "[forecaster][reasoning] I need the weather tool.",
        '[forecaster][tool_call] get_weather {"city":"Paris"}',
        "[forecaster][tool_result] get_weather -> sunny in Paris",
        "[forecaster][reasoning] The tool says sunny.",
        "[forecaster][response] It is sunny in Paris.",
    ]


async def test_closing_during_a_tool_round_stops_the_run(server, model_for):
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(x: int) -> int:
        """Slow tool."""
        started.set()
        await release.wait()
        return x

    server.enqueue(
        Reply.calls(ToolCall("slow", {"x": 1}), content="Working on it."),
        Reply.text("never asked for"),
    )
    agent = nn.Agent(model_for(), tools=[slow], config={"stream": True})
    response = await agent.acall("go")
    await started.wait()
    await response.aclose()  # cancels the run while its tool is running
    assert response.done and response.error is None
    assert response.data == "Working on it."
    assert len(server.requests) == 1  # no model call after the close


def test_one_streaming_agent_serves_many_threads(server, model_for):
    server.set_handler(lambda request: Reply.echo(request, reasoning="thinking"))
    agent = nn.Agent(model_for(), config={"stream": True})
    results: dict[int, str] = {}

    def run(i: int) -> None:
        results[i] = "".join(agent(f"task {i}"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {i: f"echo: task {i}" for i in range(6)}


def test_closing_a_sync_stream_during_a_tool_round_stops_before_the_next_call(server, model_for):
    started, release = threading.Event(), threading.Event()

    def slow(x: int) -> int:
        """Slow tool."""
        started.set()
        assert release.wait(10)
        return x

    server.enqueue(
        Reply.calls(ToolCall("slow", {"x": 1}), content="Working on it."),
        Reply.text("never asked for"),
    )
    response = nn.Agent(model_for(), tools=[slow], config={"stream": True})("go")
    assert started.wait(10)
    response.close()
    release.set()  # a running sync tool cannot be interrupted: the run stops after it
    assert response.wait(10)
    assert response.error is None
    assert response.data == "Working on it."
    assert len(server.requests) == 1
