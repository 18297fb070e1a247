"""The Together plugin over real HTTP (the ``openai`` SDK) against the loopback server.

Each test asserts the exact JSON Together would receive for a parameter the plugin adapts,
or the response as the user sees it.
"""

from __future__ import annotations

import copy

import msgspec
import pytest

import msgflux as mf
from msgflux.errors import UnsupportedParameterError
from msgflux.testing.server import Reply, Usage
from msgflux_together.chat import TogetherChatCompletion

KIMI = "moonshotai/Kimi-K2.5"
GPT_OSS = "openai/gpt-oss-120b"
R1 = "deepseek-ai/DeepSeek-R1"
HELLO = [{"role": "user", "content": "Hello"}]


class Answer(msgspec.Struct):
    value: int


def together(server, model_id=KIMI, **options):
    return mf.Model.chat_completion(
        f"together/{model_id}", base_url=server.base_url, api_key="tg-test", **options
    )


def sent(server):
    return server.last_request.json


# -- provider facts ---------------------------------------------------------------------------


def test_model_is_an_openai_compatible_model_with_togethers_defaults():
    model = mf.Model.chat_completion(f"together/{KIMI}", api_key="tg-test")
    assert isinstance(model, TogetherChatCompletion)
    assert model.base_url == "https://api.together.xyz/v1"
    assert model.model_id == KIMI  # everything after the first "/"


# -- requests ---------------------------------------------------------------------------------


def test_enable_thinking_switches_a_hybrid_model_on(loopback_server):
    loopback_server.enqueue(Reply.text("108", reasoning="15*7=105", reasoning_field="reasoning"))
    response = together(loopback_server, enable_thinking=True)("Hello")
    assert sent(loopback_server) == {
        "model": KIMI,
        "messages": HELLO,
        "reasoning": {"enabled": True},
    }
    assert (response.consume(), response.reasoning) == ("108", "15*7=105")


def test_reasoning_effort_none_switches_it_off(loopback_server):
    together(loopback_server, enable_thinking=True)("Hello", reasoning_effort="none")
    assert sent(loopback_server) == {
        "model": KIMI,
        "messages": HELLO,
        "reasoning": {"enabled": False},
    }


def test_callers_reasoning_object_wins_and_is_not_mutated(loopback_server):
    extra_body = {"reasoning": {"enabled": False}, "top_k": 40}
    before = copy.deepcopy(extra_body)
    together(loopback_server, enable_thinking=True)("Hello", extra_body=extra_body)
    assert extra_body == before
    body = sent(loopback_server)
    assert (body["reasoning"], body["top_k"]) == ({"enabled": False}, 40)


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_gpt_oss_efforts_are_sent(loopback_server, effort):
    together(loopback_server, GPT_OSS, enable_thinking=True, reasoning_effort=effort)("Hello")
    assert sent(loopback_server) == {
        "model": GPT_OSS,
        "messages": HELLO,
        "reasoning_effort": effort,
    }


@pytest.mark.parametrize("effort", ["none", "minimal", "xhigh"])
def test_gpt_oss_refuses_efforts_it_does_not_have(loopback_server, effort):
    with pytest.raises(UnsupportedParameterError, match="gpt-oss.*low, medium, high"):
        together(loopback_server, GPT_OSS)("Hello", reasoning_effort=effort)
    assert loopback_server.requests == []


@pytest.mark.parametrize("effort", ["minimal", "xhigh"])
def test_efforts_together_does_not_have_are_refused(loopback_server, effort):
    with pytest.raises(UnsupportedParameterError, match="low, medium, high, none"):
        together(loopback_server)("Hello", reasoning_effort=effort)
    assert loopback_server.requests == []


def test_reasoning_max_tokens_has_no_together_equivalent(loopback_server):
    with pytest.raises(UnsupportedParameterError, match="'together'.*reasoning_max_tokens"):
        together(loopback_server)("Hello", reasoning_max_tokens=512)
    assert loopback_server.requests == []


def test_structured_output_uses_the_json_schema_response_format(loopback_server):
    loopback_server.enqueue(Reply.text('{"value": 7}'))
    response = together(loopback_server)("q", generation_schema=Answer)
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


# -- responses --------------------------------------------------------------------------------


def test_think_tags_false_keeps_the_content_as_sent(loopback_server):
    loopback_server.enqueue(Reply.text("<think>x</think>y"))
    response = together(loopback_server, R1, think_tags=False)("q")
    assert (response.consume(), response.reasoning) == ("<think>x</think>y", None)


def test_stream_usage_on_the_finish_chunk(loopback_server):
    loopback_server.enqueue(Reply.text("ok", usage=Usage(5, 6), usage_location="finish"))
    response = together(loopback_server)("q", stream=True)
    assert "".join(response) == "ok"
    assert response.metadata.usage == {
        "prompt_tokens": 5,
        "completion_tokens": 6,
        "total_tokens": 11,
    }
