"""What the server receives: body, extra_body/extra_headers/extra_query, headers, options."""

from __future__ import annotations

import copy

import pytest

import msgflux
from msgflux.testing.server import Reply
from msgflux_openai.transport import create_clients

MESSAGES = [{"role": "user", "content": "hi"}]


def test_body_is_the_keyword_arguments(server, client):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    client.chat.completions.create(
        model="m",
        messages=MESSAGES,
        temperature=0,
        top_p=0,
        max_completion_tokens=5,
        stop=None,
        tools=tools,
        tool_choice="auto",
        parallel_tool_calls=False,
        response_format={"type": "json_object"},
        logprobs=True,
        top_logprobs=0,
        reasoning_effort="low",
        verbosity="low",
        modalities=["text"],
        web_search_options={},
        prompt_cache_retention="24h",
        custom_vendor_field={"a": [1, 2]},
    )
    body = server.last_request.json
    assert body == {
        "model": "m",
        "messages": MESSAGES,
        "temperature": 0,  # falsy values are values
        "top_p": 0,
        "max_completion_tokens": 5,
        "stop": None,  # sent as given, like the SDK
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "logprobs": True,
        "top_logprobs": 0,
        "reasoning_effort": "low",
        "verbosity": "low",
        "modalities": ["text"],
        "web_search_options": {},
        "prompt_cache_retention": "24h",
        "custom_vendor_field": {"a": [1, 2]},
    }
    assert server.last_request.path == "/v1/chat/completions"
    assert server.last_request.method == "POST"


def test_default_headers(server, client):
    client.chat.completions.create(model="m", messages=MESSAGES)
    headers = server.last_request.headers
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith("msgflux/")
    version = getattr(msgflux, "__version__", None)
    if version:
        assert headers["user-agent"] == f"msgflux/{version}"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert int(headers["content-length"]) == len(server.last_request.body)


def test_extra_body_merges_and_wins(server, client):
    extra = {"temperature": 1.5, "top_k": 20, "chat_template_kwargs": {"enable_thinking": False}}
    extra_copy = copy.deepcopy(extra)
    client.chat.completions.create(model="m", messages=MESSAGES, temperature=0.1, extra_body=extra)
    body = server.last_request.json
    assert body["temperature"] == 1.5
    assert body["top_k"] == 20
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert "extra_body" not in body
    assert extra == extra_copy  # caller data untouched


def test_extra_headers_merge_override_and_remove(server, client):
    client.chat.completions.create(
        model="m",
        messages=MESSAGES,
        extra_headers={"X-Trace": "t1", "authorization": "Bearer other", "User-Agent": None},
    )
    headers = server.last_request.headers
    assert headers["x-trace"] == "t1"
    assert headers.get_list("authorization") == ["Bearer other"]  # replaced, not duplicated
    assert "user-agent" not in headers
    # The next request is back to the defaults.
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert "x-trace" not in server.last_request.headers
    assert server.last_request.headers["authorization"] == "Bearer sk-test"


def test_extra_query_and_base_url_query(server):
    clients = create_clients(base_url=server.base_url + "?api-version=2024-10", api_key="k")
    try:
        clients.client.chat.completions.create(
            model="m", messages=MESSAGES, extra_query={"a": "1", "b": ["x", "y"]}
        )
        assert dict(server.last_request.query) == {"api-version": "2024-10", "a": "1", "b": "y"}
        assert server.last_request.path == "/v1/chat/completions"
    finally:
        clients.close()


async def test_async_sends_the_same(server, client, aclient):
    params = {"model": "m", "messages": MESSAGES, "extra_body": {"x": 1}, "seed": 0}
    client.chat.completions.create(**copy.deepcopy(params))
    sync_request = server.last_request
    await aclient.chat.completions.create(**copy.deepcopy(params))
    async_request = server.last_request
    assert sync_request.body == async_request.body
    assert dict(sync_request.headers) == dict(async_request.headers)


@pytest.mark.parametrize("key", [None, ""])
def test_no_api_key_no_authorization(server, key):
    clients = create_clients(base_url=server.base_url, api_key=key)
    try:
        clients.client.chat.completions.create(model="m", messages=MESSAGES)
        assert "authorization" not in server.last_request.headers
    finally:
        clients.close()


def test_default_headers_override_case_insensitively(server):
    clients = create_clients(
        base_url=server.base_url,
        api_key="k",
        default_headers={"user-agent": "mine/1", "OpenAI-Organization": "org"},
    )
    try:
        clients.client.chat.completions.create(model="m", messages=MESSAGES)
        headers = server.last_request.headers
        assert headers.get_list("user-agent") == ["mine/1"]
        assert headers["openai-organization"] == "org"
    finally:
        clients.close()


def test_caller_params_are_not_mutated(server, client):
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    extra_headers = {"x-a": "1"}
    before = copy.deepcopy((messages, extra_headers))
    client.chat.completions.create(model="m", messages=messages, extra_headers=extra_headers)
    assert (messages, extra_headers) == before


def test_unserializable_parameter(server, client):
    with pytest.raises(TypeError, match="not JSON serializable"):
        client.chat.completions.create(model="m", messages=MESSAGES, metadata=object())


def test_objects_with_model_dump_or_to_dict_are_encoded(server, client):
    class Pydanticish:
        def model_dump(self, **kwargs):
            return {"type": "json_object"}

    class Dictish:
        def to_dict(self):
            return {"role": "user", "content": "from to_dict"}

    client.chat.completions.create(model="m", messages=[Dictish()], response_format=Pydanticish())
    body = server.last_request.json
    assert body["messages"] == [{"role": "user", "content": "from to_dict"}]
    assert body["response_format"] == {"type": "json_object"}


def test_header_injection_is_refused(server, client):
    with pytest.raises(ValueError, match="control character"):
        client.chat.completions.create(
            model="m", messages=MESSAGES, extra_headers={"x-a": "1\r\nx-b: 2"}
        )


def test_secret_is_not_in_header_errors(server):
    with pytest.raises(ValueError) as info:
        create_clients(base_url=server.base_url, api_key="sk-secret\n")
    assert "sk-secret" not in str(info.value)


@pytest.mark.parametrize("url", ["ftp://x/v1", "127.0.0.1:8000/v1", "http:///v1"])
def test_invalid_base_url(url):
    with pytest.raises(ValueError, match="base_url"):
        create_clients(base_url=url, api_key="k")


def test_echo_server_default_reply_roundtrip(server, client):
    server.enqueue(Reply.echo({"messages": MESSAGES}))
    out = client.chat.completions.create(model="m", messages=MESSAGES)
    assert out.choices[0].message.content == "echo: hi"
