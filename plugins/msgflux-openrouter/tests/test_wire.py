"""The OpenRouter plugin over real HTTP (the ``openai`` SDK) against the loopback server.

Each test asserts the exact JSON (and headers) OpenRouter would receive for a parameter the
plugin adapts, or the response as the user sees it.
"""

from __future__ import annotations

import copy

import pytest

import msgflux as mf
from msgflux.errors import UnsupportedParameterError
from msgflux.testing.server import Reply, Usage
from msgflux.tools import ToolDefinitions
from msgflux_openrouter.chat import OpenRouterChatCompletion

MODEL = "deepseek/deepseek-r1"
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


def openrouter(server, **options):
    return mf.Model.chat_completion(
        f"openrouter/{MODEL}", base_url=server.base_url, api_key="sk-or-test", **options
    )


def sent(server):
    return server.last_request.json


def chunk(delta=None, finish=None, **extra):
    return {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        **extra,
    }


# -- provider facts ---------------------------------------------------------------------------


def test_model_is_an_openai_compatible_model_with_openrouters_defaults():
    model = mf.Model.chat_completion(f"openrouter/{MODEL}", api_key="sk-or-test")
    assert isinstance(model, OpenRouterChatCompletion)
    assert model.base_url == "https://openrouter.ai/api/v1"
    assert model.model_id == MODEL


def test_key_and_url_come_from_openrouters_env_vars_only(loopback_server, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    with pytest.raises(mf.MissingAPIKeyError, match="OPENROUTER_API_KEY"):
        mf.Model.chat_completion(f"openrouter/{MODEL}")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-env")
    monkeypatch.setenv("OPENROUTER_BASE_URL", loopback_server.base_url)
    mf.Model.chat_completion(f"openrouter/{MODEL}")("hi")
    assert loopback_server.last_request.headers["authorization"] == "Bearer sk-or-env"


# -- plain calls and attribution --------------------------------------------------------------


def test_plain_call_sends_no_tool_choice_and_no_attribution(loopback_server):
    assert openrouter(loopback_server)("Hello").consume() == "echo: Hello"
    request = loopback_server.last_request
    assert request.json == {"model": MODEL, "messages": HELLO}
    for header in ("http-referer", "x-openrouter-title", "x-title", "x-openrouter-categories"):
        assert header not in request.headers


def test_attribution_headers_are_the_applications_own(loopback_server):
    model = openrouter(
        loopback_server,
        app_url="https://myapp.example",
        app_name="My App",
        app_categories=["cli-agent", "programming"],
    )
    model("Hello")
    headers = loopback_server.last_request.headers
    assert headers["http-referer"] == "https://myapp.example"
    assert headers["x-openrouter-title"] == "My App"
    assert headers["x-openrouter-categories"] == "cli-agent,programming"
    assert sent(loopback_server) == {"model": MODEL, "messages": HELLO}


def test_explicit_extra_headers_win_over_configured_attribution(loopback_server):
    model = openrouter(loopback_server, app_name="My App")
    model("Hello", extra_headers={"X-OpenRouter-Title": "Nightly batch"})
    assert loopback_server.last_request.headers.get_list("x-openrouter-title") == ["Nightly batch"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"app_url": ""}, "app_url must be a non-empty string"),
        ({"app_name": 3}, "app_name must be a non-empty string"),
        ({"app_categories": [1]}, "app_categories must be a string or a list"),
        ({"provider_preferences": ["openai"]}, "provider_preferences must be a dict"),
    ],
)
def test_bad_option_values_fail_when_the_model_is_created(loopback_server, options, message):
    with pytest.raises(ValueError, match=message):
        openrouter(loopback_server, **options)


# -- request mapping --------------------------------------------------------------------------


def test_max_tokens_keeps_openrouters_name(loopback_server):
    openrouter(loopback_server, max_tokens=300)("Hello")
    assert sent(loopback_server) == {"model": MODEL, "messages": HELLO, "max_tokens": 300}


def test_reasoning_effort_becomes_the_reasoning_object(loopback_server):
    openrouter(loopback_server, reasoning_effort="high")("Hello")
    assert sent(loopback_server) == {
        "model": MODEL,
        "messages": HELLO,
        "reasoning": {"effort": "high"},
    }


