"""Every example of spec 002 (Reasoning), run against the loopback server.

Each example's ``groq/openai/gpt-oss-120b`` / ``openai/gpt-4.1-mini`` model is a model of the
OpenAI provider pointed at the loopback server (``model_for``); the server plays the model's
answers, and the requests it received show what the agent sent.
"""

# Agents are declared with class attributes, as the spec does (`config = {...}`).

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest

import msgflux as mf
import msgflux.nn as nn
from msgflux import ProviderSpec, hookimpl
from msgflux.dotdict import dotdict
from msgflux.generation.reasoning import ChainOfThought
from msgflux.models.response import ModelStreamResponse
from msgflux.plugins import registered_plugin
from msgflux.testing.server import Reply, ToolCall

# -- section 1: configuration -------------------------------------------------------------------


class BudgetProvider:
    """An OpenAI-compatible provider with a reasoning budget knob (as Groq's plugin has one)."""

    @hookimpl
    def register_providers(self):
        return [ProviderSpec(name="budget", extends="openai", api_key_required=False)]

    @hookimpl
    def adapt_params(self, params):
        budget = params.pop("reasoning_max_tokens", None)
        if budget is not None:
            params["extra_body"] = {**params.get("extra_body", {}), "reasoning_budget": budget}
        return params


def test_1_configuration_model_level_reasoning_and_reasoning_in_response(server):
    with registered_plugin(BudgetProvider(), "budget"):
        llm = mf.Model.chat_completion(
            "budget/openai/gpt-oss-120b",
            base_url=server.base_url,
            api_key="k",
            reasoning_effort="low",
            return_reasoning=True,
            reasoning_max_tokens=1024,
            reasoning_in_tool_call=True,
        )

        class Solver(nn.Agent):
            model = llm
            instructions = "Solve the problem step by step."
            config = {"reasoning_in_response": True}

        server.enqueue(Reply.text("108", reasoning="15 * 7 = 105, then 105 + 3 = 108"))
        response = Solver()("What is 15 * 7 + 3?")

    assert response == {"answer": "108", "reasoning": "15 * 7 = 105, then 105 + 3 = 108"}
    sent = server.last_request.json
    assert sent["model"] == "openai/gpt-oss-120b"
    assert sent["reasoning_effort"] == "low"
    assert sent["reasoning_budget"] == 1024
    assert sent["messages"] == [
        {"role": "system", "content": "Solve the problem step by step."},
        {"role": "user", "content": "What is 15 * 7 + 3?"},
    ]


# -- section 2: non-streaming -------------------------------------------------------------------


def test_2_basic_usage_returns_the_answer_alone(server, model_for):
    llm = model_for(reasoning_effort="low", return_reasoning=True)

    class Solver(nn.Agent):
        model = llm
        instructions = "Solve the problem. Answer with just the result."

    server.enqueue(Reply.text("108", reasoning="15 * 7 = 105, then 105 + 3 = 108"))
    agent = Solver()
    response = agent("What is 15 * 7 + 3?")

    assert type(response) is str
    assert response == "108"
    assert server.last_request.json["reasoning_effort"] == "low"


def test_2_reasoning_in_response_wraps_answer_and_reasoning(server, model_for):
    llm = model_for(reasoning_effort="low", return_reasoning=True)

    class Solver(nn.Agent):
        model = llm
        instructions = "Solve the problem. Answer with just the result."
        config = {"reasoning_in_response": True}

    server.enqueue(
        Reply.text("108", reasoning="15 * 7 = 105, then 105 + 3 = 108", reasoning_field="reasoning")
    )
    response = Solver()("What is 15 * 7 + 3?")

    assert type(response) is dotdict
    assert response.answer == "108"
    assert response.reasoning == "15 * 7 = 105, then 105 + 3 = 108"
    assert set(response) == {"answer", "reasoning"}


def test_2_without_reasoning_there_is_no_wrapping(server, model_for):
    llm = model_for(reasoning_effort="low", return_reasoning=False)

    class Solver(nn.Agent):
        model = llm
        instructions = "Solve the problem."
        config = {"reasoning_in_response": True}

    # The provider reasons, but return_reasoning=False discards it: a plain str comes back.
    server.enqueue(Reply.text("4", reasoning="2 + 2 = 4"))
    response = Solver()("What is 2 + 2?")
    assert type(response) is str
    assert response == "4"

    # A model that does not reason at all: the same.
    plain_model = model_for(reasoning_effort="low")
    server.enqueue(Reply.text("4"))
    assert Solver(plain_model)("What is 2 + 2?") == "4"


async def test_2_async_reasoning_in_response(server, model_for):
    llm = model_for(reasoning_effort="low", return_reasoning=True)

    class Solver(nn.Agent):
        model = llm
        instructions = "Solve the problem. Answer with just the result."
        config = {"reasoning_in_response": True}

    server.enqueue(Reply.text("108", reasoning="15 * 7 = 105, then 105 + 3 = 108"))
    agent = Solver()
    response = await agent.acall("What is 15 * 7 + 3?")

    assert response.answer == "108"
    assert response.reasoning == "15 * 7 = 105, then 105 + 3 = 108"


