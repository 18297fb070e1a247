"""The vLLM plugin over real HTTP (the ``openai`` SDK) against the loopback server.

Each test asserts the exact JSON a vLLM server would receive for a parameter the plugin
adapts, or the response as the user sees it.
"""

from __future__ import annotations

import copy

import msgspec
import pytest

import msgflux as mf
from msgflux.errors import UnsupportedParameterError
from msgflux.testing.server import Reply
from msgflux_vllm.chat import VLLMChatCompletion

MODEL = "Qwen/Qwen3-8B"
HELLO = [{"role": "user", "content": "Hello"}]
OFF = {"enable_thinking": False, "thinking": False}
ON = {"enable_thinking": True, "thinking": True}


class Answer(msgspec.Struct):
    value: int


def vllm(server, **options):
    options.setdefault("api_key", "token-abc123")
    return mf.Model.chat_completion(f"vllm/{MODEL}", base_url=server.base_url, **options)


def sent(server):
    return server.last_request.json


# -- provider facts ---------------------------------------------------------------------------


def test_defaults_point_at_a_local_server_and_need_no_key(monkeypatch):
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    monkeypatch.delenv("VLLM_BASE_URL", raising=False)
    model = mf.Model.chat_completion(f"vllm/{MODEL}", api_key="k")
    assert isinstance(model, VLLMChatCompletion)
    assert model.base_url == "http://localhost:8000/v1"
    assert model.provider_spec.api_key_required is False


def test_key_and_url_come_from_vllms_env_vars(loopback_server, monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "token-env")
    monkeypatch.setenv("VLLM_BASE_URL", loopback_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    mf.Model.chat_completion(f"vllm/{MODEL}")("hi")
    assert loopback_server.last_request.headers["authorization"] == "Bearer token-env"


def test_a_server_started_without_a_key_gets_no_authorization_header(loopback_server, monkeypatch):
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    model = mf.Model.chat_completion(
        f"vllm/{MODEL}", base_url=loopback_server.base_url, transport="sdk"
    )
    assert model("hi").consume() == "echo: hi"
    assert "authorization" not in loopback_server.last_request.headers


# -- thinking ---------------------------------------------------------------------------------


def test_default_request_switches_thinking_off_in_the_chat_template(loopback_server):
    vllm(loopback_server)("Hello")
    assert sent(loopback_server) == {"model": MODEL, "messages": HELLO, "chat_template_kwargs": OFF}


def test_enable_thinking_none_leaves_the_template_default(loopback_server):
    vllm(loopback_server, enable_thinking=None)("Hello")
    assert sent(loopback_server) == {"model": MODEL, "messages": HELLO}


def test_enable_thinking_switches_it_on(loopback_server):
    loopback_server.enqueue(Reply.text("108", reasoning="15*7+3", reasoning_field="reasoning"))
    response = vllm(loopback_server, enable_thinking=True)("What is 15 * 7 + 3?")
    assert sent(loopback_server)["chat_template_kwargs"] == ON
    assert (response.consume(), response.reasoning) == ("108", "15*7+3")


def test_a_reasoning_effort_switches_thinking_on_and_is_sent(loopback_server):
    vllm(loopback_server)("Hello", reasoning_effort="high")
    assert sent(loopback_server) == {
        "model": MODEL,
        "messages": HELLO,
        "reasoning_effort": "high",
        "chat_template_kwargs": ON,
    }


def test_reasoning_effort_none_switches_thinking_off(loopback_server):
    vllm(loopback_server, enable_thinking=True)("Hello", reasoning_effort="none")
    body = sent(loopback_server)
    assert (body["reasoning_effort"], body["chat_template_kwargs"]) == ("none", OFF)


def test_reasoning_max_tokens_is_the_thinking_token_budget(loopback_server):
    vllm(loopback_server, reasoning_max_tokens=512)("Hello")
    assert sent(loopback_server) == {
        "model": MODEL,
        "messages": HELLO,
        "thinking_token_budget": 512,
        "chat_template_kwargs": ON,
    }


def test_callers_chat_template_kwargs_are_merged_and_win(loopback_server):
    extra_body = {"chat_template_kwargs": {"enable_thinking": True, "custom_flag": 1}, "top_k": 20}
    before = copy.deepcopy(extra_body)
    vllm(loopback_server)("Hello", extra_body=extra_body)
    assert extra_body == before
    body = sent(loopback_server)
    assert body["chat_template_kwargs"] == {
        "enable_thinking": True,
        "thinking": False,
        "custom_flag": 1,
    }
    assert body["top_k"] == 20


@pytest.mark.parametrize(
    ("keys", "expected"),
    [(["enable_thinking"], {"enable_thinking": True}), ([], None)],
)
def test_thinking_kwargs_option_chooses_the_template_variables(loopback_server, keys, expected):
    vllm(loopback_server, thinking_kwargs=keys, enable_thinking=True)("Hello")
    assert sent(loopback_server).get("chat_template_kwargs") == expected


@pytest.mark.parametrize("keys", ["enable_thinking", [""], [1], None])
def test_bad_thinking_kwargs_fail_when_the_model_is_created(loopback_server, keys):
    with pytest.raises(ValueError, match="thinking_kwargs"):
        vllm(loopback_server, thinking_kwargs=keys)


# -- other parameters -------------------------------------------------------------------------


def test_max_tokens_is_sent_as_max_completion_tokens(loopback_server):
    vllm(loopback_server, max_tokens=64, enable_thinking=None)("Hello")
    assert sent(loopback_server) == {"model": MODEL, "messages": HELLO, "max_completion_tokens": 64}


def test_structured_output_uses_openais_response_format_not_guided_json(loopback_server):
    loopback_server.enqueue(Reply.text('{"value": 7}'))
    response = vllm(loopback_server, enable_thinking=None)("q", generation_schema=Answer)
    assert response.consume() == {"value": 7}
    assert sent(loopback_server) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "q"}],
        "response_format": {
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
        },
    }


