"""What reaches the Messages API: every mapped parameter, and what is refused unsent."""

from __future__ import annotations

import pytest

import msgflux as mf
from msgflux.errors import UnsupportedParameterError
from msgflux.testing.server import Reply
from msgflux_anthropic import DEFAULT_MAX_TOKENS
from msgflux_anthropic.thinking import EFFORT_BUDGETS

API_KEY = "sk-ant-loopback-key"  # conftest.py gives every model this key


def test_authentication_version_and_path(server, make):
    make()("Hello")

    request = server.last_request
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers


def test_a_base_url_with_v1_posts_to_the_same_path(server):
    with mf.Model.chat_completion(
        "anthropic/claude-x", base_url=server.base_url + "/v1/", api_key="k"
    ) as model:
        model("Hello")

    assert server.last_request.path == "/v1/messages"


def test_key_and_url_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "key-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-leak")

    with mf.Model.chat_completion("anthropic/claude-x") as model:
        model("Hello")

    assert server.last_request.headers["x-api-key"] == "key-from-env"
    assert "sk-openai" not in repr(server.last_request.headers)


def test_a_missing_key_names_the_env_var(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    with pytest.raises(mf.MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
        mf.Model.chat_completion("anthropic/claude-x")


def test_system_prompt_is_top_level_and_max_tokens_has_a_default(server, make):
    make()([{"role": "user", "content": "Hi"}], system_prompt="Be brief.")

    assert server.last_request.json == {
        "model": "claude-sonnet-4-20250514",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
    }


def test_several_system_messages_become_blocks_in_order(server, make):
    make()(
        [
            {"role": "system", "content": "One."},
            {"role": "developer", "content": [{"type": "text", "text": "Two."}]},
            {"role": "user", "content": "Hi"},
        ]
    )

    assert server.last_request.json["system"] == [
        {"type": "text", "text": "One."},
        {"type": "text", "text": "Two."},
    ]


def test_max_tokens_and_its_default_option(server, make):
    make()("q", max_tokens=100)
    assert server.last_request.json["max_tokens"] == 100
    make(default_max_tokens=512)("q")
    assert server.last_request.json["max_tokens"] == 512
    with pytest.raises(ValueError, match="default_max_tokens must be a positive integer"):
        make(default_max_tokens=0)


def test_images_as_base64_and_url_and_pdf_documents(server, make):
    make()(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                    mf.ChatBlock.file(b"%PDF-1.4", filename="a.pdf"),
                ],
            }
        ]
    )

    assert server.last_request.json["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="},
        },
    ]


def test_audio_input_is_refused_naming_the_message(server, make):
    audio = mf.ChatBlock.audio(b"RIFF", format="wav")

    with pytest.raises(UnsupportedParameterError, match=r"input_audio.*messages\[0\]"):
        make()([{"role": "user", "content": [audio]}])

    assert server.requests == []


def test_sampling_parameters(server, make):
    make(top_k=40)("q", temperature=0.2, top_p=0.9, stop="END")

    body = server.last_request.json
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.2, 0.9, 40)
    assert body["stop_sequences"] == ["END"]
    make()("q", stop=["A", "B"])
    assert server.last_request.json["stop_sequences"] == ["A", "B"]


@pytest.mark.parametrize(
    ("model_id", "options", "named"),
    [
        ("claude-sonnet-4-20250514", {"temperature": 1.5}, "temperature"),
        ("claude-sonnet-4-5-20250929", {"temperature": 0.2, "top_p": 0.9}, "top_p"),
        ("claude-opus-4-1-20250805", {"temperature": 0.2, "top_p": 0.9}, "top_p"),
        ("claude-haiku-4-5", {"temperature": 0.2, "top_p": 0.9}, "top_p"),
        ("claude-sonnet-4-20250514", {"seed": 1}, "seed"),
        ("claude-sonnet-4-20250514", {"presence_penalty": 0.5}, "presence_penalty"),
        ("claude-sonnet-4-20250514", {"frequency_penalty": 0.5}, "frequency_penalty"),
        ("claude-sonnet-4-20250514", {"logprobs": True}, "logprobs"),
    ],
)
def test_what_the_api_or_the_model_rejects_is_refused_unsent(
    server, make, model_id, options, named
):
    with pytest.raises(UnsupportedParameterError, match=named):
        make(model_id)("q", **options)

    assert server.requests == []


def test_models_before_4_1_take_temperature_and_top_p_together(server, make):
    make("claude-opus-4-20250514")("q", temperature=0.2, top_p=0.9)

    assert server.last_request.json["top_p"] == 0.9


