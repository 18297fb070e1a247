"""Tool calling, structured generation and typed parsers over the wire (spec 000 sections 8-9)."""

from __future__ import annotations

import json
import warnings

import msgspec
import pytest

import msgflux as mf
from msgflux.generation.reasoning import ChainOfThought, ReAct
from msgflux.testing.server import Reply, ToolCall
from msgflux.tools import ToolDefinitions

WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get weather for a location.",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["location"],
            },
        },
    }
]


def get_weather(location, unit="celsius"):
    """Simulate weather API call."""
    return f"The weather in {location} is 22°{unit[0].upper()}"


@pytest.fixture
def model(loopback_server):
    return mf.Model.chat_completion(
        "openai/gpt-4.1-mini", base_url=loopback_server.base_url, api_key="k"
    )


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (None, None),
        ("auto", "auto"),
        ("required", "required"),
        ("none", "none"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tools_and_tool_choice_on_the_wire(model, loopback_server, choice, sent):
    model("Paris weather", tool_definitions=ToolDefinitions(schemas=WEATHER_TOOLS, choice=choice))
    body = loopback_server.last_request.json
    assert body["tools"] == WEATHER_TOOLS
    assert body.get("tool_choice") == sent


def test_deprecated_tool_keywords_still_work_with_a_warning(model, loopback_server):
    with pytest.warns(DeprecationWarning, match="tool_definitions"):
        model("q", tool_schemas=WEATHER_TOOLS, tool_choice="get_weather")
    body = loopback_server.last_request.json
    assert body["tools"] == WEATHER_TOOLS
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def run_tool_loop(aggregator):
    tool_functions = {"get_weather": get_weather}
    for call in aggregator.get_calls():
        result = tool_functions[call["function"]["name"]](**call["function"]["arguments"])
        aggregator.insert_results(call["id"], result)
    return aggregator.get_messages()


def script_tool_loop(server):
    server.enqueue(
        Reply.calls(ToolCall("get_weather", {"location": "Paris", "unit": "celsius"}, id="call_1")),
        Reply.text("The weather in Paris is currently 22°C."),
    )


def assert_second_request_carries_the_results(server):
    messages = server.last_request.json["messages"]
    assert messages[0] == {"role": "user", "content": "What's the weather in Paris?"}
    assistant, tool = messages[1], messages[2]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"][0]["id"] == "call_1"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {
        "location": "Paris",
        "unit": "celsius",
    }
    assert tool == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "The weather in Paris is 22°C",
    }


def test_full_tool_loop_sync(model, loopback_server):
    script_tool_loop(loopback_server)
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    aggregator = model(
        messages=messages, tool_definitions=ToolDefinitions(schemas=WEATHER_TOOLS)
    ).consume()
    messages.extend(run_tool_loop(aggregator))
    final = model(messages=messages)
    assert final.consume() == "The weather in Paris is currently 22°C."
    assert_second_request_carries_the_results(loopback_server)


async def test_full_tool_loop_async(model, loopback_server):
    script_tool_loop(loopback_server)
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    response = await model.acall(
        messages=messages, tool_definitions=ToolDefinitions(schemas=WEATHER_TOOLS)
    )
    messages.extend(run_tool_loop(response.consume()))
    final = await model.acall(messages=messages)
    assert final.consume() == "The weather in Paris is currently 22°C."
    assert_second_request_carries_the_results(loopback_server)


def test_full_tool_loop_streaming(model, loopback_server):
    script_tool_loop(loopback_server)
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    response = model(
        messages=messages, tool_definitions=ToolDefinitions(schemas=WEATHER_TOOLS), stream=True
    )
    messages.extend(run_tool_loop(response.consume()))
    final = model(messages=messages, stream=True)
    assert "".join(final) == "The weather in Paris is currently 22°C."
    assert_second_request_carries_the_results(loopback_server)


async def test_full_tool_loop_async_streaming(model, loopback_server):
    script_tool_loop(loopback_server)
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    response = await model.acall(
        messages=messages, tool_definitions=ToolDefinitions(schemas=WEATHER_TOOLS), stream=True
    )
    messages.extend(run_tool_loop(await response.aresult()))
    final = await model.acall(messages=messages, stream=True)
    assert (
        "".join([chunk async for chunk in final.consume()])
        == "The weather in Paris is currently 22°C."
    )
    assert_second_request_carries_the_results(loopback_server)


class Address(msgspec.Struct):
    street: str
    city: str
    country: str


