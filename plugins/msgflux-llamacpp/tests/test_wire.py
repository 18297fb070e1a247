"""The llamacpp provider over real HTTP (the ``openai`` SDK) against the loopback server.

Requests are asserted as a llama.cpp server receives them: the adaptations in
``msgflux_llamacpp.params`` answer what llama-cpp-python's server was observed to reject
or ignore (see the plugin README). These models say ``server="llama-cpp-python"``, so no
``/props`` probe is among the recorded requests; ``test_server.py`` covers the probe and
llama-server's own request forms. The real servers are exercised in ``tests/integration``.
"""

from __future__ import annotations

import msgspec
import pytest

import msgflux as mf
from msgflux.testing.server import Reply, ToolCall
from msgflux.tools import ToolDefinitions

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time.",
        "parameters": {"type": "object", "properties": {}},
    },
}

VALIDATION_ERROR = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}"
)


class City(msgspec.Struct):
    name: str
    population: int


def llamacpp_model(server, **options):
    options.setdefault("api_key", "k")
    options.setdefault("server", "llama-cpp-python")
    return mf.Model.chat_completion("llamacpp/smollm2", base_url=server.base_url, **options)


@pytest.fixture
def model(loopback_server):
    return llamacpp_model(loopback_server)


# -- declaration ------------------------------------------------------------------------------


def test_provider_is_declared_with_its_env_vars(monkeypatch):
    monkeypatch.setenv("LLAMACPP_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-leak")
    monkeypatch.delenv("LLAMACPP_API_KEY", raising=False)
    model = mf.Model.chat_completion("llamacpp/smollm2")
    assert model.base_url == "http://127.0.0.1:9/v1"
    assert model.api_key is None  # no key needed, and never the base provider's
    assert "llamacpp" in mf.list_providers()


def test_default_base_url_is_the_llama_server_default(monkeypatch):
    monkeypatch.delenv("LLAMACPP_BASE_URL", raising=False)
    model = mf.Model.chat_completion("llamacpp/smollm2", api_key="k")
    assert model.base_url == "http://127.0.0.1:8080/v1"


def test_a_keyless_model_sends_no_authorization(loopback_server, monkeypatch):
    monkeypatch.delenv("LLAMACPP_API_KEY", raising=False)
    model = mf.Model.chat_completion("llamacpp/smollm2", base_url=loopback_server.base_url)
    assert model("Hello").consume() == "echo: Hello"
    # Neither the /props probe nor the request carries a key.
    assert [request.path for request in loopback_server.requests] == [
        "/props",
        "/v1/chat/completions",
    ]
    assert all("authorization" not in r.headers for r in loopback_server.requests)


def test_key_from_its_own_env_var(loopback_server, monkeypatch):
    monkeypatch.setenv("LLAMACPP_API_KEY", "server-key")
    model = mf.Model.chat_completion("llamacpp/smollm2", base_url=loopback_server.base_url)
    model("Hello")
    # llama-server started with --api-key guards /props too: the probe carries the key.
    assert [r.headers["authorization"] for r in loopback_server.requests] == [
        "Bearer server-key",
        "Bearer server-key",
    ]


# -- token limits -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["model", "call"])
def test_max_tokens_is_sent_as_max_tokens(loopback_server, where):
    # The server ignores `max_completion_tokens`, which the openai base sends.
    model = llamacpp_model(loopback_server, **({"max_tokens": 7} if where == "model" else {}))
    model("q", **({"max_tokens": 7} if where == "call" else {}))
    body = loopback_server.last_request.json
    assert body["max_tokens"] == 7
    assert "max_completion_tokens" not in body


# -- structured output ------------------------------------------------------------------------


def test_structured_output_is_sent_as_a_json_object_with_its_schema(model, loopback_server):
    loopback_server.enqueue(Reply.text('{"name": "Oslo", "population": 700000}'))
    response = model("A city", generation_schema=City)
    assert response.consume() == {"name": "Oslo", "population": 700000}
    response_format = loopback_server.last_request.json["response_format"]
    assert response_format["type"] == "json_object"
    assert response_format["schema"]["properties"].keys() == {"name", "population"}
    assert response_format["schema"]["required"] == ["name", "population"]
    assert set(response_format) == {"type", "schema"}


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (
            {"type": "json_schema", "json_schema": {"name": "A", "schema": {"type": "object"}}},
            {"type": "json_object", "schema": {"type": "object"}},
        ),
        ({"type": "json_schema", "json_schema": {"name": "A"}}, {"type": "json_object"}),
        ({"type": "json_object"}, {"type": "json_object"}),
        ({"type": "text"}, {"type": "text"}),
    ],
)
def test_response_format_adaptation(given, sent):
    # Unit level: a derived provider or a spec-16 model may hand any response format over.
    from msgflux_llamacpp.params import for_llama_cpp_python

    snapshot = msgspec.json.encode(given)
    adapted = for_llama_cpp_python({"model": "m", "messages": [], "response_format": given})
    assert adapted["response_format"] == sent
    assert msgspec.json.encode(given) == snapshot


# -- messages ---------------------------------------------------------------------------------


