"""The Ollama plugin over real HTTP (the ``openai`` SDK) against the loopback server.

Each test asserts the exact JSON an Ollama server would receive for a parameter the plugin
adapts, or the response as the user sees it.
"""

from __future__ import annotations

import msgspec
import pytest

import msgflux as mf
from msgflux.errors import UnsupportedParameterError
from msgflux.testing.server import Reply, ToolCall, Usage
from msgflux.tools import ToolDefinitions
from msgflux_ollama.chat import OllamaChatCompletion

QWEN3 = "qwen3:8b"
GPT_OSS = "gpt-oss:20b"
HELLO = [{"role": "user", "content": "Hello"}]
OFF = {"reasoning_effort": "none"}
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


def ollama(server, model_id=QWEN3, **options):
    return mf.Model.chat_completion(f"ollama/{model_id}", base_url=server.base_url, **options)


def sent(server):
    return server.last_request.json


# -- provider facts ---------------------------------------------------------------------------


def test_defaults_point_at_a_local_server_and_need_no_key(monkeypatch):
    monkeypatch.delenv("OLLAMA_BASE_URL", raising=False)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    model = mf.Model.chat_completion(f"ollama/{QWEN3}")
    assert isinstance(model, OllamaChatCompletion)
    assert model.base_url == "http://localhost:11434/v1"
    assert model.model_id == QWEN3


def test_a_local_server_gets_no_authorization_header(loopback_server, monkeypatch):
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    assert ollama(loopback_server)("hi").consume() == "echo: hi"
    assert "authorization" not in loopback_server.last_request.headers


# -- thinking ---------------------------------------------------------------------------------


def test_default_request_switches_thinking_off(loopback_server):
    ollama(loopback_server)("Hello")
    assert sent(loopback_server) == {"model": QWEN3, "messages": HELLO, **OFF}


def test_enable_thinking_none_leaves_ollamas_default(loopback_server):
    ollama(loopback_server, enable_thinking=None)("Hello")
    assert sent(loopback_server) == {"model": QWEN3, "messages": HELLO}


def test_enable_thinking_is_ollamas_default_and_reasoning_comes_back_apart(loopback_server):
    loopback_server.enqueue(
        Reply.text("108", reasoning="15*7=105, +3", reasoning_field="reasoning")
    )
    response = ollama(loopback_server, enable_thinking=True)("What is 15 * 7 + 3?")
    assert sent(loopback_server) == {
        "model": QWEN3,
        "messages": [{"role": "user", "content": "What is 15 * 7 + 3?"}],
    }
    assert (response.consume(), response.reasoning) == ("108", "15*7=105, +3")


def test_streamed_reasoning_field_is_kept_apart(loopback_server):
    loopback_server.enqueue(
        Reply.text("4", reasoning="2 and 2", reasoning_field="reasoning", usage=Usage(3, 2))
    )
    response = ollama(loopback_server, enable_thinking=True)("2+2?", stream=True)
    assert "".join(response) == "4" and response.reasoning == "2 and 2"
    assert response.metadata.usage["total_tokens"] == 5
    assert sent(loopback_server)["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("effort", ["low", "medium", "high", "none"])
def test_reasoning_effort_is_sent_as_given(loopback_server, effort):
    ollama(loopback_server, enable_thinking=True)("Hello", reasoning_effort=effort)
    assert sent(loopback_server) == {"model": QWEN3, "messages": HELLO, "reasoning_effort": effort}


def test_an_explicit_effort_wins_over_the_default_off(loopback_server):
    ollama(loopback_server)("Hello", reasoning_effort="low")
    assert sent(loopback_server)["reasoning_effort"] == "low"


def test_gpt_oss_always_reasons_so_the_default_sends_nothing(loopback_server):
    ollama(loopback_server, GPT_OSS)("Hello")
    assert sent(loopback_server) == {"model": GPT_OSS, "messages": HELLO}


def test_reasoning_max_tokens_has_no_ollama_equivalent(loopback_server):
    with pytest.raises(UnsupportedParameterError, match="'ollama'.*reasoning_max_tokens"):
        ollama(loopback_server)("Hello", reasoning_max_tokens=256)
    assert loopback_server.requests == []


# -- other parameters -------------------------------------------------------------------------


def test_structured_output_is_openais_json_schema_form(loopback_server):
    loopback_server.enqueue(Reply.text('{"value": 7}'))
    response = ollama(loopback_server, enable_thinking=None)("q", generation_schema=Answer)
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


def test_tool_choice_auto_is_not_sent_and_calls_come_back(loopback_server):
    loopback_server.enqueue(Reply.calls(ToolCall("calc", {"e": "1+1"}, id="call_1")))
    definitions = ToolDefinitions(schemas=TOOLS, choice="auto", parallel_tool_calls=True)
    response = ollama(loopback_server, enable_thinking=None)("q", tool_definitions=definitions)
    assert sent(loopback_server) == {
        "model": QWEN3,
        "messages": [{"role": "user", "content": "q"}],
        "tools": TOOLS,
    }
    assert response.consume().get_calls()[0]["function"]["arguments"] == {"e": "1+1"}


def test_tool_choice_none_is_honoured_by_not_offering_the_tools(loopback_server):
    definitions = ToolDefinitions(schemas=TOOLS, choice="none")
    ollama(loopback_server, enable_thinking=None)("q", tool_definitions=definitions)
    assert sent(loopback_server) == {"model": QWEN3, "messages": [{"role": "user", "content": "q"}]}


@pytest.mark.parametrize(
    ("definitions", "match"),
    [
        (ToolDefinitions(schemas=TOOLS, choice="required"), "cannot force a tool call"),
        (ToolDefinitions(schemas=TOOLS, choice="calc"), "cannot force a tool call"),
        (ToolDefinitions(schemas=TOOLS, parallel_tool_calls=False), "parallel_tool_calls=False"),
    ],
)
def test_tool_settings_ollama_would_ignore_are_refused(loopback_server, definitions, match):
    with pytest.raises(UnsupportedParameterError, match=match):
        ollama(loopback_server)("q", tool_definitions=definitions)
    assert loopback_server.requests == []


# -- responses --------------------------------------------------------------------------------