class Person(msgspec.Struct):
    name: str
    age: int
    address: Address
    scores: dict[str, int] = {}


def test_structured_output_request_and_decoding(model, loopback_server):
    answer = {
        "name": "John Doe",
        "age": 30,
        "address": {"street": "123 Main St", "city": "New York", "country": "USA"},
        "scores": [{"key": "math", "value": 9}],
    }
    loopback_server.enqueue(Reply.text(json.dumps(answer)))
    response = model(
        "John Doe, 30 years old, lives at 123 Main St, New York, USA.",
        system_prompt="Extract person information.",
        generation_schema=Person,
    )
    assert response.response_type == "structured"
    person = response.consume()
    assert person == {**answer, "scores": {"math": 9}}  # the lowered dict field is restored
    assert person.address.city == "New York"
    response_format = loopback_server.last_request.json["response_format"]
    assert response_format["type"] == "json_schema"
    schema = response_format["json_schema"]
    assert schema["name"] == "Person" and schema["strict"] is True
    assert schema["schema"]["additionalProperties"] is False
    assert set(schema["schema"]["required"]) == {"name", "age", "address", "scores"}


def test_undecodable_structured_output_keeps_the_raw_text(model, loopback_server):
    loopback_server.enqueue(Reply.text('{"name": "John", "age": "thirty"'))
    with pytest.raises(mf.StructuredOutputError) as caught:
        model("q", generation_schema=Person)
    assert caught.value.raw_text == '{"name": "John", "age": "thirty"'


def test_reasoning_stays_apart_from_structured_output(model, loopback_server):
    loopback_server.enqueue(
        Reply.text(
            json.dumps({"reasoning": "25*4=100, +17", "final_answer": "117"}),
            reasoning="internal trace",
            reasoning_field="reasoning",
        )
    )
    response = model("What is 25 * 4 + 17?", generation_schema=ChainOfThought)
    assert response.consume() == {"reasoning": "25*4=100, +17", "final_answer": "117"}
    assert response.consume_reasoning() == "internal trace"


def test_plan_aliases_are_the_reasoning_schemas():
    assert mf.generation.plan.ChainOfThoughts is ChainOfThought
    assert mf.generation.plan.ReAct is ReAct


def test_react_with_tools_sends_the_schema_instead_of_tools(model, loopback_server):
    loopback_server.enqueue(
        Reply.text(
            json.dumps(
                {
                    "thought": "look it up",
                    "actions": [
                        {"name": "get_weather", "arguments": {"location": "Paris", "unit": None}}
                    ],
                    "final_answer": None,
                }
            )
        )
    )
    response = model(
        "Weather in Paris?",
        generation_schema=ReAct,
        tool_definitions=ToolDefinitions(schemas=WEATHER_TOOLS),
    )
    body = loopback_server.last_request.json
    assert "tools" not in body and "tool_choice" not in body
    assert body["response_format"]["type"] == "json_schema"
    result = response.consume()
    assert result.actions[0].name == "get_weather"


def test_typed_xml_parser(model, loopback_server):
    parser = mf.dsl.typed_parsers.typed_parser_registry["typed_xml"]
    loopback_server.enqueue(
        Reply.text(
            '<name type="str">science fair</name><date type="str">Friday</date>'
            '<participants type="list[str]"><item>Alice</item><item>Bob</item></participants>'
        )
    )
    response = model(
        "Alice and Bob...", system_prompt=parser.render("name: str"), typed_parser="typed_xml"
    )
    assert response.response_type == "structured"
    assert response.consume()["participants"] == ["Alice", "Bob"]


def test_unknown_typed_parser_lists_the_available_ones(model):
    with pytest.raises(ValueError, match="typed_xml"):
        model("q", typed_parser="yaml")


def test_validate_typed_parser_output_against_the_schema(loopback_server):
    model = mf.Model.chat_completion(
        "openai/m",
        base_url=loopback_server.base_url,
        api_key="k",
        validate_typed_parser_output=True,
    )

    class Event(msgspec.Struct):
        name: str
        attendees: int

    loopback_server.enqueue(
        Reply.text('<name type="str">fair</name><attendees type="str">many</attendees>')
    )
    with pytest.raises(mf.StructuredOutputError) as caught:
        model("q", typed_parser="typed_xml", generation_schema=Event)
    assert "many" in caught.value.raw_text


def test_no_warning_for_the_current_tool_api(model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model("q", tool_definitions=ToolDefinitions(schemas=WEATHER_TOOLS))
