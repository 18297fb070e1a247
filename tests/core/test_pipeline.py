"""The request pipeline, through the public API, with the offline ``fake`` provider."""

from __future__ import annotations

import copy

import pytest

import msgflux as mf
from msgflux.errors import UnsupportedParameterError


def fake(**options):
    return mf.Model.chat_completion("fake/echo", **options)


def test_string_message_becomes_one_user_message():
    model = fake()
    assert model("Hello").consume() == "Hello"
    assert model.client.requests[-1]["messages"] == [{"role": "user", "content": "Hello"}]


def test_caller_messages_are_never_mutated():
    model = fake()
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "look"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "and now?"},
    ]
    before = copy.deepcopy(messages)
    model(messages, system_prompt="Be brief.", prefilling="Sure:")
    assert messages == before
    sent = model.client.requests[-1]["messages"]
    sent[0]["content"] = "changed"
    sent[1]["content"][0]["text"] = "changed"
    assert messages == before  # what was sent is a copy, not the caller's objects


def test_system_prompt_is_inserted_first_and_prefilling_last():
    model = fake()
    response = model(
        "What is 30 * 3 + 33?", system_prompt="You are a calculator.", prefilling="Let's see:"
    )
    sent = model.client.requests[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "You are a calculator."}
    assert sent[-1] == {"role": "assistant", "content": "Let's see:"}
    assert response.consume().startswith("Let's see:")


def test_falsy_generation_values_are_sent():
    model = fake(temperature=0, top_p=0, presence_penalty=0.0, seed=0)
    model("hi")
    request = model.client.requests[-1]
    assert request["temperature"] == 0
    assert request["top_p"] == 0
    assert request["presence_penalty"] == 0.0
    assert request["seed"] == 0


def test_call_options_override_model_defaults_for_that_call_only():
    model = fake(temperature=0.7, max_tokens=100)
    model("hi", temperature=0.1)
    assert model.client.requests[-1]["temperature"] == 0.1
    model("hi")
    assert model.client.requests[-1]["temperature"] == 0.7
    assert model.client.requests[-1]["max_tokens"] == 100


def test_unknown_model_keyword_suggests_the_closest_name():
    with pytest.raises(TypeError, match="Did you mean 'temperature'"):
        fake(temprature=0.2)


def test_unknown_call_keyword_suggests_the_closest_name():
    with pytest.raises(TypeError, match="Did you mean 'system_prompt'"):
        fake()("hi", system_promt="x")


def test_top_logprobs_requires_logprobs():
    with pytest.raises(ValueError, match="top_logprobs.*logprobs=True"):
        fake()("hi", top_logprobs=3)
    with pytest.raises(ValueError, match="top_logprobs.*logprobs=True"):
        fake(top_logprobs=3)


def test_prefilling_with_generation_schema_is_rejected():
    import msgspec

    class Answer(msgspec.Struct):
        value: int

    with pytest.raises(ValueError, match="prefilling.*generation_schema"):
        fake()("hi", prefilling="{", generation_schema=Answer)


def test_stream_with_typed_parser_or_schema_is_rejected():
    import msgspec

    class Answer(msgspec.Struct):
        value: int

    with pytest.raises(ValueError, match="stream=True.*typed_parser"):
        fake()("hi", stream=True, typed_parser="typed_xml")
    with pytest.raises(ValueError, match="stream=True.*generation_schema"):
        fake()("hi", stream=True, generation_schema=Answer)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": 3}, "between 0 and 2"),
        ({"top_p": 1.5}, "between 0 and 1"),
        ({"max_tokens": 0}, "positive"),
        ({"reasoning_effort": "maximum"}, "reasoning_effort"),
        ({"stop": 3}, "stop"),
        ({"modalities": ["video"]}, "modalities"),
        ({"audio": {"voice": "alloy"}}, "modalities"),
    ],
)
def test_bad_values_say_what_is_allowed(options, message):
    with pytest.raises(ValueError, match=message):
        fake(**options)


def test_messages_must_be_role_dicts():
    with pytest.raises(ValueError, match=r"messages\[1\].*role"):
        fake()([{"role": "user", "content": "a"}, "b"])
    with pytest.raises(TypeError, match="messages must be"):
        fake()(42)