def test_removed_guided_fields_are_sent_as_structured_outputs(loopback_server):
    extra_body = {"guided_choice": ["yes", "no"], "guided_decoding_backend": "xgrammar"}
    with pytest.warns(DeprecationWarning, match="v0.12.0"):
        vllm(loopback_server, enable_thinking=None)("Yes or no?", extra_body=extra_body)
    assert extra_body == {"guided_choice": ["yes", "no"], "guided_decoding_backend": "xgrammar"}
    assert sent(loopback_server) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Yes or no?"}],
        "structured_outputs": {"choice": ["yes", "no"]},
    }


def test_logprobs_are_returned(loopback_server):
    loopback_server.enqueue(Reply.text("a b", logprobs=True))
    response = vllm(loopback_server)("q", logprobs=True, top_logprobs=2)
    body = sent(loopback_server)
    assert (body["logprobs"], body["top_logprobs"]) == (True, 2)
    assert [entry["token"] for entry in response.metadata.logprobs["content"]] == ["a", " b"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"prompt_cache_retention": "24h"}, "'vllm'.*prompt_cache_retention"),
        ({"verbosity": "low"}, "'vllm'.*verbosity"),
        ({"web_search_options": {}}, "'vllm' does not support web search"),
        ({"modalities": ["text", "audio"], "audio": {"voice": "alloy"}}, "audio output"),
    ],
)
def test_what_vllm_would_silently_ignore_is_refused(loopback_server, options, match):
    with pytest.raises(UnsupportedParameterError, match=match):
        vllm(loopback_server)("Hello", **options)
    assert loopback_server.requests == []


# -- responses --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_reasoning_from_either_field_name_in_streams(loopback_server, field):
    loopback_server.enqueue(Reply.text("4", reasoning="2 and 2", reasoning_field=field))
    response = vllm(loopback_server, enable_thinking=True)("2+2?", stream=True)
    assert "".join(response) == "4" and response.reasoning == "2 and 2"


def test_vllms_own_error_shape_reaches_the_user(loopback_server):
    body = {
        "object": "error",
        "message": "This model's maximum context length is 4096 tokens.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    loopback_server.enqueue(Reply.error(400, body=body))
    with pytest.raises(mf.BadRequestError, match="maximum context length") as caught:
        vllm(loopback_server, retry=False)("q")
    assert (caught.value.provider, caught.value.status) == ("vllm", 400)


# -- reasoning inline in the content (no --reasoning-parser) ----------------------------------


def test_inline_think_block_becomes_reasoning(loopback_server):
    loopback_server.enqueue(Reply.text("<think>\n15*7=105, +3\n</think>\n\n108"))
    response = vllm(loopback_server, enable_thinking=True)("What is 15 * 7 + 3?")
    assert (response.consume(), response.reasoning) == ("108", "15*7=105, +3")


def test_inline_think_block_is_split_in_streams_whatever_the_chunking(loopback_server):
    text = "<think>\nStep one.</think>\n\nAnswer."
    loopback_server.enqueue(
        Reply.text(text, chunks=["<thi", "nk>\nStep", " one.</th", "ink>\n", "\nAnswer."])
    )
    response = vllm(loopback_server, enable_thinking=True)("q", stream=True)
    assert "".join(response) == "Answer."
    assert response.reasoning == "Step one."


def test_think_tags_false_keeps_the_content_as_sent(loopback_server):
    loopback_server.enqueue(Reply.text("<think>x</think>y"))
    response = vllm(loopback_server, think_tags=False)("q")
    assert (response.consume(), response.reasoning) == ("<think>x</think>y", None)
