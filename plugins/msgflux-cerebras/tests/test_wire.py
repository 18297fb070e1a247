"""The Cerebras plugin over real HTTP (the ``openai`` SDK) against the loopback server.

Each test asserts the exact JSON Cerebras would receive for a parameter the plugin adapts,
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
from msgflux_cerebras.chat import CerebrasChatCompletion

GPT_OSS = "gpt-oss-120b"
GLM = "zai-glm-4.7"
LLAMA = "llama-3.3-70b"
HELLO = [{"role": "user", "content": "Hello"}]
STRICT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "calc",
            "parameters": {
                "type": "object",
                "properties": {"e": {"type": "string"}},
                "required": ["e"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
]


class Answer(msgspec.Struct):
    value: int


def cerebras(server, model_id=GPT_OSS, **options):
    return mf.Model.chat_completion(
        f"cerebras/{model_id}", base_url=server.base_url, api_key="csk-test", **options
    )


def sent(server):
    return server.last_request.json


# -- provider facts ---------------------------------------------------------------------------


def test_model_is_an_openai_compatible_model_with_cerebras_defaults():
    model = mf.Model.chat_completion(f"cerebras/{GPT_OSS}", api_key="csk-test")
    assert isinstance(model, CerebrasChatCompletion)
    assert model.base_url == "https://api.cerebras.ai/v1"
    assert model.model_id == GPT_OSS


# -- token limit and reasoning ----------------------------------------------------------------


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_gpt_oss_efforts_are_sent_and_reasoning_comes_back_apart(loopback_server, effort):
    loopback_server.enqueue(Reply.text("108", reasoning="15*7=105", reasoning_field="reasoning"))
    response = cerebras(loopback_server, enable_thinking=True)("Hello", reasoning_effort=effort)
    body = sent(loopback_server)
    assert body == {"model": GPT_OSS, "messages": HELLO, "reasoning_effort": effort}
    assert (response.consume(), response.reasoning) == ("108", "15*7=105")


@pytest.mark.parametrize("effort", ["none", "minimal", "xhigh"])
def test_gpt_oss_refuses_efforts_cerebras_rejects(loopback_server, effort):
    with pytest.raises(UnsupportedParameterError, match="gpt-oss.*'cerebras'.*low, medium, high"):
        cerebras(loopback_server)("Hello", reasoning_effort=effort)
    assert loopback_server.requests == []


def test_glm_thinking_is_off_by_default(loopback_server):
    cerebras(loopback_server, GLM)("Hello")
    assert sent(loopback_server) == {"model": GLM, "messages": HELLO, "reasoning_effort": "none"}


@pytest.mark.parametrize("thinking", [True, None])
def test_glm_enable_thinking_keeps_its_default(loopback_server, thinking):
    cerebras(loopback_server, GLM, enable_thinking=thinking)("Hello")
    assert sent(loopback_server) == {"model": GLM, "messages": HELLO}


def test_glm_explicit_effort_wins_over_the_default_off(loopback_server):
    cerebras(loopback_server, GLM)("Hello", reasoning_effort="high")
    assert sent(loopback_server)["reasoning_effort"] == "high"


@pytest.mark.parametrize("model_id", [GLM, LLAMA])
def test_efforts_cerebras_does_not_have_are_refused(loopback_server, model_id):
    with pytest.raises(UnsupportedParameterError, match="none, low, medium, high"):
        cerebras(loopback_server, model_id)("Hello", reasoning_effort="minimal")
    assert loopback_server.requests == []


@pytest.mark.parametrize(
    ("model_id", "option", "match"),
    [
        (LLAMA, {"enable_thinking": True}, "'cerebras'.*enable_thinking"),
        (GPT_OSS, {"reasoning_max_tokens": 512}, "'cerebras'.*reasoning_max_tokens"),
    ],
)
def test_switches_cerebras_does_not_have_are_refused(loopback_server, model_id, option, match):
    with pytest.raises(UnsupportedParameterError, match=match):
        cerebras(loopback_server, model_id)("Hello", **option)
    assert loopback_server.requests == []


def test_reasoning_format_option_is_sent(loopback_server):
    cerebras(loopback_server, reasoning_format="hidden")("Hello")
    body = sent(loopback_server)
    assert body == {"model": GPT_OSS, "messages": HELLO, "reasoning_format": "hidden"}


def test_per_call_reasoning_format_wins_without_being_mutated(loopback_server):
    extra_body = {"reasoning_format": "parsed", "clear_thinking": False}
    before = copy.deepcopy(extra_body)
    cerebras(loopback_server, GLM, reasoning_format="hidden")("Hello", extra_body=extra_body)
    assert extra_body == before
    body = sent(loopback_server)
    assert (body["reasoning_format"], body["clear_thinking"]) == ("parsed", False)


def test_raw_reasoning_is_refused_with_structured_output(loopback_server):
    with pytest.raises(UnsupportedParameterError, match="raw"):
        cerebras(loopback_server, reasoning_format="raw")("q", generation_schema=Answer)
    assert loopback_server.requests == []


def test_bad_reasoning_format_fails_when_the_model_is_created(loopback_server):
    with pytest.raises(ValueError, match="reasoning_format must be one of parsed, raw, hidden"):
        cerebras(loopback_server, reasoning_format="visible")


# -- other parameters -------------------------------------------------------------------------


def test_tools_and_structured_output_keep_openais_strict_forms(loopback_server):
    loopback_server.enqueue(Reply.calls(ToolCall("calc", {"e": "1+1"}, id="call_1")))
    definitions = ToolDefinitions(schemas=STRICT_TOOLS, choice="auto")
    response = cerebras(loopback_server)("q", tool_definitions=definitions)
    body = sent(loopback_server)
    assert (body["tools"], body["tool_choice"]) == (STRICT_TOOLS, "auto")
    assert response.consume().get_calls()[0]["function"]["arguments"] == {"e": "1+1"}
    loopback_server.enqueue(Reply.text('{"value": 7}'))
    assert cerebras(loopback_server)("q", generation_schema=Answer).consume() == {"value": 7}
    assert sent(loopback_server)["response_format"]["json_schema"]["strict"] is True


def test_logprobs_are_returned(loopback_server):
    loopback_server.enqueue(Reply.text("a b", logprobs=True))
    response = cerebras(loopback_server, LLAMA)("q", logprobs=True, top_logprobs=2)
    body = sent(loopback_server)
    assert (body["logprobs"], body["top_logprobs"]) == (True, 2)
    assert [entry["token"] for entry in response.metadata.logprobs["content"]] == ["a", " b"]


# -- responses --------------------------------------------------------------------------------
