"""A conformance suite that every provider plugin runs against itself.

Subclass :class:`ProviderConformance` in your plugin's tests, name the provider and a model,
and pytest collects about forty tests that drive your provider through the public API
against a loopback server (by default the OpenAI-compatible ``msgflux.testing.server``; a
provider with its own wire format names its own, e.g. ``msgflux.testing.anthropic_server``):
text, async, streaming, reasoning, tool calls, structured output, usage, provider errors and
bad input::

    # tests/test_conformance.py of msgflux-groq
    from msgflux.testing.conformance import ProviderConformance

    class TestGroqConformance(ProviderConformance):
        provider = "groq"
        model_id = "openai/gpt-oss-120b"
        unsupported = frozenset({"logprobs", "audio_output", "web_search"})
        stream_usage_location = "x_groq"

The tests use the ``loopback_server`` fixture: enable it with
``-p msgflux.testing.pytest_plugin`` (or ``pytest_plugins = ["msgflux.testing.pytest_plugin"]``
in a ``conftest.py``). The suite overrides it with a started ``server_class``.

The suite is wire-format neutral: it scripts answers with the ``Reply`` vocabulary (text,
reasoning, tool calls, usage, errors, streams), which every loopback server renders in its
own wire format, and it checks requests through ``assert_*`` methods whose defaults are
OpenAI's shapes. The OpenAI-wire quirk tests skip for providers without OpenAI quirks.

What a subclass can set:

- ``server_class``: the loopback server of the provider's wire format (a ``LoopbackServer``
  subclass, e.g. ``MessagesServer``).

- ``unsupported``: capabilities the provider does not declare. Each feature test then
  asserts that asking for the feature fails clearly (``UnsupportedParameterError``, nothing
  sent) instead of testing the feature: nothing is skipped silently.
- ``reasoning_fields``, ``stream_usage_location``: where the provider puts reasoning and
  streamed usage on the wire, so the server answers the way the provider does.
- ``plain_request_extras``: the JSON fields the provider adds to every request (the plain
  call is asserted exactly).
- ``make_model(server, **options)``: how a model is built (extra options, env vars...).
- ``assert_*`` methods: what the provider's request looks like (path and key, plain
  calls, history, streams, tools, tool results, structured output, text parts) and how it
  reports usage (the defaults are OpenAI's shapes), and ``check_request(request, case)`` for
  anything else, called after every exchange.
- ``transports``: the values of the provider's ``transport`` option to run every test with.
  ``TRANSPORTS`` below is the one place that lists them for OpenAI-compatible providers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import msgspec
import pytest

import msgflux as mf
from msgflux.errors import UnsupportedParameterError
from msgflux.testing.server import Audio, LoopbackServer, RecordedRequest, Reply, ToolCall, Usage

__all__ = [
    "EFFORTS",
    "REFUSABLE",
    "SAMPLE_VALUES",
    "TOOLS",
    "TRANSPORTS",
    "Answer",
    "ProviderConformance",
]

#: Transports of OpenAI-compatible providers (their ``transport`` option). Every test of a
#: provider that declares a ``transport`` option runs once per entry.
TRANSPORTS: tuple[str, ...] = ("sdk", "fast")

#: Capabilities whose absence the pipeline can detect from the request alone, with the call
#: options that ask for each. (``reasoning`` and ``vision`` are not refusable this way: a
#: request does not say in advance that it needs them.)
REFUSABLE: Mapping[str, Mapping[str, Any]] = {
    "streaming": {"stream": True},
    "tools": {},  # tool definitions are added per call (a fresh object each time)
    "structured_output": {},  # generation_schema=Answer, added per call
    "logprobs": {"logprobs": True},
    "audio_output": {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "mp3"}},
    "web_search": {"web_search_options": {"search_context_size": "low"}},
}

#: A valid value of each request option, for the tests of what a provider refuses.
SAMPLE_VALUES: Mapping[str, Any] = {
    "max_tokens": 16,
    "temperature": 0.5,
    "top_p": 0.5,
    "stop": ["END"],
    "seed": 1,
    "presence_penalty": 0.5,
    "frequency_penalty": 0.5,
    "reasoning_effort": "low",
    "verbosity": "low",
    "logprobs": True,
    "parallel_tool_calls": True,
    "prompt_cache_retention": "24h",
    "web_search_options": {"search_context_size": "low"},
    "modalities": ["text", "audio"],
    "audio": {"voice": "alloy", "format": "mp3"},
    "top_logprobs": 2,
}

#: Every ``reasoning_effort`` msgflux accepts; a provider's ``Quirks.reasoning_efforts``
#: says which of them reach it.
EFFORTS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high", "xhigh")

#: Function-calling schemas used by the tool tests.
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Current time in a time zone.",
            "parameters": {
                "type": "object",
                "properties": {"tz": {"type": "string"}},
                "required": ["tz"],
                "additionalProperties": False,
            },
        },
    },
]


class Answer(msgspec.Struct):
    """The generation schema of the structured-output tests."""

    value: int
    unit: str


def _tools(choice: str | None = "auto") -> Any:
    from msgflux.tools import ToolDefinitions

    return ToolDefinitions(schemas=TOOLS, choice=choice)


def _call(name: str, arguments: Mapping[str, Any], call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


class ProviderConformance:
    """Base class of a provider's conformance tests (see the module docstring).

    Attributes:
        provider: The provider name, as in ``"<provider>/<model_id>"``.
        model_id: A model id of that provider.
        api_key: The key passed to ``make_model`` (``None`` to pass none).
        unsupported: Capabilities (``msgflux.providers.CAPABILITIES``) the provider does
            not support; their tests assert a clear refusal instead.
        reasoning_fields: Message/delta fields in which the provider sends reasoning text.
        stream_usage_location: Where the provider puts token usage in a stream:
            ``"chunk"`` (OpenAI: a last chunk, when ``stream_options.include_usage`` is
            sent), ``"finish"`` (on the chunk with ``finish_reason``) or ``"x_groq"``.
        plain_request_extras: JSON fields the provider adds to a plain request.
        transports: ``transport`` option values to run every test with; ``None`` means
            ``TRANSPORTS`` when the provider declares a ``transport`` option, else one
            run without it.
        server_class: The loopback server speaking the provider's wire format.
    """

    provider: ClassVar[str]
    model_id: ClassVar[str]
    api_key: ClassVar[str | None] = "conformance-key"
    unsupported: ClassVar[frozenset[str]] = frozenset()
    reasoning_fields: ClassVar[tuple[str, ...]] = ("reasoning",)
    stream_usage_location: ClassVar[str] = "chunk"
    plain_request_extras: ClassVar[Mapping[str, Any]] = {}
    transports: ClassVar[tuple[str, ...] | None] = None
    server_class: ClassVar[type[LoopbackServer]] = LoopbackServer

    # -- customisation points --------------------------------------------------------------

    def make_model(self, server: LoopbackServer, **options: Any) -> mf.ChatCompletionModel:
        """Build the model under test, pointed at ``server``.

        Override to add provider options or env vars; keep passing ``**options`` through.
        """
        if self.api_key is not None:
            options.setdefault("api_key", self.api_key)
        return mf.Model.chat_completion(
            f"{self.provider}/{self.model_id}", base_url=server.base_url, **options
        )

    def check_request(self, request: RecordedRequest, case: str) -> None:
        """Extra assertions on the request of scenario ``case`` (default: none).

        ``case`` is one of ``"text"``, ``"async_text"``, ``"stream"``, ``"reasoning"``,
        ``"tools"``, ``"stream_tools"``, ``"structured"``, ``"logprobs"``, ``"audio"``,
        ``"web_search"``, ``"usage"``.
        """

    def assert_request_basics(self, request: RecordedRequest) -> None:
        """Every request: OpenAI's path, and the key as a bearer token."""
        assert request.method == "POST" and request.path.endswith("/chat/completions")
        if self.api_key is not None:
            assert request.headers["authorization"] == f"Bearer {self.api_key}"

    def assert_history_request(
        self, body: Mapping[str, Any], system: str, history: list[dict[str, Any]]
    ) -> None:
        """The system prompt first, then the history, in order."""
        assert body["messages"] == [{"role": "system", "content": system}, *history]

    def assert_tool_result_request(
        self, body: Mapping[str, Any], call_id: str, result: str
    ) -> None:
        """The tool round trip: the assistant's call, then the call's result."""
        sent = body["messages"]
        assert sent[-1] == {"role": "tool", "tool_call_id": call_id, "content": result}
        assert sent[-2]["role"] == "assistant"
        assert sent[-2]["tool_calls"][0]["id"] == call_id

    def assert_usage(
        self, usage: Mapping[str, Any], prompt: int, completion: int, reasoning: int | None
    ) -> None:
        """Usage in OpenAI's names (``reasoning``: the reasoning tokens scripted, if any)."""
        counts = (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"])
        assert counts == (prompt, completion, prompt + completion), usage
        if reasoning is not None:
            assert usage["completion_tokens_details"]["reasoning_tokens"] == reasoning

    def assert_plain_request(self, body: Mapping[str, Any], messages: list[dict[str, Any]]) -> None:
        """A plain call sends the model, the messages and ``plain_request_extras``, nothing else."""
        expected = {"model": self.model_id, "messages": messages, **self.plain_request_extras}
        assert body == expected, f"plain request {body!r} != {expected!r}"

    def assert_stream_request(self, body: Mapping[str, Any]) -> None:
        """A stream asks for streaming, and for usage at its end."""
        assert body.get("stream") is True
        if self.stream_usage_location == "chunk":
            assert body.get("stream_options") == {"include_usage": True}

    def assert_tools_request(
        self, body: Mapping[str, Any], tools: list[dict[str, Any]], choice: Any
    ) -> None:
        """The tools are sent as given, with the tool choice."""
        assert body["tools"] == tools
        assert body.get("tool_choice") == choice

    def assert_structured_request(self, body: Mapping[str, Any], name: str) -> None:
        """Structured output is asked for as OpenAI's strict ``json_schema`` response format."""
        response_format = body["response_format"]
        assert response_format["type"] == "json_schema"
        assert response_format["json_schema"]["name"] == name
        assert response_format["json_schema"]["schema"]["required"] == ["value", "unit"]

    def assert_text_parts_request(self, content: Any, parts: list[Any], joins: bool) -> None:
        """Text parts are joined into one string when ``Quirks.text_content_only``, else sent."""
        assert content == ("\n".join(part["text"] for part in parts) if joins else parts)

    def assert_web_search_request(self, body: Mapping[str, Any]) -> None:
        """Web search is asked for with OpenAI's ``web_search_options``."""
        assert body["web_search_options"] == {"search_context_size": "low"}

    # -- plumbing ---------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run every test once per transport (the single place transports are chosen)."""
        if "transport" in metafunc.fixturenames:
            metafunc.parametrize("transport", self._transports())

    def _transports(self) -> tuple[str | None, ...]:
        if self.transports is not None:
            return self.transports
        from msgflux.plugins import provider_chain

        declares = any("transport" in spec.options for spec in provider_chain(self.provider))
        return TRANSPORTS if declares else (None,)

    @pytest.fixture
    def loopback_server(self) -> Any:
        """A started ``server_class`` (stopped, connections closed, after the test)."""
        with self.server_class() as server:
            yield server

    @pytest.fixture(autouse=True)
    def _close_models(self) -> Iterator[None]:
        self._models: list[mf.ChatCompletionModel] = []
        yield
        for model in self._models:
            model.close()

    def _model(
        self, server: LoopbackServer, transport: str | None, **options: Any
    ) -> mf.ChatCompletionModel:
        if transport is not None:
            options["transport"] = transport
        model = self.make_model(server, **options)
        self._models.append(model)
        return model

    def _last(self, server: LoopbackServer, case: str) -> dict[str, Any]:
        request = server.last_request
        self.assert_request_basics(request)
        assert request.json["model"] == self.model_id
        self.check_request(request, case)
        assert not server.errors, server.errors
        body: dict[str, Any] = request.json
        return body

    def _refused(self, capability: str, server: LoopbackServer, call: Callable[[], Any]) -> bool:
        """If ``capability`` is unsupported, assert ``call`` fails clearly and sends nothing."""
        if capability not in self.unsupported:
            return False
        with pytest.raises(UnsupportedParameterError) as caught:
            call()
        message = str(caught.value)
        assert self.provider in message and capability.replace("_", " ") in message, message
        assert server.requests == [], "a refused request must not reach the provider"
        return True

    # -- declaration -------------------------------------------------------------------------

    def test_declared_capabilities_match(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        assert self.unsupported.isdisjoint(model.supports), (
            f"{self.provider} declares {sorted(self.unsupported & model.supports)} "
            "that the suite was told are unsupported"
        )
        for capability in REFUSABLE:
            if capability not in self.unsupported:
                assert capability in model.supports, f"{self.provider} lacks {capability!r}"

    # -- text ---------------------------------------------------------------------------------

    def test_plain_text_call(self, loopback_server: LoopbackServer, transport: str | None) -> None:
        model = self._model(loopback_server, transport)
        loopback_server.enqueue(Reply.text("Hello there"))
        response = model("Hello")
        assert response.consume() == "Hello there"
        assert response.response_type == "text_generation"
        assert response.reasoning is None
        body = self._last(loopback_server, "text")
        self.assert_plain_request(body, [{"role": "user", "content": "Hello"}])

    def test_system_prompt_and_history_are_sent_in_order(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        history = [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "What is 2+2?"},
        ]
        model(history, system_prompt="Be brief.")
        body = self._last(loopback_server, "text")
        self.assert_history_request(body, "Be brief.", history)

    def test_falsy_generation_values_are_sent(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        refused = model.quirks.refused or {}
        values: dict[str, Any] = {
            name: 0 for name in ("temperature", "top_p", "seed") if name not in refused
        }
        model("q", **values)
        body = self._last(loopback_server, "text")
        assert {name: body[name] for name in values} == values

    async def test_async_text_call(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        loopback_server.enqueue(Reply.text("async answer"))
        response = await model.acall("Hello")
        assert response.consume() == "async answer"
        self._last(loopback_server, "async_text")

    # -- streaming ----------------------------------------------------------------------------

    def test_stream_sync_iteration(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)

        def stream() -> mf.ModelStreamResponse:
            return model("q", stream=True)

        if self._refused("streaming", loopback_server, stream):
            return
        loopback_server.enqueue(Reply.text("one two three", chunks=["one", " two", " three"]))
        response = stream()
        assert list(response) == ["one", " two", " three"]
        assert response.data == "one two three" and response.response_type == "text_generation"
        self.assert_stream_request(self._last(loopback_server, "stream"))

    async def test_stream_async_consume(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        if "streaming" in self.unsupported:
            with pytest.raises(UnsupportedParameterError):
                await model.acall("q", stream=True)
            return
        loopback_server.enqueue(Reply.text("alpha beta", chunks=["alpha", " beta"]))
        response = await model.acall("q", stream=True)
        assert [chunk async for chunk in response.consume()] == ["alpha", " beta"]
        assert await response.aresult() == "alpha beta"
        self.assert_stream_request(self._last(loopback_server, "stream"))

    @pytest.mark.parametrize(
        "reasoning_first", [True, False], ids=["reasoning-first", "content-first"]
    )
    async def test_stream_reasoning_and_content_in_either_order(
        self, loopback_server: LoopbackServer, transport: str | None, reasoning_first: bool
    ) -> None:
        model = self._model(loopback_server, transport)
        if "streaming" in self.unsupported:
            return  # refused by test_stream_sync_iteration
        loopback_server.enqueue(
            Reply.text(
                "The answer is 4.",
                reasoning="2 plus 2 is 4",
                reasoning_field=self.reasoning_fields[0],
            )
        )
        response = await model.acall("What is 2+2?", stream=True)
        if reasoning_first:
            thinking = "".join([c async for c in response.consume_reasoning()])
            answer = "".join([c async for c in response.consume()])
        else:
            answer = "".join([c async for c in response.consume()])
            thinking = "".join([c async for c in response.consume_reasoning()])
        assert (thinking, answer) == ("2 plus 2 is 4", "The answer is 4.")
        assert response.reasoning == "2 plus 2 is 4" and response.has_reasoning
        self._last(loopback_server, "stream")

    def test_stream_reasoning_sync_iteration(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        if "streaming" in self.unsupported:
            return  # refused by test_stream_sync_iteration
        loopback_server.enqueue(
            Reply.text("42", reasoning="six times seven", reasoning_field=self.reasoning_fields[0])
        )
        response = model("q", stream=True)
        assert "".join(response.iter_reasoning()) == "six times seven"
        assert "".join(response) == "42"

    # -- reasoning ----------------------------------------------------------------------------

    def test_reasoning_is_kept_apart_from_the_answer(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        for field in self.reasoning_fields:
            loopback_server.enqueue(
                Reply.text("108", reasoning="15*7=105, +3=108", reasoning_field=field)
            )
            response = model("What is 15 * 7 + 3?")
            assert response.consume() == "108", field
            assert response.reasoning == "15*7=105, +3=108", field
            self._last(loopback_server, "reasoning")

    def test_return_reasoning_false_drops_the_trace(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport, return_reasoning=False)
        loopback_server.enqueue(
            Reply.text("108", reasoning="secret", reasoning_field=self.reasoning_fields[0])
        )
        response = model("q")
        assert response.consume() == "108" and response.reasoning is None

    # -- tool calls ---------------------------------------------------------------------------

    def test_single_tool_call(self, loopback_server: LoopbackServer, transport: str | None) -> None:
        model = self._model(loopback_server, transport)

        def call() -> mf.ModelResponse:
            return model("Weather in Paris?", tool_definitions=_tools("get_weather"))

        if self._refused("tools", loopback_server, call):
            return
        loopback_server.enqueue(Reply.calls(ToolCall("get_weather", {"city": "Paris"}, id="c1")))
        response = call()
        assert response.response_type == "tool_call"
        aggregator = response.consume()
        assert aggregator.get_calls() == [_call("get_weather", {"city": "Paris"}, "c1")]
        assert response.metadata.finish_reason == "tool_calls"
        body = self._last(loopback_server, "tools")
        self.assert_tools_request(
            body, TOOLS, {"type": "function", "function": {"name": "get_weather"}}
        )

    def test_parallel_tool_calls_with_text(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)

        def call() -> mf.ModelResponse:
            return model("Paris weather and UTC time?", tool_definitions=_tools())

        if self._refused("tools", loopback_server, call):
            return
        loopback_server.enqueue(
            Reply.calls(
                ToolCall("get_weather", {"city": "Paris"}, id="c1"),
                ToolCall("get_time", {"tz": "UTC"}, id="c2"),
                content="Checking both.",
            )
        )
        aggregator = call().consume()
        assert aggregator.get_calls() == [
            _call("get_weather", {"city": "Paris"}, "c1"),
            _call("get_time", {"tz": "UTC"}, "c2"),
        ]
        assert aggregator.content == "Checking both."
        self.assert_tools_request(self._last(loopback_server, "tools"), TOOLS, "auto")

    @pytest.mark.parametrize("ids", ["first", "every", "late"])
    def test_streamed_parallel_tool_calls_with_interleaved_fragments(
        self, loopback_server: LoopbackServer, transport: str | None, ids: str
    ) -> None:
        model = self._model(loopback_server, transport)
        if "streaming" in self.unsupported:
            return  # refused by test_stream_sync_iteration

        def call() -> mf.ModelStreamResponse:
            return model("q", stream=True, tool_definitions=_tools())

        if self._refused("tools", loopback_server, call):
            return
        loopback_server.enqueue(
            Reply.calls(
                ToolCall(
                    "get_weather",
                    '{"city": "Paris"}',
                    id="c1",
                    chunks=['{"ci', 'ty": "Pa', 'ris"}'],
                ),
                ToolCall("get_time", '{"tz": "UTC"}', id="c2", chunks=['{"tz"', ': "UTC"}']),
                interleave_tool_calls=True,
                tool_call_ids=ids,
            )
        )
        response = call()
        calls = response.consume().get_calls()
        assert calls == [
            _call("get_weather", {"city": "Paris"}, "c1"),
            _call("get_time", {"tz": "UTC"}, "c2"),
        ], calls
        body = self._last(loopback_server, "stream_tools")
        self.assert_stream_request(body)
        self.assert_tools_request(body, TOOLS, "auto")

    async def test_streamed_text_then_tool_call_keeps_both(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        if "streaming" in self.unsupported or "tools" in self.unsupported:
            return  # refused by the tests above
        loopback_server.enqueue(
            Reply.calls(ToolCall("get_time", {"tz": "UTC"}, id="c9"), content="Let me check.")
        )
        response = await model.acall("q", stream=True, tool_definitions=_tools())
        aggregator = await response.aresult()
        assert response.response_type == "tool_call"
        assert aggregator.content == "Let me check."
        assert aggregator.get_calls() == [_call("get_time", {"tz": "UTC"}, "c9")]

    def test_tool_results_round_trip(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        if "tools" in self.unsupported:
            return  # refused by test_single_tool_call
        loopback_server.enqueue(
            Reply.calls(ToolCall("get_weather", {"city": "Paris"}, id="c1")),
            Reply.text("It is sunny in Paris."),
        )
        tools = _tools()
        messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris?"}]
        aggregator = model(messages, tool_definitions=tools).consume()
        aggregator.insert_results("c1", "sunny, 21 C")
        messages += aggregator.get_messages()
        assert model(messages, tool_definitions=tools).consume() == "It is sunny in Paris."
        body = self._last(loopback_server, "tools")
        self.assert_tools_request(body, TOOLS, "auto")
        self.assert_tool_result_request(body, "c1", "sunny, 21 C")

    # -- structured output --------------------------------------------------------------------

    def test_structured_output(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)

        def call() -> mf.ModelResponse:
            return model("How heavy?", generation_schema=Answer)

        if self._refused("structured_output", loopback_server, call):
            return
        loopback_server.enqueue(Reply.text('{"value": 3, "unit": "kg"}'))
        response = call()
        assert response.response_type == "structured"
        data = response.consume()
        assert data == {"value": 3, "unit": "kg"} and data.value == 3
        self.assert_structured_request(self._last(loopback_server, "structured"), "Answer")

    def test_structured_output_that_does_not_fit_keeps_the_raw_text(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        if "structured_output" in self.unsupported:
            return  # refused by test_structured_output
        loopback_server.enqueue(Reply.text('{"value": "three"}'))
        with pytest.raises(mf.StructuredOutputError) as caught:
            model("q", generation_schema=Answer)
        assert caught.value.raw_text == '{"value": "three"}'

    # -- optional capabilities ----------------------------------------------------------------

    def test_logprobs(self, loopback_server: LoopbackServer, transport: str | None) -> None:
        model = self._model(loopback_server, transport)

        def call() -> mf.ModelResponse:
            return model("q", logprobs=True)

        if self._refused("logprobs", loopback_server, call):
            return
        loopback_server.enqueue(Reply.text("a b", logprobs=True))
        response = call()
        assert [entry["token"] for entry in response.metadata.logprobs["content"]] == ["a", " b"]
        assert self._last(loopback_server, "logprobs")["logprobs"] is True

    def test_audio_output(self, loopback_server: LoopbackServer, transport: str | None) -> None:
        model = self._model(loopback_server, transport)
        options = REFUSABLE["audio_output"]

        def call() -> mf.ModelResponse:
            return model("say hi", stream=False, **options)

        if self._refused("audio_output", loopback_server, call):
            return
        loopback_server.enqueue(Reply.text(None, audio=Audio(transcript="hi", data=b"\x01\x02")))
        response = call()
        assert response.data.audio == b"\x01\x02" and response.data.text == "hi"
        self._last(loopback_server, "audio")

    def test_web_search(self, loopback_server: LoopbackServer, transport: str | None) -> None:
        model = self._model(loopback_server, transport)
        options = REFUSABLE["web_search"]

        def call() -> mf.ModelResponse:
            return model("news?", stream=False, **options)

        if self._refused("web_search", loopback_server, call):
            return
        citation = {
            "type": "url_citation",
            "url_citation": {"url": "https://example.com", "title": "E"},
        }
        loopback_server.enqueue(Reply.text("Found it.", annotations=[citation]))
        response = call()
        assert response.consume() == "Found it."
        assert response.metadata.annotations == [citation]
        self.assert_web_search_request(self._last(loopback_server, "web_search"))

    # -- usage --------------------------------------------------------------------------------

    def test_usage_in_metadata(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        loopback_server.enqueue(Reply.text("ok", usage=Usage(11, 2, reasoning_tokens=1)))
        response = model("q")
        self.assert_usage(response.metadata.usage, 11, 2, 1)
        assert response.metadata.finish_reason == "stop"
        self._last(loopback_server, "usage")

    def test_streamed_usage_in_metadata(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        if "streaming" in self.unsupported:
            return  # refused by test_stream_sync_iteration
        loopback_server.enqueue(
            Reply.text("ok then", usage=Usage(7, 3), usage_location=self.stream_usage_location)
        )
        response = model("q", stream=True)
        assert "".join(response) == "ok then"
        metadata = response.metadata
        assert metadata is not None  # set once the stream has ended
        self.assert_usage(metadata.usage, 7, 3, None)
        assert metadata.finish_reason == "stop"
        self.assert_stream_request(self._last(loopback_server, "usage"))

    # -- provider errors ----------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("status", "error_type"),
        [
            (400, mf.BadRequestError),
            (401, mf.AuthenticationError),
            (403, mf.AuthenticationError),
            (404, mf.BadRequestError),
            (422, mf.BadRequestError),
            (500, mf.ProviderError),
        ],
    )
    def test_provider_errors_are_mapped(
        self,
        loopback_server: LoopbackServer,
        transport: str | None,
        status: int,
        error_type: type[mf.ProviderError],
    ) -> None:
        model = self._model(loopback_server, transport, retry=False)
        loopback_server.enqueue(
            Reply.error(status, "the provider says no", headers={"x-request-id": "req_7"})
        )
        with pytest.raises(error_type) as caught:
            model("q")
        error = caught.value
        assert (error.status, error.provider) == (status, self.provider)
        assert "the provider says no" in str(error) and error.request_id == "req_7"
        assert len(loopback_server.requests) == 1

    def test_rate_limit_without_retry_fails_at_once(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport, retry=False)
        loopback_server.enqueue(Reply.error(429, "slow down", headers={"Retry-After": "7"}))
        with pytest.raises(mf.RateLimitError) as caught:
            model("q")
        assert caught.value.retry_after == 7.0 and caught.value.provider == self.provider
        assert len(loopback_server.requests) == 1

    def test_rate_limit_is_retried_after_the_wait_the_provider_asks(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        loopback_server.enqueue(
            Reply.error(429, "slow down", headers={"Retry-After": "0"}), Reply.text("finally")
        )
        assert model("q").consume() == "finally"
        assert len(loopback_server.requests) == 2

    def test_rate_limit_gives_up_after_the_last_attempt(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport, retry={"max_attempts": 2})
        for _ in range(2):
            loopback_server.enqueue(Reply.error(429, "slow down", headers={"Retry-After": "0"}))
        with pytest.raises(mf.RateLimitError):
            model("q")
        assert len(loopback_server.requests) == 2

    def test_stream_that_fails_before_its_first_chunk_raises_at_the_call(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport, retry=False)
        if "streaming" in self.unsupported:
            return
        loopback_server.enqueue(Reply.error(401, "bad key"))
        with pytest.raises(mf.AuthenticationError):
            model("q", stream=True)

    # -- declared facts: ProviderSpec and Quirks, each checked on the wire -----------------------

    def test_key_and_url_come_from_the_providers_own_env_vars(
        self,
        loopback_server: LoopbackServer,
        transport: str | None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        *bases, spec = mf.plugins.provider_chain(self.provider)
        for name in spec.api_key_env:
            monkeypatch.delenv(name, raising=False)
        for base in bases:  # a derived provider never sends its base's key
            for name in set(base.api_key_env) - set(spec.api_key_env):
                monkeypatch.setenv(name, "sk-a-base-providers-key-must-not-leak")
        path = f"{self.provider}/{self.model_id}"
        options = {} if transport is None else {"transport": transport}
        if spec.api_key_required:
            with pytest.raises(mf.MissingAPIKeyError) as caught:
                mf.Model.chat_completion(path, base_url=loopback_server.base_url, **options)
            assert all(name in str(caught.value) for name in spec.api_key_env)
        if spec.base_url_env is None or not spec.api_key_env:
            return
        monkeypatch.setenv(spec.api_key_env[0], "key-from-env")
        monkeypatch.setenv(spec.base_url_env, loopback_server.base_url)
        model = mf.Model.chat_completion(path, **options)
        self._models.append(model)
        model("q")
        assert "sk-a-base-providers-key" not in repr(loopback_server.last_request.headers)
        assert "key-from-env" in repr(loopback_server.last_request.headers)

    def test_refused_parameters_fail_before_anything_is_sent(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        refused = model.quirks.refused or {}
        for name in refused:
            with pytest.raises(UnsupportedParameterError) as caught:
                model("q", **{name: SAMPLE_VALUES[name]})
            assert self.provider in str(caught.value) and name in str(caught.value)
        assert loopback_server.requests == []

    def test_reasoning_efforts_as_declared(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        declared = model.quirks.reasoning_efforts
        if declared is None:
            pytest.skip(f"{self.provider} declares no Quirks.reasoning_efforts")
        for effort in EFFORTS:
            sent_before = len(loopback_server.requests)
            if effort in declared:
                model("q", reasoning_effort=effort)
                assert len(loopback_server.requests) == sent_before + 1, effort
                continue
            with pytest.raises(UnsupportedParameterError, match=", ".join(declared)):
                model("q", reasoning_effort=effort)
            assert len(loopback_server.requests) == sent_before, effort

    def test_max_tokens_goes_under_the_declared_field(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        field = self._openai_quirk(model, "max_tokens_field")
        model("q", max_tokens=16)
        body = self._last(loopback_server, "text")
        other = "max_tokens" if field == "max_completion_tokens" else "max_completion_tokens"
        assert body[field] == 16 and other not in body

    def test_tool_strict_as_declared(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        keeps_strict = self._openai_quirk(model, "tool_strict")
        if "tools" in self.unsupported:
            return  # refused by test_single_tool_call
        from msgflux.tools import ToolDefinitions

        strict = [{**tool, "function": {**tool["function"], "strict": True}} for tool in TOOLS]
        model("q", tool_definitions=ToolDefinitions(schemas=strict))
        sent = self._last(loopback_server, "tools")["tools"]
        assert [tool["function"].get("strict") for tool in sent] == [
            True if keeps_strict else None
        ] * len(TOOLS)
        assert strict[0]["function"]["strict"] is True  # the caller's schemas keep it

    def test_text_parts_as_declared(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        joins = self._openai_quirk(model, "text_content_only")
        parts = [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]
        model([{"role": "user", "content": parts}])
        content = self._last(loopback_server, "text")["messages"][0]["content"]
        self.assert_text_parts_request(content, parts, joins)

    def test_images_as_declared(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        remote = self._openai_quirk(model, "remote_images")
        url = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
        data = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        if "vision" not in model.supports:
            with pytest.raises(UnsupportedParameterError, match=r"vision.*messages\[0\]"):
                model([{"role": "user", "content": [data]}])
            assert loopback_server.requests == []
            return
        model([{"role": "user", "content": [data]}])
        assert self._last(loopback_server, "text")["messages"][0]["content"] == [data]
        if remote:
            model([{"role": "user", "content": [url]}])
            assert self._last(loopback_server, "text")["messages"][0]["content"] == [url]
            return
        with pytest.raises(UnsupportedParameterError, match=r"messages\[0\].*example.com"):
            model([{"role": "user", "content": [url]}])

    def test_think_tags_as_declared(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        splits = self._openai_quirk(model, "think_tags")
        text = "<think>\n15*7=105\n</think>\n\n108"
        loopback_server.enqueue(Reply.text(text))
        response = model("q")
        if not splits:
            assert response.consume() == text
            return
        assert (response.consume(), response.reasoning) == ("108", "15*7=105")
        if "streaming" in self.unsupported:
            return
        chunks = ["<thi", "nk>15*7", "=105</th", "ink>\n\n1", "08"]
        loopback_server.enqueue(Reply.text("".join(chunks), chunks=chunks))
        streamed = model("q", stream=True)
        assert ("".join(streamed), streamed.reasoning) == ("108", "15*7=105")

    def _openai_quirk(self, model: mf.ChatCompletionModel, name: str) -> Any:
        """A quirk the OpenAI wire format applies; skip for providers of another wire format."""
        value = getattr(model.quirks, name)
        if value is None:
            pytest.skip(f"{self.provider} does not speak the OpenAI wire format ({name} unset)")
        return value

    # -- bad input ----------------------------------------------------------------------------

    def test_unknown_model_keyword_is_a_type_error(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        with pytest.raises(TypeError, match="temperature"):
            self._model(loopback_server, transport, temprature=0.2)

    def test_unknown_call_keyword_is_a_type_error(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        with pytest.raises(TypeError, match="system_prompt"):
            model("q", system_promt="x")
        assert loopback_server.requests == []

    def test_caller_data_is_not_mutated(
        self, loopback_server: LoopbackServer, transport: str | None
    ) -> None:
        model = self._model(loopback_server, transport)
        messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        extra_body = {"custom": {"nested": [1]}}
        snapshot = msgspec.json.encode([messages, extra_body])
        model(messages, extra_body=extra_body)
        assert msgspec.json.encode([messages, extra_body]) == snapshot
