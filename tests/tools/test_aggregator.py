"""ToolCallAggregator: assembling calls, results, and the replayed messages."""

from __future__ import annotations

import json

import pytest

from msgflux.errors import ResponseDecodeError
from msgflux.tools import (
    MissingToolResultError,
    ToolArgumentsError,
    ToolCallAggregator,
    ToolCallError,
    UnknownToolCallError,
)


def _call(call_id: str, name: str, arguments: dict) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_whole_message_calls():
    agg = ToolCallAggregator()
    agg.process(0, "call_a", "get_weather", '{"location": "Paris", "unit": "celsius"}')
    agg.process(1, "call_b", "get_time", '{"tz": "CET"}')
    assert agg.get_calls() == [
        _call("call_a", "get_weather", {"location": "Paris", "unit": "celsius"}),
        _call("call_b", "get_time", {"tz": "CET"}),
    ]
    assert agg.has_calls and bool(agg) and len(agg) == 2


def test_empty_aggregator_is_falsy():
    agg = ToolCallAggregator()
    assert not agg and not agg.has_calls and agg.get_calls() == []


def test_openai_stream_with_interleaved_parallel_calls():
    agg = ToolCallAggregator()
    agg.process(0, "call_a", "add", "")
    agg.process(1, "call_b", "mul", "")
    agg.process(1, None, None, '{"a": 3,')
    agg.process(0, None, None, '{"a": 1,')
    agg.process(0, None, None, ' "b": 2}')
    agg.process(1, None, None, ' "b": 4}')
    assert agg.get_calls() == [
        _call("call_a", "add", {"a": 1, "b": 2}),
        _call("call_b", "mul", {"a": 3, "b": 4}),
    ]


def test_server_repeating_id_and_name_in_every_fragment():
    # llama.cpp style: the name must not be concatenated with itself.
    agg = ToolCallAggregator()
    for piece in ['{"expr', 'ession": ', '"1+1"}']:
        agg.process(0, "call_x", "calculate", piece)
    assert agg.get_calls() == [_call("call_x", "calculate", {"expression": "1+1"})]


def test_id_and_name_arriving_late():
    agg = ToolCallAggregator()
    agg.process(0, None, None, '{"q": ')
    agg.process(0, None, "search", '"x"')
    agg.process(0, "call_late", None, "}")
    assert agg.get_calls() == [_call("call_late", "search", {"q": "x"})]


def test_name_streamed_in_fragments_is_concatenated():
    agg = ToolCallAggregator()
    agg.process(0, "c", "get_", "")
    agg.process(0, None, "weather", "{}")
    assert agg.get_calls()[0]["function"]["name"] == "get_weather"


def test_several_complete_calls_all_at_index_zero_are_kept_apart():
    # Ollama style: each call is complete, all with index 0, told apart by their ids.
    agg = ToolCallAggregator()
    agg.process(0, "call_1", "add", '{"a": 1}')
    agg.process(0, "call_2", "add", '{"a": 2}')
    assert agg.get_calls() == [_call("call_1", "add", {"a": 1}), _call("call_2", "add", {"a": 2})]


def test_missing_index_is_resolved_by_id_or_latest_call():
    agg = ToolCallAggregator()
    agg.process(None, "a", "f", '{"x":')
    agg.process(None, "b", "g", "{}")
    agg.process(None, "a", None, " 1}")
    agg.process(None, None, None, "")  # nothing to add: ignored
    assert agg.get_calls() == [_call("a", "f", {"x": 1}), _call("b", "g", {})]


def test_calls_are_ordered_by_index_not_arrival():
    agg = ToolCallAggregator()
    agg.process(2, "c", "h", "{}")
    agg.process(0, "a", "f", "{}")
    agg.process(1, "b", "g", "{}")
    assert [c["id"] for c in agg.get_calls()] == ["a", "b", "c"]


def test_empty_arguments_decode_to_empty_dict():
    agg = ToolCallAggregator()
    agg.process(0, "a", "now", None)
    agg.process(1, "b", "later", "  ")
    assert [c["function"]["arguments"] for c in agg.get_calls()] == [{}, {}]


