"""Which server a model talks to, and the request each server gets (loopback server, real HTTP).

The loopback server has no ``/props`` route (it answers 404, as llama-cpp-python does), so
``server="auto"`` settles on llama-cpp-python's rules here; the probe's ``llama-server``
answer is checked against the real server in ``tests/integration``.
"""

from __future__ import annotations

import asyncio
import threading

import msgspec
import pytest

import msgflux as mf
from msgflux.testing.server import LoopbackServer, Reply, ToolCall
from msgflux.tools import ToolDefinitions
from msgflux_llamacpp.params import for_llama_cpp_python, for_llama_server
from msgflux_llamacpp.server import (
    LLAMA_CPP_PYTHON,
    LLAMA_SERVER,
    ServerDetector,
    classify_props,
    props_url,
)

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
NAMED_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def llamacpp_model(base_url: str, **options):
    options.setdefault("api_key", "k")
    return mf.Model.chat_completion("llamacpp/smollm2", base_url=base_url, **options)


def probes(server: LoopbackServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests if not r.path.endswith("/completions")]


# -- the option and the probe's pieces --------------------------------------------------------


def test_server_option_is_checked_when_the_model_is_built(loopback_server):
    with pytest.raises(ValueError, match="server= must be one of 'auto', 'llama-server'"):
        llamacpp_model(loopback_server.base_url, server="llamaserver")


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/props"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/props"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/props"),
        ("https://host.example/llama/v1", "https://host.example/llama/props"),
    ],
)
def test_props_url_sits_beside_the_api_root(base_url, url):
    assert props_url(base_url) == url


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, b'{"build_info": "b1-abc", "chat_template": "..."}', LLAMA_SERVER),
        (200, b'{"default_generation_settings": {}}', LLAMA_SERVER),
        (200, b'{"something": "else"}', LLAMA_CPP_PYTHON),
        (200, b"<html>a web page</html>", LLAMA_CPP_PYTHON),
        (404, b'{"detail": "Not Found"}', LLAMA_CPP_PYTHON),
        (405, b"", LLAMA_CPP_PYTHON),
        (302, b"", LLAMA_CPP_PYTHON),
        # Undecided, asked again next time: a key problem, a server loading its model.
        (401, b"", None),
        (503, b'{"error": {"message": "Loading model"}}', None),
        (500, b"", None),
    ],
)
def test_what_a_props_answer_shows(status, body, kind):
    assert classify_props(status, body) == kind


def test_an_unreachable_server_is_not_remembered():
    with LoopbackServer() as server:
        base_url = server.base_url
    detector = ServerDetector(base_url, None)
    # The request goes with llama-cpp-python's (OpenAI's standard) forms, and fails to
    # connect on its own; the next request asks again.
    assert detector.detect() == LLAMA_CPP_PYTHON
    assert detector.kind is None


# -- the probe, through models ----------------------------------------------------------------


def test_auto_probes_props_once_and_applies_what_it_learns(loopback_server):
    model = llamacpp_model(loopback_server.base_url)
    one_tool = ToolDefinitions(schemas=[WEATHER], choice="required")
    for _ in range(3):
        loopback_server.enqueue(Reply.calls(ToolCall("get_weather", {"city": "Oslo"})))
        model("q", tool_definitions=one_tool)
        # 404: not llama-server, so llama-cpp-python's rule names the one tool.
        assert loopback_server.last_request.json["tool_choice"] == NAMED_WEATHER
    model("q", stream=True).result()
    assert probes(loopback_server) == ["GET /props"]


def test_concurrent_first_calls_from_threads_share_one_probe(loopback_server):
    model = llamacpp_model(loopback_server.base_url)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            model("q").consume()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert probes(loopback_server) == ["GET /props"]
    assert len(loopback_server.requests) == 9


async def test_async_calls_probe_once_and_share_it_with_sync_calls(loopback_server):
    model = llamacpp_model(loopback_server.base_url)
    answers = await asyncio.gather(*(model.acall(f"q{n}") for n in range(8)))
    assert [answer.consume() for answer in answers] == [f"echo: q{n}" for n in range(8)]
    response = await model.acall("s", stream=True)
    assert await response.aresult() == "echo: s"
    model("sync")
    assert probes(loopback_server) == ["GET /props"]


def test_the_probe_follows_a_path_prefix(loopback_server):
    model = llamacpp_model(loopback_server.url("/llama/v1"))
    assert model("q").consume() == "echo: q"
    assert probes(loopback_server) == ["GET /llama/props"]


def test_an_injected_client_is_probed_at_its_own_url(loopback_server):
    import openai

    with LoopbackServer() as other:
        client = openai.OpenAI(base_url=other.base_url, api_key="other-key", max_retries=0)
        model = llamacpp_model(loopback_server.base_url, client=client)
        assert model("q").consume() == "echo: q"
        assert loopback_server.requests == []  # the model's own URL is never contacted
        assert probes(other) == ["GET /props"]
        assert other.requests[0].headers["authorization"] == "Bearer other-key"


