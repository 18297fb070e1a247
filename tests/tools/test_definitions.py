"""ToolDefinitions: validation, the request fields, immutability, cache keys."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from msgflux.tools import Tool, ToolDefinitions

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get current weather for a location.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City and country"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
            "additionalProperties": False,
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}


def test_request_fields():
    td = ToolDefinitions(schemas=[WEATHER, TIME], choice="auto", parallel_tool_calls=True)
    assert td.to_request() == {
        "tools": [WEATHER, TIME],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }


def test_fields_left_out_when_none():
    assert ToolDefinitions(schemas=[WEATHER]).to_request() == {"tools": [WEATHER]}


def test_no_tools_sends_nothing():
    assert ToolDefinitions().to_request() == {}
    assert ToolDefinitions(schemas=[], choice="auto", parallel_tool_calls=False).to_request() == {}
    assert not ToolDefinitions() and len(ToolDefinitions([WEATHER])) == 1


def test_parallel_tool_calls_false_is_sent():
    assert (
        ToolDefinitions([WEATHER], parallel_tool_calls=False).to_request()["parallel_tool_calls"]
        is False
    )


@pytest.mark.parametrize("mode", ["auto", "required", "none"])
def test_choice_modes_are_sent_as_strings(mode):
    assert ToolDefinitions([WEATHER], choice=mode).to_request()["tool_choice"] == mode


def test_choice_by_function_name():
    td = ToolDefinitions([WEATHER, TIME], choice="get_weather")
    assert td.choice == "get_weather"
    assert td.to_request()["tool_choice"] == {
        "type": "function",
        "function": {"name": "get_weather"},
    }


def test_unknown_function_name_lists_the_valid_names():
    with pytest.raises(ValueError) as info:
        ToolDefinitions([WEATHER, TIME], choice="get_wether")
    message = str(info.value)
    assert "get_wether" in message and "'get_weather'" in message and "'get_time'" in message


def test_formed_choice_dict_is_sent_as_is():
    choice = {"type": "function", "function": {"name": "get_time"}}
    td = ToolDefinitions([WEATHER, TIME], choice=choice)
    sent = td.to_request()["tool_choice"]
    assert sent == choice and sent is not choice


def test_formed_choice_dict_naming_an_unknown_function_is_rejected():
    with pytest.raises(ValueError, match="get_weather"):
        ToolDefinitions([WEATHER], choice={"type": "function", "function": {"name": "nope"}})


def test_other_choice_dict_types_pass_through():
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}
    assert ToolDefinitions([WEATHER], choice=choice).to_request()["tool_choice"] == choice


def test_required_without_tools_is_an_error():
    with pytest.raises(ValueError, match="required"):
        ToolDefinitions(choice="required")


def test_bad_choice_type():
    with pytest.raises(TypeError):
        ToolDefinitions([WEATHER], choice=3)


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"function": {"name": "f"}}, '"type": "function"'),
        ({"type": "tool", "function": {"name": "f"}}, '"type": "function"'),
        ({"type": "function"}, '"function" object'),
        ({"type": "function", "function": {"description": "x"}}, "function.name"),
        ({"type": "function", "function": {"name": ""}}, "function.name"),
        ({"type": "function", "function": {"name": "f", "parameters": []}}, "parameters"),
        ("get_weather", "must be a dict"),
    ],
)
def test_invalid_schemas_say_what_is_wrong(schema, fragment):
    with pytest.raises(ValueError) as info:
        ToolDefinitions([schema])
    assert fragment in str(info.value) and "#0" in str(info.value)


def test_callable_instead_of_schema_points_to_from_callables():
    def f() -> None: ...

    with pytest.raises(ValueError, match="from_callables"):
        ToolDefinitions([f])


def test_a_single_schema_not_in_a_list():
    with pytest.raises(TypeError, match="list"):
        ToolDefinitions(WEATHER)


def test_duplicate_names_are_rejected():
    with pytest.raises(ValueError, match="get_time"):
        ToolDefinitions([TIME, copy.deepcopy(TIME)])


def test_parallel_tool_calls_must_be_bool():
    with pytest.raises(TypeError):
        ToolDefinitions([WEATHER], parallel_tool_calls="yes")


def test_caller_schemas_are_never_mutated_nor_shared():
    schemas = [copy.deepcopy(WEATHER)]
    before = copy.deepcopy(schemas)
    td = ToolDefinitions(schemas, choice="get_weather")
    request = td.to_request()
    assert schemas == before
    assert request["tools"][0] is not schemas[0]
    # A provider adapter editing the request cannot change the next one...
    request["tools"][0]["function"]["parameters"]["properties"].clear()
    request["tool_choice"]["function"]["name"] = "other"
    # ...nor can the caller editing its own schemas after the fact.
    schemas[0]["function"]["name"] = "renamed"
    assert td.to_request() == {
        "tools": before,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    assert td.schemas == before and td.schemas is not td.schemas


def test_annotations_are_read_only_and_not_sent():
    td = ToolDefinitions([WEATHER], annotations={"get_weather": {"return_direct": True}})
    assert td.annotations["get_weather"] == {"return_direct": True}
    with pytest.raises(TypeError):
        td.annotations["x"] = 1  # type: ignore[index]
    assert "annotations" not in td.to_request()


def test_cache_key_is_content_identity():
    a = ToolDefinitions([WEATHER], choice="auto")
    b = ToolDefinitions([copy.deepcopy(WEATHER)], choice="auto", annotations={"x": 1})
    assert a.cache_key() == b.cache_key() and hash(a.cache_key()) == hash(b.cache_key())
    assert a.cache_key() != ToolDefinitions([WEATHER], choice="required").cache_key()
    assert (
        a.cache_key()
        != ToolDefinitions([WEATHER], choice="auto", parallel_tool_calls=False).cache_key()
    )
    assert a.cache_key() != ToolDefinitions([WEATHER, TIME], choice="auto").cache_key()
    assert (
        ToolDefinitions([WEATHER]).cache_key()
        != ToolDefinitions([WEATHER], choice="get_weather").cache_key()
    )


def test_cache_key_is_stable_across_processes():
    code = (
        "from msgflux.tools import ToolDefinitions;"
        "print(ToolDefinitions([{'type': 'function', 'function': {'name': 'f'}}],"
        " choice='f').cache_key().hex())"
    )
    runs = {subprocess.check_output([sys.executable, "-c", code], text=True) for _ in range(2)}
    local = ToolDefinitions([{"type": "function", "function": {"name": "f"}}], choice="f")
    assert runs == {local.cache_key().hex() + "\n"}


def test_get_schema_and_names():
    td = ToolDefinitions([WEATHER, TIME])
    assert td.names == ("get_weather", "get_time")
    assert td.get_schema("get_time") == TIME
    with pytest.raises(KeyError, match="get_weather"):
        td.get_schema("nope")


def test_from_callables():
    def get_weather(location: str, unit: str = "celsius") -> str:
        """Get the weather.

        Args:
            location: City and country.
            unit: Temperature unit.
        """
        return f"{location} {unit}"

    td = ToolDefinitions.from_callables([get_weather], choice="get_weather", strict=False)
    request = td.to_request()
    assert request["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    function = request["tools"][0]["function"]
    assert function["name"] == "get_weather" and function["strict"] is False
    assert function["parameters"]["required"] == ["location"]
    assert isinstance(td.tools["get_weather"], Tool)
    assert td.tools["get_weather"].call({"location": "Paris"}) == "Paris celsius"


def test_from_callables_accepts_tools_and_checks_the_choice():
    def ping() -> str:
        return "pong"

    tool = Tool.from_callable(ping, name="ping_tool")
    td = ToolDefinitions.from_callables([tool], choice="required")
    assert td.names == ("ping_tool",)
    with pytest.raises(ValueError, match="ping_tool"):
        ToolDefinitions.from_callables([tool], choice="ping")
