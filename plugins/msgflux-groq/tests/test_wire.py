"""The Groq plugin over real HTTP (the ``openai`` SDK) against the loopback server.

Each test asserts the exact JSON Groq would receive for a parameter the plugin adapts, or
the response as the user sees it.
"""

from __future__ import annotations

import copy

import msgspec
import pytest

import msgflux as mf
from msgflux.errors import UnsupportedParameterError
from msgflux.testing.server import Reply, ToolCall, Usage
from msgflux.tools import ToolDefinitions
from msgflux_openai.chat import OpenAIChatCompletion

GPT_OSS = "openai/gpt-oss-120b"
QWEN3 = "qwen/qwen3-32b"
LLAMA = "llama-3.3-70b-versatile"
HELLO = [{"role": "user", "content": "Hello"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "calc",
            "parameters": {"type": "object", "properties": {"e": {"type": "string"}}},
        },
    }
]


class Answer(msgspec.Struct):
    value: int


def groq(server, model_id=GPT_OSS, **options):
    return mf.Model.chat_completion(
        f"groq/{model_id}", base_url=server.base_url, api_key="gsk-test", **options
    )


def sent(server):
    return server.last_request.json


# -- provider facts ---------------------------------------------------------------------------


def test_model_is_an_openai_compatible_model_with_groqs_defaults():
    model = mf.Model.chat_completion(f"groq/{GPT_OSS}", api_key="gsk-test")
    assert isinstance(model, OpenAIChatCompletion)
    assert model.base_url == "https://api.groq.com/openai/v1"
    assert model.model_id == GPT_OSS  # everything after the first "/"


# -- requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_gpt_oss_reasoning_effort_is_sent(loopback_server, effort):
    groq(loopback_server, reasoning_effort=effort)("Hello")
    assert sent(loopback_server) == {
        "model": GPT_OSS,
        "messages": HELLO,
        "reasoning_effort": effort,
    }


@pytest.mark.parametrize("effort", ["none", "minimal", "xhigh"])
def test_gpt_oss_refuses_efforts_harmony_does_not_have(loopback_server, effort):
    with pytest.raises(UnsupportedParameterError, match="low, medium, high"):
        groq(loopback_server)("Hello", reasoning_effort=effort)
    assert loopback_server.requests == []


def test_gpt_oss_always_reasons_so_enable_thinking_sends_nothing(loopback_server):
    groq(loopback_server, enable_thinking=True)("Hello")
    assert sent(loopback_server) == {"model": GPT_OSS, "messages": HELLO}


def test_qwen3_reasoning_is_off_by_default_and_parsed(loopback_server):
    groq(loopback_server, QWEN3)("Hello")
    assert sent(loopback_server) == {
        "model": QWEN3,
        "messages": HELLO,
        "reasoning_effort": "none",
        "reasoning_format": "parsed",
    }


def test_qwen3_enable_thinking_switches_reasoning_on(loopback_server):
    loopback_server.enqueue(Reply.text("4", reasoning="2+2", reasoning_field="reasoning"))
    response = groq(loopback_server, QWEN3, enable_thinking=True)("2+2?")
    assert sent(loopback_server)["reasoning_effort"] == "default"
    assert sent(loopback_server)["reasoning_format"] == "parsed"
    assert (response.consume(), response.reasoning) == ("4", "2+2")


def test_qwen3_explicit_none_effort_wins_over_enable_thinking(loopback_server):
    groq(loopback_server, QWEN3, enable_thinking=True)("Hello", reasoning_effort="none")
    assert sent(loopback_server)["reasoning_effort"] == "none"


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_qwen3_refuses_graded_efforts(loopback_server, effort):
    with pytest.raises(UnsupportedParameterError, match="on or off"):
        groq(loopback_server, QWEN3)("Hello", reasoning_effort=effort)
    assert loopback_server.requests == []


def test_model_family_option_covers_model_ids_it_cannot_recognise(loopback_server):
    groq(loopback_server, "my-org/finetuned-thinker", model_family="qwen3")("Hello")
    assert sent(loopback_server)["reasoning_effort"] == "none"


def test_other_models_pass_effort_through_and_refuse_enable_thinking(loopback_server):
    groq(loopback_server, LLAMA, reasoning_effort="low")("Hello")
    assert sent(loopback_server)["reasoning_effort"] == "low"
    with pytest.raises(UnsupportedParameterError, match="enable_thinking"):
        groq(loopback_server, LLAMA)("Hello", enable_thinking=True)


def test_reasoning_max_tokens_has_no_groq_equivalent(loopback_server):
    with pytest.raises(UnsupportedParameterError, match="'groq'.*reasoning_max_tokens"):
        groq(loopback_server)("Hello", reasoning_max_tokens=512)
    assert loopback_server.requests == []