def test_tool_round_sends_the_assistant_message_with_empty_text(model, loopback_server):
    # The server rejects `"content": null` (and a missing content) on assistant messages.
    loopback_server.enqueue(
        Reply.calls(ToolCall("get_weather", {"city": "Paris"}, id="c1")), Reply.text("Sunny.")
    )
    tools = ToolDefinitions(schemas=[WEATHER], choice="get_weather")
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    aggregator = model(messages, tool_definitions=tools).consume()
    aggregator.insert_results("c1", "sunny")
    history = messages + aggregator.get_messages()
    snapshot = msgspec.json.encode(history)
    assert model(history, tool_definitions=ToolDefinitions(schemas=[WEATHER])).consume() == "Sunny."
    sent = loopback_server.last_request.json["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert sent[2] == {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
    assert msgspec.json.encode(history) == snapshot


def test_developer_role_is_sent_as_system(model, loopback_server):
    messages = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    model(messages)
    assert loopback_server.last_request.json["messages"][0] == {
        "role": "system",
        "content": "Be brief.",
    }
    assert messages[0]["role"] == "developer"


def test_text_parts_are_joined_into_one_string(model, loopback_server):
    model([mf.ChatBlock.user([mf.ChatBlock.text("first"), mf.ChatBlock.text("second")])])
    assert loopback_server.last_request.json["messages"] == [
        {"role": "user", "content": "first\nsecond"}
    ]


def test_image_parts_are_sent_as_given(model, loopback_server):
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    model([{"role": "user", "content": content}])
    assert loopback_server.last_request.json["messages"][0]["content"] == content


# -- tool choice (llama-server's forms: test_server.py) ---------------------------------------


def test_required_with_one_tool_names_that_tool(model, loopback_server):
    # llama-cpp-python produces a call only for a named tool choice; "required" is ignored.
    loopback_server.enqueue(Reply.calls(ToolCall("get_weather", {"city": "Oslo"}, id="c1")))
    model("q", tool_definitions=ToolDefinitions(schemas=[WEATHER], choice="required"))
    assert loopback_server.last_request.json["tool_choice"] == {
        "type": "function",
        "function": {"name": "get_weather"},
    }


def test_required_with_several_tools_is_sent_as_given(model, loopback_server):
    loopback_server.enqueue(Reply.calls(ToolCall("get_time", {}, id="c1")))
    model("q", tool_definitions=ToolDefinitions(schemas=[WEATHER, TIME], choice="required"))
    assert loopback_server.last_request.json["tool_choice"] == "required"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_tool_call_fragments_repeating_id_and_name_assemble_to_one_call(
    model, loopback_server, stream
):
    # What llama-cpp-python streams: id, type and name again in every fragment.
    loopback_server.enqueue(
        Reply.calls(
            ToolCall(
                "get_weather",
                '{"city": "Paris"}',
                id="call_0",
                chunks=["{", '"city"', ': "Paris"}'],
            ),
            tool_call_ids="every",
        )
    )
    response = model(
        "q",
        stream=stream,
        tool_definitions=ToolDefinitions(schemas=[WEATHER], choice="get_weather"),
    )
    calls = response.consume().get_calls()
    assert calls == [
        {
            "id": "call_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
        }
    ]


# -- reasoning options ------------------------------------------------------------------------


def test_enable_thinking_false_sends_nothing(loopback_server):
    model = llamacpp_model(loopback_server, enable_thinking=False)
    model("q")
    assert loopback_server.last_request.json == {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "q"}],
    }


def test_enable_thinking_true_is_refused_with_the_server_side_switch(model, loopback_server):
    with pytest.raises(mf.UnsupportedParameterError) as caught:
        model("q", enable_thinking=True)
    message = str(caught.value)
    assert "llamacpp" in message and "chat_template_kwargs" in message
    assert loopback_server.requests == []


def test_reasoning_max_tokens_is_refused(model, loopback_server):
    with pytest.raises(mf.UnsupportedParameterError, match="reasoning_max_tokens"):
        model("q", reasoning_max_tokens=256)
    assert loopback_server.requests == []


def test_reasoning_content_is_kept_apart(model, loopback_server):
    loopback_server.enqueue(Reply.text("4", reasoning="2+2", reasoning_field="reasoning_content"))
    response = model("2+2?")
    assert (response.consume(), response.reasoning) == ("4", "2+2")


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_validation_error_sent_as_500_is_a_bad_request_and_not_retried(
    model, loopback_server, stream
):
    loopback_server.enqueue(Reply.error(500, VALIDATION_ERROR, type="internal_server_error"))
    with pytest.raises(mf.BadRequestError) as caught:
        model("q", stream=stream)
    error = caught.value
    assert error.provider == "llamacpp" and error.status == 422
    assert "validation error" in str(error) and "HTTP 500" in str(error)
    assert isinstance(error.__cause__, mf.ProviderError) and error.__cause__.status == 500
    assert len(loopback_server.requests) == 1


async def test_validation_error_is_a_bad_request_in_async_calls(model, loopback_server):
    loopback_server.enqueue(Reply.error(500, VALIDATION_ERROR, type="internal_server_error"))
    with pytest.raises(mf.BadRequestError):
        await model.acall("q")
    assert len(loopback_server.requests) == 1


def test_other_500s_are_still_retried(loopback_server):
    model = llamacpp_model(loopback_server, retry={"max_attempts": 2, "initial_backoff": 0.01})
    loopback_server.enqueue(Reply.error(500, "out of memory"), Reply.text("recovered"))
    assert model("q").consume() == "recovered"
    assert len(loopback_server.requests) == 2


def test_context_overflow_is_a_bad_request(model, loopback_server):
    loopback_server.enqueue(
        Reply.error(
            400,
            "This model's maximum context length is 2048 tokens.",
            type="invalid_request_error",
            code="context_length_exceeded",
        )
    )
    with pytest.raises(mf.BadRequestError, match="maximum context length"):
        model("q")