def test_reasoning_max_tokens_becomes_the_reasoning_budget(loopback_server):
    openrouter(loopback_server, reasoning_max_tokens=2000)("Hello")
    assert sent(loopback_server)["reasoning"] == {"max_tokens": 2000}


def test_effort_and_budget_together_are_refused(loopback_server):
    model = openrouter(loopback_server, reasoning_effort="low")
    with pytest.raises(UnsupportedParameterError, match="either a reasoning effort or"):
        model("Hello", reasoning_max_tokens=1000)
    with pytest.raises(UnsupportedParameterError, match="not both"):
        model("Hello", extra_body={"reasoning": {"max_tokens": 1000}})
    assert loopback_server.requests == []


def test_enable_thinking_enables_reasoning_and_false_sends_nothing(loopback_server):
    openrouter(loopback_server, enable_thinking=True)("Hello")
    assert sent(loopback_server)["reasoning"] == {"enabled": True}
    openrouter(loopback_server, enable_thinking=False)("Hello")
    assert "reasoning" not in sent(loopback_server)
    openrouter(loopback_server, enable_thinking=True)("Hello", reasoning_effort="low")
    assert sent(loopback_server)["reasoning"] == {"effort": "low"}


def test_callers_reasoning_keys_are_merged_and_not_mutated(loopback_server):
    extra_body = {"reasoning": {"exclude": True}}
    before = copy.deepcopy(extra_body)
    openrouter(loopback_server, reasoning_effort="medium")("Hello", extra_body=extra_body)
    assert extra_body == before
    assert sent(loopback_server)["reasoning"] == {"effort": "medium", "exclude": True}


def test_provider_preferences_are_sent_as_the_provider_object(loopback_server):
    preferences = {"order": ["anthropic", "google-vertex"], "allow_fallbacks": False}
    model = openrouter(loopback_server, provider_preferences=preferences)
    model("Hello")
    assert sent(loopback_server)["provider"] == preferences
    model("Hello", extra_body={"provider": {"sort": "price"}})
    assert sent(loopback_server)["provider"] == {**preferences, "sort": "price"}


def test_web_search_uses_the_web_plugin_and_keeps_native_options(loopback_server):
    openrouter(loopback_server)(
        "news?",
        web_search_options={"search_context_size": "high", "max_results": 3, "engine": "exa"},
    )
    body = sent(loopback_server)
    assert body["plugins"] == [{"id": "web", "max_results": 3, "engine": "exa"}]
    assert body["web_search_options"] == {"search_context_size": "high"}


def test_web_search_with_plugin_fields_only_sends_no_web_search_options(loopback_server):
    openrouter(loopback_server)("news?", web_search_options={"max_results": 2})
    body = sent(loopback_server)
    assert body["plugins"] == [{"id": "web", "max_results": 2}]
    assert "web_search_options" not in body


def test_web_search_joins_the_callers_plugins(loopback_server):
    plugins = [
        {"id": "file-parser", "pdf": {"engine": "pdf-text"}},
        {"id": "web", "max_results": 9},
    ]
    extra_body = {"plugins": plugins}
    before = copy.deepcopy(extra_body)
    openrouter(loopback_server)(
        "q",
        web_search_options={"max_results": 1, "search_prompt": "Sources:"},
        extra_body=extra_body,
    )
    assert extra_body == before
    assert sent(loopback_server)["plugins"] == [
        {"id": "file-parser", "pdf": {"engine": "pdf-text"}},
        {"id": "web", "max_results": 9, "search_prompt": "Sources:"},
    ]


def test_tools_are_sent_without_invented_tool_choice(loopback_server):
    openrouter(loopback_server)("q", tool_definitions=ToolDefinitions(schemas=TOOLS))
    assert sent(loopback_server) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "q"}],
        "tools": TOOLS,
    }


def test_prompt_cache_retention_is_refused(loopback_server):
    with pytest.raises(UnsupportedParameterError, match="'openrouter'.*prompt_cache_retention"):
        openrouter(loopback_server)("Hello", prompt_cache_retention="24h")
    assert loopback_server.requests == []


# -- responses --------------------------------------------------------------------------------


DETAILS = [
    {"type": "reasoning.text", "text": "Step 1. ", "format": "anthropic-claude-v1", "index": 0},
    {
        "type": "reasoning.encrypted",
        "data": "opaque==",
        "format": "anthropic-claude-v1",
        "index": 1,
    },
]