def test_prefilling_is_a_trailing_assistant_turn_that_the_answer_continues(server, make):
    server.enqueue(Reply.text(' "a": 1}'))

    answer = make()("JSON please", prefilling="{").consume()

    assert answer == '{ "a": 1}'
    assert server.last_request.json["messages"][-1] == {"role": "assistant", "content": "{"}


def test_prefilling_ending_in_whitespace_is_refused(server, make):
    with pytest.raises(UnsupportedParameterError, match="whitespace"):
        make()("q", prefilling="Sure: ")

    assert server.requests == []


# -- extended thinking ---------------------------------------------------------------------


def test_enable_thinking_uses_the_default_budget_above_the_answers_room(server, make):
    make()("q", enable_thinking=True)

    body = server.last_request.json
    assert body["thinking"] == {"type": "enabled", "budget_tokens": EFFORT_BUDGETS["medium"]}
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS + EFFORT_BUDGETS["medium"]


def test_reasoning_max_tokens_is_the_budget(server, make):
    make()("q", reasoning_max_tokens=3000, max_tokens=5000)

    body = server.last_request.json
    assert (body["thinking"], body["max_tokens"]) == (
        {"type": "enabled", "budget_tokens": 3000},
        5000,
    )


@pytest.mark.parametrize("effort", sorted(EFFORT_BUDGETS))
def test_reasoning_effort_maps_to_a_budget(server, make, effort):
    make()("q", reasoning_effort=effort)

    assert server.last_request.json["thinking"]["budget_tokens"] == EFFORT_BUDGETS[effort]


def test_reasoning_effort_none_sends_no_thinking(server, make):
    make()("q", reasoning_effort="none")

    assert "thinking" not in server.last_request.json


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"reasoning_max_tokens": 500}, "reasoning_max_tokens"),
        ({"reasoning_max_tokens": 2000, "max_tokens": 2000}, "max_tokens"),
        ({"enable_thinking": True, "temperature": 0.5}, "temperature"),
        ({"enable_thinking": True, "top_p": 0.5}, "top_p"),
        ({"enable_thinking": True, "extra_body": {"top_k": 5}}, "top_k"),
        ({"enable_thinking": True, "prefilling": "{"}, "prefill"),
        ({"reasoning_effort": "none", "enable_thinking": True}, "reasoning_effort"),
    ],
)
def test_what_thinking_cannot_be_combined_with_is_refused_unsent(server, make, options, named):
    with pytest.raises(UnsupportedParameterError, match=named):
        make()("q", **options)

    assert server.requests == []


def test_thinking_accepts_top_p_near_one_and_temperature_one(server, make):
    make()("q", enable_thinking=True, top_p=0.96, temperature=1)

    assert server.last_request.json["top_p"] == 0.96


def test_thinking_from_extra_body_is_sent_as_given(server, make):
    thinking = {"type": "enabled", "budget_tokens": 2000}

    make()("q", extra_body={"thinking": thinking}, max_tokens=3000)

    assert server.last_request.json["thinking"] == thinking


# -- prompt caching ------------------------------------------------------------------------


def test_prompt_cache_marks_tools_system_and_the_last_message(server, make):
    from msgflux.tools import ToolDefinitions

    tools = ToolDefinitions(
        schemas=[
            {
                "type": "function",
                "function": {"name": "f", "parameters": {"type": "object", "properties": {}}},
            }
        ]
    )
    make(prompt_cache="1h")("Hello", system_prompt="Long rules.", tool_definitions=tools)

    body = server.last_request.json
    mark = {"type": "ephemeral", "ttl": "1h"}
    assert body["system"] == [{"type": "text", "text": "Long rules.", "cache_control": mark}]
    assert body["tools"][-1]["cache_control"] == mark
    assert body["messages"][-1]["content"] == [
        {"type": "text", "text": "Hello", "cache_control": mark}
    ]
    make(prompt_cache="5m")("Hello")
    assert server.last_request.json["messages"][-1]["content"][-1]["cache_control"] == {
        "type": "ephemeral"
    }


def test_prompt_cache_takes_5m_or_1h():
    with pytest.raises(ValueError, match="prompt_cache must be one of 5m, 1h"):
        mf.Model.chat_completion("anthropic/claude-x", api_key="k", prompt_cache="1d")


def test_cache_control_on_a_users_text_part_is_kept(server, make):
    part = {"type": "text", "text": "Big document", "cache_control": {"type": "ephemeral"}}

    make()([{"role": "user", "content": [part]}])

    assert server.last_request.json["messages"][0]["content"] == [part]