@pytest.mark.parametrize(
    ("options", "body"),
    [
        ({"reasoning_format": "hidden"}, {"reasoning_format": "hidden"}),
        ({"reasoning_format": "raw"}, {"reasoning_format": "raw"}),
        ({"include_reasoning": False}, {"include_reasoning": False}),
    ],
)
def test_reasoning_output_options_are_sent(loopback_server, options, body):
    groq(loopback_server, **options)("Hello")
    assert sent(loopback_server) == {"model": GPT_OSS, "messages": HELLO, **body}


def test_reasoning_format_and_include_reasoning_are_mutually_exclusive(loopback_server):
    with pytest.raises(ValueError, match="mutually exclusive"):
        groq(loopback_server, reasoning_format="parsed", include_reasoning=True)
    model = groq(loopback_server, include_reasoning=True)
    extra_body = {"reasoning_format": "hidden"}
    with pytest.raises(UnsupportedParameterError, match="mutually exclusive"):
        model("Hello", extra_body=extra_body)
    assert loopback_server.requests == []


def test_per_call_extra_body_overrides_the_option_without_being_mutated(loopback_server):
    extra_body = {"reasoning_format": "hidden", "service_tier": "flex"}
    before = copy.deepcopy(extra_body)
    groq(loopback_server, QWEN3, reasoning_format="parsed")("Hello", extra_body=extra_body)
    assert extra_body == before
    body = sent(loopback_server)
    assert (body["reasoning_format"], body["service_tier"]) == ("hidden", "flex")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"reasoning_format": "visible"}, "reasoning_format must be one of parsed, raw, hidden"),
        ({"include_reasoning": "yes"}, "include_reasoning must be True, False or None"),
        ({"model_family": "llama"}, "model_family must be one of"),
    ],
)
def test_bad_option_values_fail_when_the_model_is_created(loopback_server, options, message):
    with pytest.raises(ValueError, match=message):
        groq(loopback_server, **options)


def test_raw_reasoning_is_refused_with_tools_or_structured_output(loopback_server):
    model = groq(loopback_server, QWEN3, reasoning_format="raw")
    with pytest.raises(UnsupportedParameterError, match="raw"):
        model("q", tool_definitions=ToolDefinitions(schemas=TOOLS))
    with pytest.raises(UnsupportedParameterError, match="raw"):
        model("q", generation_schema=Answer)
    assert loopback_server.requests == []


def test_message_names_are_refused_before_groq_answers_400(loopback_server):
    messages = [{"role": "user", "content": "hi", "name": "alice"}]
    with pytest.raises(UnsupportedParameterError, match=r"messages\[0\].*'alice'"):
        groq(loopback_server)(messages)
    assert loopback_server.requests == []


def test_tool_requests_keep_openai_shape(loopback_server):
    loopback_server.enqueue(Reply.calls(ToolCall("calc", {"e": "1+1"}, id="call_1")))
    response = groq(loopback_server)(
        "q", tool_definitions=ToolDefinitions(schemas=TOOLS, choice="required")
    )
    assert sent(loopback_server) == {
        "model": GPT_OSS,
        "messages": [{"role": "user", "content": "q"}],
        "tools": TOOLS,
        "tool_choice": "required",
    }
    assert response.consume().get_calls()[0]["function"]["arguments"] == {"e": "1+1"}


# -- responses --------------------------------------------------------------------------------


def test_stream_usage_is_read_from_x_groq(loopback_server):
    loopback_server.enqueue(
        Reply.text(
            "ok",
            reasoning="think",
            reasoning_field="reasoning",
            usage=Usage(5, 6),
            usage_location="x_groq",
        )
    )
    response = groq(loopback_server)("q", stream=True)
    assert "".join(response) == "ok" and response.reasoning == "think"
    assert response.metadata.usage == {
        "prompt_tokens": 5,
        "completion_tokens": 6,
        "total_tokens": 11,
    }


def test_a_standard_usage_chunk_wins_over_x_groq(loopback_server):
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": GPT_OSS}
    x_groq_usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    standard_usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    loopback_server.enqueue(
        Reply.raw_events(
            [
                {**chunk, "choices": [{"index": 0, "delta": {"content": "hi"}}]},
                {
                    **chunk,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "x_groq": {"id": "req_1", "usage": x_groq_usage},
                },
                {**chunk, "choices": [], "usage": standard_usage},
                "[DONE]",
            ]
        )
    )
    response = groq(loopback_server)("q", stream=True)
    assert "".join(response) == "hi"
    assert response.metadata.usage == standard_usage
