"""Tools on the wire: definitions, every tool_choice form, parallel calls, results."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from msgflux.errors import UnsupportedParameterError
from msgflux.testing.server import Reply, ToolCall
from msgflux.tools import ToolDefinitions

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


def _tools(choice: Any = None) -> ToolDefinitions:
    return ToolDefinitions(schemas=[WEATHER, TIME], choice=choice)


def test_tools_are_sent_with_input_schema_and_without_strict_by_default(server, make):
    make()("q", tool_definitions=_tools())

    assert server.last_request.json["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather in a city.",
            "input_schema": WEATHER["function"]["parameters"],
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in server.last_request.json


def test_strict_tools_option_sends_strict(server, make):
    make(strict_tools=True)("q", tool_definitions=_tools())

    assert [tool.get("strict") for tool in server.last_request.json["tools"]] == [True, None]


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ("get_time", {"type": "tool", "name": "get_time"}),
    ],
)
def test_every_tool_choice_form(server, make, choice, sent):
    make()("q", tool_definitions=_tools(choice))

    assert server.last_request.json["tool_choice"] == sent


def test_parallel_tool_calls_false_disables_parallel_tool_use(server, make):
    make()("q", tool_definitions=_tools("required"), parallel_tool_calls=False)

    assert server.last_request.json["tool_choice"] == {
        "type": "any",
        "disable_parallel_tool_use": True,
    }
    make()("q", tool_definitions=_tools(), parallel_tool_calls=False)
    assert server.last_request.json["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }


@pytest.mark.parametrize("choice", ["required", "get_time"])
def test_a_forced_tool_choice_with_thinking_is_refused_unsent(server, make, choice):
    with pytest.raises(UnsupportedParameterError, match="tool_choice"):
        make()("q", tool_definitions=_tools(choice), enable_thinking=True)

    assert server.requests == []


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_parallel_calls_and_their_results_in_one_user_turn(server, make, stream):
    model = make()
    server.enqueue(
        Reply.calls(
            ToolCall("get_weather", {"city": "Paris"}, id="toolu_1"),
            ToolCall("get_time", {}, id="toolu_2"),
            content="Checking.",
        ),
        Reply.text("Sunny at noon."),
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Paris weather and time?"}]

    response = model(messages, tool_definitions=_tools(), stream=stream)
    aggregator = response.result() if stream else response.consume()
    assert response.metadata.finish_reason == "tool_calls"
    assert aggregator.content == "Checking."
    assert aggregator.get_calls() == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
        },
        {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": {}}},
    ]
    aggregator.insert_results({"toolu_1": {"sky": "sunny"}, "toolu_2": "12:00"})
    messages += aggregator.get_messages()
    assert "provider_data" not in messages[1]  # no thinking: nothing provider-only to carry

    assert model(messages, tool_definitions=_tools()).consume() == "Sunny at noon."
    sent = server.last_request.json["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
        ],
    }
    assert sent[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"sky":"sunny"}'},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "12:00"},
        ],
    }


def test_structured_output_into_a_struct_by_json_outputs(server, make):
    class Weather(msgspec.Struct):
        city: str
        celsius: int

    server.enqueue(Reply.text('{"city": "Paris", "celsius": 21}'))

    answer = make()("Weather?", generation_schema=Weather).consume()

    assert (answer.city, answer.celsius) == ("Paris", 21)
    output = server.last_request.json["output_config"]["format"]
    assert output["type"] == "json_schema"
    assert output["schema"]["required"] == ["city", "celsius"]
    assert "tools" not in server.last_request.json


def test_structured_output_combines_with_thinking(server, make):
    class Answer(msgspec.Struct):
        value: int

    server.enqueue(Reply.text('{"value": 108}', reasoning="15*7=105, +3"))

    response = make()("15*7+3?", generation_schema=Answer, enable_thinking=True)

    assert response.consume().value == 108 and response.reasoning == "15*7=105, +3"
    assert server.last_request.json["thinking"]["type"] == "enabled"
