"""The SambaNova plugin over real HTTP (the ``openai`` SDK) against the loopback server.

Each test asserts the exact JSON SambaNova would receive for a parameter the plugin adapts,
or the response as the user sees it.
"""

from __future__ import annotations

import copy

import msgspec
import pytest

import msgflux as mf
from msgflux.errors import UnsupportedParameterError
from msgflux.testing.server import Reply, ToolCall
from msgflux.tools import ToolDefinitions
from msgflux_sambanova.chat import SambaNovaChatCompletion

GPT_OSS = "gpt-oss-120b"
LLAMA = "Meta-Llama-3.3-70B-Instruct"
R1 = "DeepSeek-R1-0528"
HELLO = [{"role": "user", "content": "Hello"}]
PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": ["string", "null"]}},
    "required": ["city"],
    "additionalProperties": False,
}
STRICT_TOOLS = [
    {"type": "function", "function": {"name": "weather", "parameters": PARAMETERS, "strict": True}}
]


class Answer(msgspec.Struct):
    value: int


def sambanova(server, model_id=GPT_OSS, **options):
    return mf.Model.chat_completion(
        f"sambanova/{model_id}", base_url=server.base_url, api_key="sn-test", **options
    )


def sent(server):
    return server.last_request.json


# -- provider facts ---------------------------------------------------------------------------


def test_model_is_an_openai_compatible_model_with_sambanovas_defaults():
    model = mf.Model.chat_completion(f"sambanova/{LLAMA}", api_key="sn-test")
    assert isinstance(model, SambaNovaChatCompletion)
    assert model.base_url == "https://api.sambanova.ai/v1"
    assert model.model_id == LLAMA


def test_key_and_url_come_from_sambanovas_env_vars_only(loopback_server, monkeypatch):
    monkeypatch.delenv("SAMBANOVA_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    with pytest.raises(mf.MissingAPIKeyError, match="SAMBANOVA_API_KEY"):
        mf.Model.chat_completion(f"sambanova/{GPT_OSS}")
    monkeypatch.setenv("SAMBANOVA_API_KEY", "sn-env")
    monkeypatch.setenv("SAMBANOVA_BASE_URL", loopback_server.base_url)
    mf.Model.chat_completion(f"sambanova/{GPT_OSS}")("hi")
    assert loopback_server.last_request.headers["authorization"] == "Bearer sn-env"


# -- requests ---------------------------------------------------------------------------------


def test_plain_call_sends_only_model_and_messages(loopback_server):
    sambanova(loopback_server)("Hello")
    assert sent(loopback_server) == {"model": GPT_OSS, "messages": HELLO}


def test_max_tokens_is_sent_as_max_completion_tokens(loopback_server):
    sambanova(loopback_server, max_tokens=256)("Hello")
    assert sent(loopback_server) == {
        "model": GPT_OSS,
        "messages": HELLO,
        "max_completion_tokens": 256,
    }


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_reasoning_effort_is_sent_and_reasoning_comes_back_apart(loopback_server, effort):
    loopback_server.enqueue(Reply.text("108", reasoning="15*7=105", reasoning_field="reasoning"))
    response = sambanova(loopback_server, reasoning_effort=effort)("Hello")
    assert sent(loopback_server) == {
        "model": GPT_OSS,
        "messages": HELLO,
        "reasoning_effort": effort,
    }
    assert (response.consume(), response.reasoning) == ("108", "15*7=105")


@pytest.mark.parametrize("effort", ["none", "minimal", "xhigh"])
def test_efforts_sambanova_does_not_have_are_refused(loopback_server, effort):
    with pytest.raises(UnsupportedParameterError, match="'sambanova'.*low, medium, high"):
        sambanova(loopback_server)("Hello", reasoning_effort=effort)
    assert loopback_server.requests == []


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"enable_thinking": True}, "'sambanova'.*enable_thinking"),
        ({"reasoning_max_tokens": 512}, "'sambanova'.*reasoning_max_tokens"),
    ],
)
def test_thinking_switch_and_budget_have_no_sambanova_equivalent(loopback_server, option, match):
    with pytest.raises(UnsupportedParameterError, match=match):
        sambanova(loopback_server)("Hello", **option)
    assert loopback_server.requests == []


def test_text_parts_are_sent_as_one_string_without_touching_the_callers_messages(
    loopback_server,
):
    parts = [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]
    messages = [{"role": "user", "content": parts}]
    before = copy.deepcopy(messages)
    sambanova(loopback_server)(messages)
    assert sent(loopback_server)["messages"] == [{"role": "user", "content": "Hello\nthere"}]
    assert messages == before