def test_reasoning_field_and_details_are_returned(loopback_server):
    loopback_server.enqueue(
        Reply.text(
            "42", reasoning="Step 1. ", reasoning_field="reasoning", reasoning_details=DETAILS
        )
    )
    response = openrouter(loopback_server)("q")
    assert (response.consume(), response.reasoning) == ("42", "Step 1. ")
    assert response.metadata.reasoning_details == DETAILS


def test_reasoning_comes_from_details_when_the_reasoning_field_is_empty(loopback_server):
    summary = [{"type": "reasoning.summary", "summary": "Compared both.", "index": 0}]
    loopback_server.enqueue(Reply.text("B", reasoning_details=summary))
    response = openrouter(loopback_server)("q")
    assert (response.consume(), response.reasoning) == ("B", "Compared both.")


def test_streamed_reasoning_details_are_joined_per_block(loopback_server):
    def detail(text, index=0):
        return {"type": "reasoning.text", "text": text, "format": "f", "index": index}

    # As OpenRouter streams them: each chunk carries the text in `reasoning` and the same
    # piece as a reasoning_details fragment.
    loopback_server.enqueue(
        Reply.raw_events(
            [
                chunk(
                    {
                        "role": "assistant",
                        "content": "",
                        "reasoning": "Think ",
                        "reasoning_details": [detail("Think ")],
                    }
                ),
                chunk(
                    {"content": "", "reasoning": "hard.", "reasoning_details": [detail("hard.")]}
                ),
                chunk(
                    {
                        "content": "",
                        "reasoning_details": [
                            {"type": "reasoning.encrypted", "data": "xyz", "index": 1}
                        ],
                    }
                ),
                chunk({"content": "Done."}),
                chunk(
                    finish="stop",
                    usage={
                        "prompt_tokens": 3,
                        "completion_tokens": 4,
                        "total_tokens": 7,
                        "cost": 0.00012,
                    },
                ),
                "[DONE]",
            ]
        )
    )
    response = openrouter(loopback_server)("q", stream=True)
    assert "".join(response) == "Done."
    assert response.reasoning == "Think hard."
    assert response.metadata.reasoning_details == [
        detail("Think hard."),
        {"type": "reasoning.encrypted", "data": "xyz", "index": 1},
    ]
    assert response.metadata.usage["cost"] == 0.00012


def test_processing_comments_in_the_stream_are_ignored(loopback_server):
    loopback_server.enqueue(
        Reply.raw_events(
            [
                b": OPENROUTER PROCESSING\n\n",
                chunk({"role": "assistant", "content": "Hi"}),
                b": OPENROUTER PROCESSING\n\n",
                chunk({"content": " there"}, finish="stop"),
                "[DONE]",
            ]
        )
    )
    assert "".join(openrouter(loopback_server)("q", stream=True)) == "Hi there"


def test_an_error_in_the_middle_of_a_stream_reaches_the_consumer(loopback_server):
    loopback_server.enqueue(
        Reply.raw_events(
            [
                chunk({"role": "assistant", "content": "Partial"}),
                chunk(
                    {"content": ""},
                    finish="error",
                    error={"code": 502, "message": "Upstream provider disconnected"},
                ),
                "[DONE]",
            ]
        )
    )
    response = openrouter(loopback_server, retry=False)("q", stream=True)
    with pytest.raises(mf.ProviderError, match="Upstream provider disconnected"):
        list(response)


def test_usage_with_cost_reaches_metadata(loopback_server):
    usage = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11, "cost": 0.0003}
    loopback_server.enqueue(Reply.text("ok", usage=usage))
    assert openrouter(loopback_server)("q").metadata.usage["cost"] == 0.0003


def test_out_of_credits_is_a_provider_error_that_is_not_retried(loopback_server):
    loopback_server.enqueue(Reply.error(402, "Insufficient credits"))
    with pytest.raises(mf.ProviderError, match="Insufficient credits") as caught:
        openrouter(loopback_server)("q")
    assert (caught.value.status, caught.value.provider) == (402, "openrouter")
    assert len(loopback_server.requests) == 1


def test_streamed_usage_is_read(loopback_server):
    loopback_server.enqueue(Reply.text("a b", usage=Usage(2, 2)))
    response = openrouter(loopback_server)("q", stream=True)
    assert "".join(response) == "a b"
    assert response.metadata.usage["total_tokens"] == 4
