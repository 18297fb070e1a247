"""The ``chat {model}`` span and the GenAI client metrics of plain calls, streams and errors.

Every call goes over real HTTP to the loopback server; spans and metrics come from the real
OpenTelemetry SDK (in-memory exporters). Each test asserts the span's attributes as a
whole, so an attribute recorded by mistake fails as surely as a missing one.
"""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from msgflux.errors import BadRequestError, ProviderError
from msgflux.testing.server import Reply, ToolCall, Usage

DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"
FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"


def identity(server, model="gpt-test"):
    """What identifies the calls of ``model`` on the loopback server (spans and metrics)."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "server.address": "127.0.0.1",
        "server.port": server.port,
    }


def answered(response_id, *, model="gpt-test-2025", finish="stop", usage=(12, 5)):
    return {
        "gen_ai.response.id": response_id,
        "gen_ai.response.model": model,
        "gen_ai.response.finish_reasons": (finish,),
        "gen_ai.usage.input_tokens": usage[0],
        "gen_ai.usage.output_tokens": usage[1],
    }


def test_a_plain_call_is_one_client_span_with_the_request_and_the_answer(
    telemetry, make_model, loopback_server
):
    loopback_server.enqueue(
        Reply.text(
            "Paris.",
            id="chatcmpl-1",
            model="gpt-test-2025",
            usage=Usage(12, 5, cached_tokens=4, reasoning_tokens=2),
        )
    )
    model = make_model(temperature=0.2, top_p=0.9, seed=7)
    response = model(
        "Capital of France?",
        max_tokens=50,
        stop=["\n", "END"],
        presence_penalty=0.5,
        frequency_penalty=0.25,
    )
    assert response.consume() == "Paris."

    span = telemetry.span()
    assert span.name == "chat gpt-test"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None
    assert dict(span.attributes) == {
        **identity(loopback_server),
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.seed": 7,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.stop_sequences": ("\n", "END"),
        "gen_ai.request.presence_penalty": 0.5,
        "gen_ai.request.frequency_penalty": 0.25,
        **answered("chatcmpl-1"),
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
    }
    assert span.events == ()

    (duration,) = telemetry.points(DURATION)
    assert dict(duration.attributes) == {
        **identity(loopback_server),
        "gen_ai.response.model": "gpt-test-2025",
    }
    assert duration.count == 1
    assert 0 < duration.sum <= (span.end_time - span.start_time) / 1e9 + 0.05
    tokens = {p.attributes["gen_ai.token.type"]: p for p in telemetry.points(TOKENS)}
    assert sorted(tokens) == ["input", "output"]
    assert (tokens["input"].sum, tokens["output"].sum) == (12, 5)
    assert dict(tokens["input"].attributes) == {
        **identity(loopback_server),
        "gen_ai.response.model": "gpt-test-2025",
        "gen_ai.token.type": "input",
    }
    assert telemetry.points(FIRST_CHUNK) == []


def test_the_metrics_carry_the_conventions_units_and_bucket_advice(
    telemetry, make_model, loopback_server
):
    make_model()("hi")
    duration = telemetry.metric(DURATION)
    assert duration.unit == "s"
    assert duration.data.data_points[0].explicit_bounds[:3] == (0.01, 0.02, 0.04)
    assert duration.data.data_points[0].explicit_bounds[-1] == 81.92
    tokens = telemetry.metric(TOKENS)
    assert tokens.unit == "{token}"
    assert tokens.data.data_points[0].explicit_bounds[:4] == (1, 4, 16, 64)


async def test_an_async_call_records_the_same_span(telemetry, make_model, loopback_server):
    loopback_server.enqueue(Reply.text("Paris.", id="chatcmpl-2", model="gpt-test-2025"))
    response = await make_model().acall("Capital of France?", temperature=0)
    assert response.consume() == "Paris."
    span = telemetry.span()
    assert span.name == "chat gpt-test"
    attributes = dict(span.attributes)
    assert attributes["gen_ai.request.temperature"] == 0.0  # falsy values are values
    assert attributes["gen_ai.response.id"] == "chatcmpl-2"
    assert attributes["gen_ai.response.model"] == "gpt-test-2025"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.input_tokens"] > 0


def test_structured_output_and_tool_calls_say_what_was_asked_for(
    telemetry, make_model, loopback_server
):
    from msgspec import Struct

    from msgflux.tools import ToolDefinitions

    class City(Struct):
        name: str

    def weather(city: str) -> str:
        """Weather in a city."""
        return "rain"

    loopback_server.enqueue(
        Reply.text('{"name": "Paris"}'),
        Reply.calls(ToolCall("weather", {"city": "Paris"}, id="call_1")),
    )
    model = make_model()
    assert model("Capital?", generation_schema=City).consume().name == "Paris"
    tools = ToolDefinitions.from_callables([weather])
    model("Weather?", tool_definitions=tools)
    structured, tool_call = telemetry.spans()
    assert structured.attributes["gen_ai.output.type"] == "json"
    assert "gen_ai.output.type" not in tool_call.attributes
    assert tool_call.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)


# -- streams ---------------------------------------------------------------------------------


def test_a_stream_read_to_its_end_ends_its_span_with_the_answer(
    telemetry, make_model, loopback_server
):
    loopback_server.enqueue(
        Reply.text("one two three", id="chatcmpl-s", model="gpt-test-2025", usage=Usage(12, 5))
    )
    response = make_model()("Count", stream=True, max_tokens=20)
    assert "".join(response) == "one two three"

    span = telemetry.span()  # ended before the reader saw the end
    attributes = dict(span.attributes)
    first_chunk = attributes.pop("gen_ai.response.time_to_first_chunk")
    assert attributes == {
        **identity(loopback_server),
        "gen_ai.request.max_tokens": 20,
        **answered("chatcmpl-s"),
    }
    assert 0 < first_chunk <= (span.end_time - span.start_time) / 1e9
    assert span.events == ()
    assert span.status.status_code is StatusCode.UNSET
    (point,) = telemetry.points(FIRST_CHUNK)
    assert point.count == 1 and point.sum == pytest.approx(first_chunk)
    assert dict(point.attributes) == identity(loopback_server)
    assert telemetry.metric(FIRST_CHUNK).unit == "s"
    (duration,) = telemetry.points(DURATION)
    assert duration.sum >= first_chunk
    assert sum(p.sum for p in telemetry.points(TOKENS)) == 17


async def test_an_async_stream_ends_its_span_when_consume_ends(
    telemetry, make_model, loopback_server
):
    loopback_server.enqueue(Reply.text("one two three", id="chatcmpl-a", model="gpt-test-2025"))
    response = await make_model().acall("Count", stream=True)
    chunks = [chunk async for chunk in response.consume()]
    assert "".join(chunks) == "one two three"
    span = telemetry.span()
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-a"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


def test_a_stream_closed_early_ends_its_span_at_the_close(telemetry, make_model, loopback_server):
    # The server sends the role chunk and two words, then stalls: only closing ends it.
    loopback_server.enqueue(Reply.text("one two three four", id="chatcmpl-c", stall_after=3))
    response = make_model()("Count", stream=True)
    chunks = iter(response)
    assert next(chunks) == "one"
    assert telemetry.spans() == []  # the server stalls: the stream, and its span, go on
    chunks.close()  # the reader leaves its loop
    response.wait()

    span = telemetry.span()
    assert [event.name for event in span.events] == ["msgflux.stream.closed_early"]
    assert span.status.status_code is StatusCode.UNSET
    attributes = dict(span.attributes)
    assert attributes["gen_ai.response.id"] == "chatcmpl-c"
    assert "gen_ai.response.finish_reasons" not in attributes  # the answer never finished
    assert "gen_ai.usage.input_tokens" not in attributes
    assert telemetry.points(TOKENS) == []
    assert len(telemetry.points(DURATION)) == 1


async def test_an_async_stream_closed_early_ends_its_span(telemetry, make_model, loopback_server):
    loopback_server.enqueue(Reply.text("one two three four", stall_after=3))
    response = await make_model().acall("Count", stream=True)
    async for chunk in response.consume():
        assert chunk == "one"
        break
    await response.aclose()
    span = telemetry.span()
    assert [event.name for event in span.events] == ["msgflux.stream.closed_early"]


def test_a_stream_that_breaks_midway_ends_its_span_with_the_error(
    telemetry, make_model, loopback_server
):
    loopback_server.enqueue(Reply.text("one two three four", reset_after=3))
    response = make_model()("Count", stream=True)
    with pytest.raises(Exception) as caught:
        "".join(response)
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    error_type = span.attributes["error.type"]
    assert error_type.endswith(type(caught.value).__qualname__)
    (duration,) = telemetry.points(DURATION)
    assert duration.attributes["error.type"] == error_type


# -- errors and retries ----------------------------------------------------------------------


def test_a_failed_call_records_error_type_and_status(telemetry, make_model, loopback_server):
    loopback_server.enqueue(Reply.error(400, "unknown parameter: foo"))
    with pytest.raises(BadRequestError):
        make_model()("hi")
    span = telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert "BadRequestError" in span.status.description
    assert "unknown parameter: foo" in span.status.description
    assert dict(span.attributes) == {
        **identity(loopback_server),
        "error.type": "msgflux.errors.BadRequestError",
    }
    assert span.events == ()
    (duration,) = telemetry.points(DURATION)
    assert dict(duration.attributes) == {
        **identity(loopback_server),
        "error.type": "msgflux.errors.BadRequestError",
    }
    assert telemetry.points(TOKENS) == []


def test_a_stream_that_fails_before_its_first_chunk_fails_at_the_call(
    telemetry, make_model, loopback_server
):
    loopback_server.enqueue(Reply.error(401, "bad key"))
    with pytest.raises(Exception, match="bad key"):
        make_model(retry=False)("hi", stream=True)
    span = telemetry.span()
    assert span.attributes["error.type"] == "msgflux.errors.AuthenticationError"
    assert telemetry.points(FIRST_CHUNK) == []


def test_retries_are_events_on_the_one_call_span(telemetry, make_model, loopback_server, caplog):
    loopback_server.enqueue(
        Reply.error(503, "overloaded"),
        Reply.error(429, "slow down", headers={"Retry-After": "0.01"}),
        Reply.text("at last", id="chatcmpl-r"),
    )
    with caplog.at_level("INFO", logger="msgflux.retry"):
        assert make_model()("hi").consume() == "at last"

    span = telemetry.span()  # one span for the logical operation, retries included
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-r"
    first, second = span.events
    assert first.name == second.name == "msgflux.retry"
    delay = first.attributes["msgflux.retry.delay"]
    assert 0 < delay <= 0.005
    assert dict(first.attributes) == {
        "msgflux.retry.attempt": 1,
        "msgflux.retry.delay": delay,
        "http.response.status_code": 503,
        "error.type": "msgflux.errors.ProviderError",
    }
    assert dict(second.attributes) == {
        "msgflux.retry.attempt": 2,
        "msgflux.retry.delay": 0.01,  # the server's Retry-After
        "http.response.status_code": 429,
        "error.type": "msgflux.errors.RateLimitError",
    }
    assert first.timestamp < second.timestamp < span.end_time

    lines = [r.getMessage() for r in caplog.records if r.name == "msgflux.retry"]
    assert lines == [
        "openai/gpt-test: attempt 1 of 3 failed (ProviderError: openai request failed: "
        f"HTTP 503: overloaded (request id req_loopback_1)); retrying in {delay:.2f}s",
        "openai/gpt-test: attempt 2 of 3 failed (RateLimitError: openai request failed: "
        "HTTP 429: slow down (request id req_loopback_2)); retrying in 0.01s as the server "
        "asked (Retry-After)",
    ]


def test_a_stream_retried_before_its_first_chunk_has_the_retry_on_its_span(
    telemetry, make_model, loopback_server
):
    loopback_server.enqueue(Reply.error(502, "bad gateway"), Reply.text("fine"))
    response = make_model()("hi", stream=True)
    assert "".join(response) == "fine"
    span = telemetry.span()
    assert [event.name for event in span.events] == ["msgflux.retry"]
    assert span.events[0].attributes["http.response.status_code"] == 502


def test_retries_that_run_out_end_the_span_with_the_last_error(
    telemetry, make_model, loopback_server
):
    loopback_server.enqueue(*[Reply.error(500, "boom")] * 3)
    with pytest.raises(ProviderError):
        make_model()("hi")
    span = telemetry.span()
    assert span.attributes["error.type"] == "msgflux.errors.ProviderError"
    assert [e.attributes["msgflux.retry.attempt"] for e in span.events] == [1, 2]


# -- the cache, nesting, the switch ----------------------------------------------------------


def test_a_cached_answer_is_a_span_with_a_cache_hit_and_no_token_usage(
    telemetry, make_model, loopback_server
):
    model = make_model(enable_cache=True)
    model("hi")
    model("hi")
    assert len(loopback_server.requests) == 1
    sent, cached = telemetry.spans()
    assert sent.events == ()
    assert [(e.name, dict(e.attributes)) for e in cached.events] == [
        ("msgflux.cache.hit", {"msgflux.cache.backend": "memory"})
    ]
    assert cached.attributes["gen_ai.response.id"] == sent.attributes["gen_ai.response.id"]
    tokens = telemetry.points(TOKENS)
    assert {p.attributes["gen_ai.token.type"]: p.count for p in tokens} == {"input": 1, "output": 1}
    assert telemetry.points(DURATION)[0].count == 2


def test_the_call_span_is_a_child_of_the_callers_span(telemetry, make_model):
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as parent:
        make_model()("hi")
        "".join(make_model()("hi", stream=True))
    calls = telemetry.spans("chat ")
    assert len(calls) == 2
    for call in calls:
        assert call.parent.span_id == parent.get_span_context().span_id
        assert call.context.trace_id == parent.get_span_context().trace_id


async def test_concurrent_async_calls_keep_their_spans_apart(telemetry, make_model):
    model = make_model()
    answers = await asyncio.gather(*(model.acall(f"question {n}") for n in range(8)))
    assert {a.consume() for a in answers} == {f"echo: question {n}" for n in range(8)}
    spans = telemetry.spans()
    assert len(spans) == 8
    assert all(span.parent is None for span in spans)
    assert len({span.attributes["gen_ai.response.id"] for span in spans}) == 8


def test_uninstrument_stops_recording(telemetry, make_model):
    import msgflux as mf

    model = make_model()
    mf.uninstrument()
    model("hi")
    "".join(model("hi", stream=True))
    assert telemetry.spans() == []
    assert telemetry.points(DURATION) == []
    telemetry.instrument()
    model("hi")
    assert len(telemetry.spans()) == 1
