"""The SambaNova plugin over real HTTP (the ``openai`` SDK) against the loopback server.

Each test asserts the exact JSON SambaNova would receive for a parameter the plugin adapts,
or the response as the user sees it.
"""

from __future__ import annotations

import msgspec
import pytest

import msgflux as mf
from msgflux.errors import UnsupportedParameterError
from msgflux.testing.server import Reply
from msgflux_sambanova.chat import SambaNovaChatCompletion

GPT_OSS = "gpt-oss-120b"
LLAMA = "Meta-Llama-3.3-70B-Instruct"
R1 = "DeepSeek-R1-0528"
HELLO = [{"role": "user", "content": "Hello"}]


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


# -- requests ---------------------------------------------------------------------------------


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


# -- responses --------------------------------------------------------------------------------


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