def test_dict_arguments_are_accepted_whole():
    agg = ToolCallAggregator()
    agg.process(0, "a", "f", {"x": [1, 2]})
    assert agg.get_calls()[0]["function"]["arguments"] == {"x": [1, 2]}


def test_double_encoded_arguments_are_unwrapped():
    agg = ToolCallAggregator()
    agg.process(0, "a", "f", json.dumps(json.dumps({"x": 1})))
    assert agg.get_calls()[0]["function"]["arguments"] == {"x": 1}


def test_invalid_json_arguments_raise_with_the_raw_text():
    agg = ToolCallAggregator()
    agg.process(0, "call_9", "calc", '{"expression": "1+')
    with pytest.raises(ToolArgumentsError) as info:
        agg.get_calls()
    err = info.value
    assert err.call_id == "call_9" and err.name == "calc"
    assert err.raw_text == '{"expression": "1+'
    assert "call_9" in str(err) and "calc" in str(err) and '{"expression": "1+' in str(err)
    assert isinstance(err, ResponseDecodeError) and isinstance(err, ValueError)


def test_arguments_that_are_not_an_object_raise():
    agg = ToolCallAggregator()
    agg.process(0, "a", "f", "[1, 2]")
    with pytest.raises(ToolArgumentsError, match="must be a JSON object"):
        agg.get_calls()


def test_a_call_without_a_name_raises():
    agg = ToolCallAggregator()
    agg.process(0, "a", None, "{}")
    with pytest.raises(ToolCallError, match="no function name"):
        agg.get_calls()


def test_ids_are_made_up_when_the_server_sends_none():
    agg = ToolCallAggregator()
    agg.process(0, None, "f", "{}")
    agg.process(1, None, "g", "{}")
    ids = [c["id"] for c in agg.get_calls()]
    assert len(set(ids)) == 2 and all(isinstance(i, str) and i for i in ids)
    agg.insert_results({ids[0]: "one", ids[1]: "two"})
    assert [m.get("tool_call_id") for m in agg.get_messages()[1:]] == ids


def test_made_up_ids_never_collide_with_real_ones():
    agg = ToolCallAggregator()
    agg.process(0, None, "f", "{}")
    agg.process(1, "call_0", "g", "{}")
    ids = [c["id"] for c in agg.get_calls()]
    assert len(set(ids)) == 2 and "call_0" in ids


def test_get_calls_returns_fresh_objects():
    agg = ToolCallAggregator()
    agg.process(0, "a", "f", '{"x": {"y": 1}}')
    first = agg.get_calls()
    first[0]["function"]["arguments"]["x"]["y"] = 99
    assert agg.get_calls()[0]["function"]["arguments"] == {"x": {"y": 1}}


def test_tool_calls_hold_the_raw_arguments():
    agg = ToolCallAggregator()
    agg.process(0, "a", "f", '{"x":')
    agg.process(0, None, None, " 1}")
    assert agg.tool_calls == [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    ]


# -- results and messages --------------------------------------------------------------------


def _two_calls() -> ToolCallAggregator:
    agg = ToolCallAggregator()
    agg.process(0, "call_1", "calculate", '{"expression": "14 + 28"}')
    agg.process(1, "call_2", "calculate", '{"expression": "3 * 3"}')
    return agg


def test_get_messages_shape():
    agg = _two_calls()
    agg.insert_results("call_1", 42)
    agg.insert_results("call_2", "nine")
    assert agg.get_messages() == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "calculate", "arguments": '{"expression":"14 + 28"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "calculate", "arguments": '{"expression":"3 * 3"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        {"role": "tool", "tool_call_id": "call_2", "content": "nine"},
    ]


@pytest.mark.parametrize(
    ("result", "content"),
    [(0, "0"), ("", ""), (False, "false"), ([], "[]"), (None, "null"), ({}, "{}"), (0.0, "0.0")],
)
def test_falsy_results_are_results(result, content):
    agg = ToolCallAggregator()
    agg.process(0, "a", "f", "{}")
    agg.insert_results("a", result)
    assert agg.get_messages()[1] == {"role": "tool", "tool_call_id": "a", "content": content}