# -- section 3: streaming -----------------------------------------------------------------------


def streaming_assistant(model_for):
    llm = model_for(reasoning_effort="low", return_reasoning=True)

    class Assistant(nn.Agent):
        model = llm
        instructions = "Answer concisely."
        config = {"stream": True}

    return Assistant


async def test_3_consume_content_then_reasoning(server, model_for):
    Assistant = streaming_assistant(model_for)
    server.enqueue(Reply.text("2 + 2 = 4.", reasoning="Add two and two."))
    agent = Assistant()
    response = await agent.acall("What is 2+2?")

    assert isinstance(response, ModelStreamResponse)
    content = [chunk async for chunk in response.consume()]
    reasoning = [chunk async for chunk in response.consume_reasoning()]
    assert content == ["2", " +", " 2", " =", " 4."]
    assert "".join(reasoning) == "Add two and two."
    assert server.last_request.json["stream"] is True


async def test_3_reasoning_can_be_read_before_the_answer(server, model_for):
    Assistant = streaming_assistant(model_for)
    server.enqueue(Reply.text("108", reasoning="15 * 7 = 105; 105 + 3 = 108"))
    response = await Assistant().acall("Solve: 15 * 7 + 3")

    thinking = "".join([chunk async for chunk in response.consume_reasoning()])
    answer = "".join([chunk async for chunk in response.consume()])
    assert (thinking, answer) == ("15 * 7 = 105; 105 + 3 = 108", "108")


def test_3_sync_stream_runs_in_the_background_and_fills_the_fields(server, model_for):
    Assistant = streaming_assistant(model_for)
    server.enqueue(Reply.text("4", reasoning="two plus two", chunk_delay=0.01))
    agent = Assistant()
    response = agent("What is 2+2?")

    # first_chunk_event fires on the first token (here reasoning)
    assert response.first_chunk_event.wait(timeout=10)
    assert response.has_reasoning is True

    # the spec's polling loop, as written
    for _ in range(50):
        if response.metadata is not None:
            break
        time.sleep(0.1)

    assert response.metadata is not None
    assert response.reasoning == "two plus two"
    assert response.has_reasoning is True
    assert response.data == "4"


async def test_3_reasoning_in_response_has_no_effect_when_streaming(server, model_for):
    llm = model_for(reasoning_effort="low")

    class Assistant(nn.Agent):
        model = llm
        config = {"stream": True, "reasoning_in_response": True}

    server.enqueue(Reply.text("4", reasoning="2+2"))
    response = await Assistant().acall("What is 2+2?")
    assert isinstance(response, ModelStreamResponse)
    assert await response.aresult() == "4"
    assert response.reasoning == "2+2"


# -- section 4: reasoning across tool calls -----------------------------------------------------


def add(a: int, b: int) -> int:
    """Add two numbers together."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two numbers together."""
    return a * b


def calculator_model(model_for):
    return model_for(
        reasoning_effort="high",
        return_reasoning=True,
        reasoning_in_tool_call=True,
    )


def enqueue_calculation(server, final_reasoning: str | None = "3+5=8, 8*4=32"):
    server.enqueue(
        Reply.calls(
            ToolCall("add", {"a": 3, "b": 5}, id="call_1"),
            reasoning="I need (3 + 5) first, then multiply by 4.",
        ),
        Reply.calls(
            ToolCall("multiply", {"a": 8, "b": 4}, id="call_2"),
            reasoning="3 + 5 = 8. Now 8 * 4.",
        ),
        Reply.text("32", reasoning=final_reasoning),
    )


def assert_calculation_requests(server):
    first, second, third = (request.json for request in server.requests)
    assert [tool["function"]["name"] for tool in first["tools"]] == ["add", "multiply"]
    add_schema = first["tools"][0]["function"]
    assert add_schema["description"] == "Add two numbers together."
    assert add_schema["parameters"]["properties"] == {
        "a": {"type": "integer"},
        "b": {"type": "integer"},
    }
    # Each round sends the model's own reasoning back in <think> tags, then the result.
    assistant, tool = second["messages"][-2:]
    assert assistant["content"] == "<think>I need (3 + 5) first, then multiply by 4.</think>"
    assert assistant["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "add", "arguments": '{"a":3,"b":5}'},
        }
    ]
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "8"}
    assert third["messages"][-2]["content"] == "<think>3 + 5 = 8. Now 8 * 4.</think>"
    assert third["messages"][-1] == {"role": "tool", "tool_call_id": "call_2", "content": "32"}


def test_4_tools_with_reasoning_in_tool_call(server, model_for):
    llm = calculator_model(model_for)

    class Calculator(nn.Agent):
        model = llm
        instructions = "Use the tools to compute the result. Answer with just the number."
        tools = [add, multiply]

    enqueue_calculation(server)
    agent = Calculator()
    response = agent("What is (3 + 5) * 4?")

    assert response == "32"
    assert_calculation_requests(server)