@pytest.mark.parametrize("server", [LLAMA_SERVER, LLAMA_CPP_PYTHON])
async def test_a_declared_server_is_never_probed(loopback_server, server):
    model = llamacpp_model(loopback_server.base_url, server=server)
    model("q")
    await model.acall("q")
    assert probes(loopback_server) == []


# -- llama-server's request forms -------------------------------------------------------------


class City(msgspec.Struct):
    name: str


def test_llama_server_gets_what_llama_cpp_python_needs_adapted_as_openai_sends_it(
    loopback_server,
):
    # Observed on llama-server: it honours max_tokens (sent to both servers) and OpenAI's
    # json_schema, accepts null assistant content and text parts, and maps `developer` (except
    # for templates that use the role, such as gpt-oss's).
    model = llamacpp_model(loopback_server.base_url, server=LLAMA_SERVER, max_tokens=7)
    loopback_server.enqueue(Reply.text('{"name": "Oslo"}'))
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "user", "content": "A city"},
    ]
    model(messages, generation_schema=City)
    body = loopback_server.last_request.json
    assert body["max_tokens"] == 7 and "max_completion_tokens" not in body
    assert body["response_format"]["type"] == "json_schema"
    assert [m["role"] for m in body["messages"]] == ["developer", "user", "assistant", "user"]
    assert body["messages"][1]["content"] == messages[1]["content"]
    assert body["messages"][2]["content"] is None


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_llama_server_gets_string_choices_as_given(loopback_server, choice):
    model = llamacpp_model(loopback_server.base_url, server=LLAMA_SERVER)
    model("q", tool_definitions=ToolDefinitions(schemas=[WEATHER], choice=choice))
    body = loopback_server.last_request.json
    assert body["tool_choice"] == choice
    assert body["tools"] == [WEATHER]
    assert "parallel_tool_calls" not in body


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_llama_server_gets_a_named_choice_as_required_over_that_tool(loopback_server, stream):
    model = llamacpp_model(loopback_server.base_url, server=LLAMA_SERVER)
    loopback_server.enqueue(Reply.calls(ToolCall("get_weather", {"city": "Oslo"}, id="c1")))
    tools = ToolDefinitions(schemas=[TIME, WEATHER], choice="get_weather")
    calls = model("q", tool_definitions=tools, stream=stream).consume().get_calls()
    assert [call["function"]["name"] for call in calls] == ["get_weather"]
    body = loopback_server.last_request.json
    assert body["tool_choice"] == "required"
    assert body["tools"] == [WEATHER]
    assert body["parallel_tool_calls"] is False


def test_llama_server_keeps_an_explicit_parallel_setting(loopback_server):
    model = llamacpp_model(loopback_server.base_url, server=LLAMA_SERVER)
    tools = ToolDefinitions(schemas=[WEATHER], choice="get_weather", parallel_tool_calls=True)
    model("q", tool_definitions=tools)
    assert loopback_server.last_request.json["parallel_tool_calls"] is True


def test_llama_server_gets_required_as_given_even_with_one_tool(loopback_server):
    # llama-cpp-python's rule (name the one tool) is not applied: llama-server honours
    # "required" and would drop the object.
    model = llamacpp_model(loopback_server.base_url, server=LLAMA_SERVER)
    model("q", tool_definitions=ToolDefinitions(schemas=[WEATHER], choice="required"))
    assert loopback_server.last_request.json["tool_choice"] == "required"


def test_llama_server_refuses_a_choice_object_it_would_silently_drop(loopback_server):
    model = llamacpp_model(loopback_server.base_url, server=LLAMA_SERVER)
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}
    tools = ToolDefinitions(schemas=[WEATHER], choice=choice)
    with pytest.raises(mf.UnsupportedParameterError, match="llama-server takes tool_choice"):
        model("q", tool_definitions=tools)
    assert loopback_server.requests == []


# -- the rules as functions -------------------------------------------------------------------


def test_server_rules_replace_nested_values_and_never_mutate_them():
    tools = [TIME, WEATHER]
    choice = {"type": "function", "function": {"name": "get_weather"}}
    snapshot = msgspec.json.encode([tools, choice])
    params = for_llama_server({"tools": tools, "tool_choice": choice})
    assert params == {"tools": [WEATHER], "tool_choice": "required", "parallel_tool_calls": False}
    params = for_llama_cpp_python({"tools": tools[1:], "tool_choice": "required"})
    assert params["tool_choice"] == NAMED_WEATHER
    assert msgspec.json.encode([tools, choice]) == snapshot


def test_llama_server_rule_refuses_a_name_that_is_not_among_the_tools():
    # ToolDefinitions refuses this already; a derived provider's adapt_params could not.
    choice = {"type": "function", "function": {"name": "get_time"}}
    with pytest.raises(mf.UnsupportedParameterError, match=r"\['get_weather'\]"):
        for_llama_server({"tools": [WEATHER], "tool_choice": choice})


def test_llama_cpp_python_rule_leaves_several_tools_as_given():
    params = {"tools": [TIME, WEATHER], "tool_choice": "required"}
    assert for_llama_cpp_python(dict(params)) == params