def test_str_results_are_kept_and_others_json_encoded():
    agg = _two_calls()
    agg.insert_results({"call_1": '"already quoted"', "call_2": {"value": [1, 2], "ok": True}})
    tool_messages = agg.get_messages()[1:]
    assert tool_messages[0]["content"] == '"already quoted"'
    assert json.loads(tool_messages[1]["content"]) == {"value": [1, 2], "ok": True}


def test_results_json_cannot_hold_are_written_with_str():
    class Weather:
        def __str__(self) -> str:
            return "sunny"

    agg = ToolCallAggregator()
    agg.process(0, "a", "f", "{}")
    agg.insert_results("a", {"now": Weather()})
    assert json.loads(agg.get_messages()[1]["content"]) == {"now": "sunny"}


def test_insert_results_unknown_id_lists_known_ids():
    agg = _two_calls()
    with pytest.raises(UnknownToolCallError) as info:
        agg.insert_results("call_3", 1)
    assert isinstance(info.value, KeyError)
    message = str(info.value)
    assert "call_3" in message and "call_1" in message and "call_2" in message
    assert info.value.known_ids == ["call_1", "call_2"]


def test_insert_results_mapping_is_all_or_nothing():
    agg = _two_calls()
    with pytest.raises(UnknownToolCallError):
        agg.insert_results({"call_1": 1, "nope": 2})
    assert agg.results == {}


def test_insert_results_argument_forms():
    agg = _two_calls()
    with pytest.raises(TypeError):
        agg.insert_results("call_1")
    with pytest.raises(TypeError):
        agg.insert_results({"call_1": 1}, 2)
    agg.insert_results("call_1", 1)
    agg.insert_results("call_1", 2)  # replaces
    assert agg.results == {"call_1": 2}


def test_get_messages_names_the_calls_without_results():
    agg = _two_calls()
    agg.insert_results("call_1", 42)
    with pytest.raises(MissingToolResultError) as info:
        agg.get_messages()
    assert info.value.call_ids == ["call_2"]
    assert "call_2" in str(info.value) and "call_1" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_content_travels_in_the_assistant_message():
    agg = _two_calls()
    agg.content = "Let me compute that."
    agg.insert_results({"call_1": 42, "call_2": 9})
    assert agg.get_messages()[0]["content"] == "Let me compute that."


def test_reasoning_is_embedded_in_think_tags():
    agg = ToolCallAggregator(reasoning="I need (14+28) first.")
    agg.process(0, "call_1", "calculate", '{"expression": "14 + 28"}')
    agg.insert_results("call_1", 42)
    assert agg.get_messages()[0]["content"] == "<think>I need (14+28) first.</think>"
    agg.content = "Computing."
    assert agg.get_messages()[0]["content"] == "<think>I need (14+28) first.</think>Computing."


def test_reasoning_can_be_set_after_the_stream():
    agg = ToolCallAggregator()
    agg.process(0, "a", "f", "{}")
    agg.reasoning = "late thoughts"
    agg.insert_results("a", "ok")
    assert agg.get_messages()[0]["content"] == "<think>late thoughts</think>"


def test_invalid_arguments_are_replayed_as_received():
    agg = ToolCallAggregator()
    agg.process(0, "a", "f", "{oops")
    agg.insert_results("a", "error: arguments were not valid JSON")
    assert agg.get_messages()[0]["tool_calls"][0]["function"]["arguments"] == "{oops"


def test_the_spec_tool_loop_without_a_model():
    """Spec 000 section 9: calls -> execute -> insert_results -> get_messages."""

    def get_weather(location, unit="celsius"):
        return f"The weather in {location} is 22°{unit[0].upper()}"

    agg = ToolCallAggregator()
    agg.process(0, "call_w", "get_weather", '{"location": "Paris, France"}')
    tool_functions = {"get_weather": get_weather}
    for call in agg.get_calls():
        result = tool_functions[call["function"]["name"]](**call["function"]["arguments"])
        agg.insert_results(call["id"], result)
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    messages.extend(agg.get_messages())
    assert messages[-1] == {
        "role": "tool",
        "tool_call_id": "call_w",
        "content": "The weather in Paris, France is 22°C",
    }
    assert messages[1]["tool_calls"][0]["function"]["name"] == "get_weather"