@pytest.mark.parametrize("final_reasoning", ["3+5=8, 8*4=32", None])
def test_4_reasoning_in_response_depends_on_the_final_call(server, model_for, final_reasoning):
    llm = calculator_model(model_for)

    class Calculator(nn.Agent):
        model = llm
        instructions = "Use the tools to compute the result. Answer with just the number."
        tools = [add, multiply]
        config = {"reasoning_in_response": True}

    enqueue_calculation(server, final_reasoning)
    agent = Calculator()
    response = agent("What is (3 + 5) * 4?")

    if final_reasoning is not None:
        assert isinstance(response, dict)
        assert response.answer == "32"
        # only the final call's trace: the earlier rounds' reasoning went to the history
        assert response.reasoning == "3+5=8, 8*4=32"
    else:
        assert response == "32"
        assert type(response) is str


async def test_4_async_tool_loop(server, model_for):
    llm = calculator_model(model_for)

    class Calculator(nn.Agent):
        model = llm
        instructions = "Use the tools to compute the result. Answer with just the number."
        tools = [add, multiply]

    enqueue_calculation(server)
    agent = Calculator()
    response = await agent.acall("What is (3 + 5) * 4?")
    assert response == "32"
    assert_calculation_requests(server)


# -- section 5: combining with generation schemas -----------------------------------------------


def test_5_model_level_reasoning_only(server, model_for):
    llm = model_for(reasoning_effort="high", return_reasoning=True)

    class Solver(nn.Agent):
        model = llm
        instructions = "Solve the problem."
        config = {"reasoning_in_response": True}

    server.enqueue(Reply.text("117", reasoning="25 * 4 = 100, 100 + 17 = 117"))
    response = Solver()("What is 25 * 4 + 17?")
    assert response.answer == "117"
    assert response.reasoning == "25 * 4 = 100, 100 + 17 = 117"


COT_ANSWER = {"reasoning": "Step 1: 25 * 4 = 100. Step 2: 100 + 17 = 117.", "final_answer": "117"}


def test_5_schema_level_reasoning_only(server, model_for):
    llm = model_for("gpt-4.1-mini")  # no reasoning_effort

    class Solver(nn.Agent):
        model = llm
        generation_schema = ChainOfThought

    server.enqueue(Reply.text(msgspec.json.encode(COT_ANSWER).decode()))
    agent = Solver()
    result = agent("What is 25 * 4 + 17?")

    assert result.reasoning == "Step 1: 25 * 4 = 100. Step 2: 100 + 17 = 117."
    assert result.final_answer == "117"
    response_format = server.last_request.json["response_format"]
    assert response_format["type"] == "json_schema"
    assert set(response_format["json_schema"]["schema"]["properties"]) == {
        "reasoning",
        "final_answer",
    }


@pytest.mark.parametrize("call", ["sync", "async"])
def test_5_both_kinds_of_reasoning_combined(server, model_for, call):
    llm = model_for(reasoning_effort="high", return_reasoning=True)

    class Solver(nn.Agent):
        model = llm
        generation_schema = ChainOfThought
        config = {"reasoning_in_response": True}

    trace = "The user asks 25*4+17. Let me compute..."
    server.enqueue(Reply.text(msgspec.json.encode(COT_ANSWER).decode(), reasoning=trace))
    agent = Solver()
    response = (
        agent("What is 25 * 4 + 17?")
        if call == "sync"
        else asyncio.run(agent.acall("What is 25 * 4 + 17?"))
    )

    assert response.answer == COT_ANSWER  # the schema's fields
    assert type(response.answer) is dotdict
    assert response.answer.final_answer == "117"
    assert response.reasoning == trace  # the model's own trace


# -- section 6: verbose -------------------------------------------------------------------------


def test_6_verbose_prints_reasoning_then_response(server, model_for, capsys):
    llm = model_for(reasoning_effort="low")

    class Solver(nn.Agent):
        model = llm
        instructions = "Solve the problem."
        config = {"verbose": True}

    server.enqueue(Reply.text("105", reasoning="15 * 7 = 105"))
    agent = Solver()
    assert agent("What is 15 * 7?") == "105"
    assert capsys.readouterr().out == "[solver][reasoning] 15 * 7 = 105\n[solver][response] 105\n"


def test_6_verbose_is_silent_by_default(server, model_for, capsys):
    class Solver(nn.Agent):
        model = model_for()

    server.enqueue(Reply.text("105", reasoning="15 * 7 = 105"))
    Solver()("What is 15 * 7?")
    assert capsys.readouterr().out == ""


# -- section 7: quick reference -----------------------------------------------------------------


def test_7_quick_reference_response_api(server, model_for):
    llm = model_for(reasoning_effort="low")

    class Plain(nn.Agent):
        model = llm
        config = {"return_messages": True}

    class Streamed(nn.Agent):
        model = llm
        config = {"stream": True}

    server.enqueue(Reply.text("4", reasoning="2+2"), Reply.text("4", reasoning="2+2"))
    plain = Plain()("2+2?")
    assert plain.answer == "4" and "reasoning" not in plain  # reasoning_in_response is opt-in

    streamed = Streamed()("2+2?")
    assert streamed.result() == "4"
    assert streamed.reasoning == "2+2" and streamed.has_reasoning is True
