"""Built-in reasoning schemas: ChainOfThought, SelfConsistency, ReAct (tool flow control)."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
import pytest

import msgflux.generation as generation
from msgflux.errors import StructuredOutputError
from msgflux.generation import structured_output
from msgflux.generation.flow_control import is_tool_flow_control, strict_json_schema
from msgflux.generation.reasoning import ChainOfThought, ReAct, SelfConsistency
from msgflux.tools import ToolDefinitions

WEATHER = {
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
CALC = {
    "type": "function",
    "function": {
        "name": "calculate",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
            "additionalProperties": False,
        },
    },
}


def test_plan_aliases_are_the_canonical_classes():
    assert generation.plan.ChainOfThoughts is ChainOfThought
    assert generation.plan.ReAct is ReAct
    assert generation.plan.SelfConsistency is SelfConsistency
    assert generation.reasoning.ChainOfThought is ChainOfThought


def test_chain_of_thought(strict_form: Any):
    output = structured_output(ChainOfThought)
    strict_form(output.json_schema)
    assert output.json_schema["required"] == ["reasoning", "final_answer"]
    result = output.decode('{"reasoning": "25*4=100, +17", "final_answer": "117"}')
    assert result.reasoning == "25*4=100, +17" and result.final_answer == "117"


def test_self_consistency(strict_form: Any):
    output = structured_output(SelfConsistency)
    strict_form(output.json_schema)
    result = output.decode(
        '{"paths": [{"reasoning": "a", "answer": "117"}, {"reasoning": "b", "answer": "117"}],'
        ' "final_answer": "117"}'
    )
    assert [p.answer for p in result.paths] == ["117", "117"] and result.final_answer == "117"


def test_react_without_tools_takes_arguments_as_json_text(strict_form: Any):
    output = structured_output(ReAct)
    strict_form(output.json_schema)
    assert output.strict is True and output.consumes_tools is False
    assert output.json_schema["properties"]["actions"]["items"]["properties"]["arguments"] == {
        "type": "string",
        "description": 'The tool\'s arguments as a JSON object, e.g. {"city": "Paris"}.',
    }
    wire = {
        "thought": "I need the weather.",
        "actions": [{"name": "get_weather", "arguments": '{"location": "Paris"}'}],
        "final_answer": None,
    }
    assert output.decode(json.dumps(wire)) == {
        "thought": "I need the weather.",
        "actions": [{"name": "get_weather", "arguments": {"location": "Paris"}}],
        "final_answer": None,
    }
    with pytest.raises(StructuredOutputError) as info:
        output.decode(json.dumps({**wire, "actions": [{"name": "f", "arguments": "{oops"}]}))
    assert "{oops" in info.value.raw_text


def test_react_with_tools_builds_one_branch_per_tool(strict_form: Any):
    tools = ToolDefinitions([copy.deepcopy(WEATHER), copy.deepcopy(CALC)])
    output = structured_output(ReAct, tools)
    schema = output.json_schema
    strict_form(schema)
    assert output.consumes_tools is True and output.strict is True
    weather, calc = schema["properties"]["actions"]["items"]["anyOf"]
    assert weather == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": ["get_weather"]},
            "arguments": {
                "type": "object",
                "properties": {
                    "location": {"type": "string"},
                    "unit": {
                        "anyOf": [
                            {"type": "string", "enum": ["celsius", "fahrenheit"]},
                            {"type": "null"},
                        ]
                    },
                },
                "required": ["location", "unit"],
                "additionalProperties": False,
            },
        },
        "required": ["name", "arguments"],
        "additionalProperties": False,
        "description": "Get weather for a location.",
    }
    assert calc["properties"]["name"] == {"type": "string", "enum": ["calculate"]}
    assert schema["properties"]["final_answer"] == {
        "type": ["string", "null"],
        "description": schema["properties"]["final_answer"]["description"],
    }


def test_react_decode_normalises_to_canonical_actions():
    output = structured_output(ReAct, ToolDefinitions([WEATHER, CALC]))
    wire = {
        "thought": "Two lookups.",
        "actions": [
            {"name": "get_weather", "arguments": {"location": "Paris", "unit": None}},
            {"name": "calculate", "arguments": {"expression": "1+1"}},
        ],
        "final_answer": None,
    }
    assert output.decode(json.dumps(wire)).actions == [
        {"name": "get_weather", "arguments": {"location": "Paris"}},  # null optional dropped
        {"name": "calculate", "arguments": {"expression": "1+1"}},
    ]
    done = output.decode('{"thought": "Done.", "actions": [], "final_answer": "22C"}')
    assert done.final_answer == "22C" and done.actions == []


def test_react_single_tool_has_no_union():
    schema = structured_output(ReAct, ToolDefinitions([CALC])).json_schema
    assert schema["properties"]["actions"]["items"]["properties"]["name"]["enum"] == ["calculate"]


def test_react_output_is_cached_by_tool_content():
    a = structured_output(ReAct, ToolDefinitions([WEATHER]))
    b = structured_output(ReAct, ToolDefinitions([copy.deepcopy(WEATHER)]))
    c = structured_output(ReAct, ToolDefinitions([CALC]))
    assert a is b and a is not c and a.cache_key() != c.cache_key()
    assert structured_output(ReAct) is not a


def test_react_does_not_touch_the_tool_schemas():
    schemas = [copy.deepcopy(WEATHER)]
    before = copy.deepcopy(schemas)
    tools = ToolDefinitions(schemas)
    structured_output(ReAct, tools).json_schema["properties"].clear()
    assert schemas == before and tools.schemas == before


class Node(msgspec.Struct):
    label: str
    children: list[Node] = []


def test_react_hoists_tool_defs_without_clashes(strict_form: Any):
    def index_tree(root: Node) -> int:
        """Index a tree."""
        return 0

    def draw_tree(root: Node, scale: float = 1.0) -> str:
        """Draw a tree."""
        return ""

    tools = ToolDefinitions.from_callables([index_tree, draw_tree])
    schema = structured_output(ReAct, tools).json_schema
    strict_form(schema)
    assert set(schema["$defs"]) == {"index_tree__Node", "draw_tree__Node"}
    index_branch = schema["properties"]["actions"]["items"]["anyOf"][0]
    children = schema["$defs"]["index_tree__Node"]["properties"]["children"]
    assert children["items"] == {"$ref": "#/$defs/index_tree__Node"}
    assert index_branch["properties"]["arguments"]["properties"]["root"] == {
        "$ref": "#/$defs/index_tree__Node"
    }


def test_react_with_a_free_form_tool_is_not_strict():
    loose = {
        "type": "function",
        "function": {
            "name": "store",
            "parameters": {
                "type": "object",
                "properties": {"data": {"type": "object", "additionalProperties": True}},
                "required": ["data"],
            },
        },
    }
    output = structured_output(ReAct, ToolDefinitions([loose]))
    assert output.strict is False and output.response_format["json_schema"]["strict"] is False


def test_flow_control_detection():
    assert is_tool_flow_control(ReAct)
    assert not is_tool_flow_control(ChainOfThought)
    assert not is_tool_flow_control(ReAct(thought="x"))


def test_strict_json_schema_keeps_nullable_optionals_and_converts_one_of():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"]},
            "b": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "c": {
                "type": "array",
                "items": {"type": "object", "properties": {"d": {"type": "integer"}}},
            },
        },
        "required": ["b"],
    }
    out, strict, normalize = strict_json_schema(schema)
    assert strict is True and out["required"] == ["a", "b", "c"]
    assert out["properties"]["b"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert out["properties"]["c"]["items"]["required"] == ["d"]
    # a accepted null already: its null is a value; c and d were optional: their nulls go.
    assert normalize({"a": None, "b": 1, "c": [{"d": None}]}) == {"a": None, "b": 1, "c": [{}]}
    assert "oneOf" in schema["properties"]["b"]  # the input is untouched