def test_images_go_as_base64_and_urls_are_refused(loopback_server):
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}]
    sambanova(loopback_server, "Llama-4-Maverick-17B-128E-Instruct")(messages)
    assert sent(loopback_server)["messages"] == messages
    remote = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    with pytest.raises(UnsupportedParameterError, match=r"base64.*messages\[0\]"):
        sambanova(loopback_server)([{"role": "user", "content": [remote]}])
    assert len(loopback_server.requests) == 1


def test_tool_strict_flag_is_left_out_and_the_schema_kept(loopback_server):
    loopback_server.enqueue(Reply.calls(ToolCall("weather", {"city": "Paris"}, id="call_1")))
    definitions = ToolDefinitions(schemas=STRICT_TOOLS, choice="required")
    response = sambanova(loopback_server, LLAMA)("q", tool_definitions=definitions)
    assert sent(loopback_server) == {
        "model": LLAMA,
        "messages": [{"role": "user", "content": "q"}],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": PARAMETERS}}],
        "tool_choice": "required",
    }
    assert response.consume().get_calls()[0]["function"]["arguments"] == {"city": "Paris"}


def test_structured_output_keeps_openais_strict_json_schema(loopback_server):
    loopback_server.enqueue(Reply.text('{"value": 7}'))
    response = sambanova(loopback_server, LLAMA)("q", generation_schema=Answer)
    assert response.consume() == {"value": 7}
    assert sent(loopback_server)["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "Answer",
            "schema": {
                "type": "object",
                "properties": {"value": {"type": "integer"}},
                "required": ["value"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"logprobs": True}, "'sambanova' does not support logprobs"),
        ({"verbosity": "low"}, "'sambanova'.*verbosity"),
        ({"prompt_cache_retention": "24h"}, "'sambanova'.*prompt_cache_retention"),
    ],
)
def test_what_sambanova_cannot_honour_is_refused(loopback_server, options, match):
    with pytest.raises(UnsupportedParameterError, match=match):
        sambanova(loopback_server)("Hello", **options)
    assert loopback_server.requests == []


# -- responses --------------------------------------------------------------------------------


def test_deepseek_r1_think_block_becomes_reasoning(loopback_server):
    loopback_server.enqueue(Reply.text("<think>\n9.9 > 9.11\n</think>\n\n9.9 is bigger."))
    response = sambanova(loopback_server, R1)("Which is bigger, 9.9 or 9.11?")
    assert (response.consume(), response.reasoning) == ("9.9 is bigger.", "9.9 > 9.11")


def test_deepseek_r1_think_block_is_split_in_streams(loopback_server):
    chunks = ["<think>", "Step one.", "</think>", "\n\nAns", "wer."]
    loopback_server.enqueue(Reply.text("".join(chunks), chunks=chunks))
    response = sambanova(loopback_server, R1)("q", stream=True)
    assert "".join(response) == "Answer." and response.reasoning == "Step one."


def test_sambanovas_own_usage_fields_reach_stream_metadata_with_the_sdk_transport(loopback_server):
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": LLAMA}
    usage = {
        "prompt_tokens": 4,
        "completion_tokens": 2,
        "total_tokens": 6,
        "completion_tokens_per_sec": 412.5,
        "time_to_first_token": 0.08,
        "is_last_response": True,
    }
    loopback_server.enqueue(
        Reply.raw_events(
            [
                {**chunk, "choices": [{"index": 0, "delta": {"content": "hi"}}]},
                {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {**chunk, "choices": [], "usage": usage},
                "[DONE]",
            ]
        )
    )
    # The SDK transport keeps unknown usage fields (msgflux's own transport keeps the counts).
    response = sambanova(loopback_server, LLAMA, transport="sdk")("q", stream=True)
    assert "".join(response) == "hi"
    assert response.metadata.usage == usage
    assert sent(loopback_server)["stream_options"] == {"include_usage": True}


def test_sambanovas_error_body_reaches_the_user(loopback_server):
    loopback_server.enqueue(Reply.error(429, "Rate limit exceeded", headers={"Retry-After": "3"}))
    with pytest.raises(mf.RateLimitError, match="Rate limit exceeded") as caught:
        sambanova(loopback_server, retry=False)("q")
    assert (caught.value.provider, caught.value.retry_after) == ("sambanova", 3.0)