def test_capability_the_provider_lacks_is_refused():
    with pytest.raises(UnsupportedParameterError, match="web search"):
        fake()("hi", web_search_options={})


def test_neutral_parameter_no_plugin_maps_is_refused():
    with pytest.raises(UnsupportedParameterError, match="enable_thinking"):
        fake(enable_thinking=True)("hi")
    with pytest.raises(UnsupportedParameterError, match="reasoning_max_tokens"):
        fake()("hi", reasoning_max_tokens=100)
    model = fake(enable_thinking=False)
    model("hi")  # "off" needs no knob
    assert "enable_thinking" not in model.client.requests[-1]  # and never leaks to the wire


def test_scripted_answers_reasoning_and_tool_calls():
    model = fake(
        responses=[
            {"content": "42", "reasoning": "6 * 7"},
            {"tool_calls": [{"name": "add", "arguments": {"a": 1}}]},
        ]
    )
    first = model("q")
    assert first.consume() == "42"
    assert first.reasoning == "6 * 7" and first.has_reasoning
    assert first.consume_reasoning() == "6 * 7"
    second = model("q")
    assert second.response_type == "tool_call"
    assert second.consume().get_calls() == [
        {"id": "call_0", "type": "function", "function": {"name": "add", "arguments": {"a": 1}}}
    ]


def test_return_reasoning_false_discards_the_trace():
    model = fake(return_reasoning=False, responses=[{"content": "4", "reasoning": "2+2"}])
    response = model("q")
    assert response.consume() == "4"
    assert response.reasoning is None and not response.has_reasoning


def test_model_info_instance_type_and_repr_hide_the_key():
    model = fake(api_key="sk-very-secret")
    assert model.get_model_info() == {"model_id": "echo", "provider": "fake"}
    assert model.instance_type() == {"model_type": "chat_completion"}
    assert "sk-very-secret" not in repr(model)
    assert "sk-very-secret" not in repr(vars(model))
    assert model.api_key == "sk-very-secret"


def test_serialize_round_trips_without_secrets():
    import json

    model = fake(
        api_key="sk-very-secret",
        temperature=0,
        max_tokens=50,
        extra_headers={"X-App": "a", "X-Api-Key": "hidden"},
    )
    state = model.serialize()
    text = json.dumps(state)  # JSON-safe
    assert "sk-very-secret" not in text and "hidden" not in text
    assert state["msgflux_type"] == "model" and state["provider"] == "fake"
    assert state["model_type"] == "chat_completion"
    rebuilt = mf.Model.from_serialized(json.loads(text))
    assert rebuilt.serialize() == state
    assert rebuilt.defaults == model.defaults
    assert rebuilt.api_key is None


def test_model_path_splits_on_the_first_slash():
    model = mf.Model.chat_completion("fake/openai/gpt-oss-120b")
    assert model.provider == "fake" and model.model_id == "openai/gpt-oss-120b"
    with pytest.raises(ValueError, match="provider/model-id"):
        mf.Model.chat_completion("gpt-4")


def test_set_envs_sets_and_unsets(monkeypatch):
    monkeypatch.delenv("MSGFLUX_TEST_VAR", raising=False)
    mf.set_envs(MSGFLUX_TEST_VAR="x")
    import os

    assert os.environ["MSGFLUX_TEST_VAR"] == "x"
    mf.set_envs(MSGFLUX_TEST_VAR=None)
    assert "MSGFLUX_TEST_VAR" not in os.environ


async def test_acall_returns_the_same_response_shape():
    model = fake(responses=[{"content": "hi", "reasoning": "r"}])
    response = await model.acall("q")
    assert response.consume() == "hi" and response.reasoning == "r"


def test_cache_hit_returns_an_uncorruptible_copy():
    model = fake(enable_cache=True, cache_size=2)
    first = model("same")
    first.data = "corrupted by caller"
    first.metadata["usage"] = None
    second = model("same")
    assert second.consume() == "same"
    assert second.metadata.usage is not None
    assert model._response_cache.cache_info() == {
        "hits": 1,
        "misses": 1,
        "maxsize": 2,
        "currsize": 1,
    }
    model("other", temperature=0.5)
    assert len(model.client.requests) == 2
    model._response_cache.cache_clear()
    assert model._response_cache.cache_info()["currsize"] == 0
