"""The chat span of an Anthropic call names the provider as the conventions do."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import msgflux as mf
from msgflux.testing.server import Reply, Usage


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    mf.instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        mf.uninstrument()
        provider.shutdown()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_chat_span_names_anthropic_and_reads_its_usage(server, make, spans, stream):
    server.enqueue(Reply.text("hi", usage=Usage(7, 3, cached_tokens=2)))

    response = make()("q", stream=stream, temperature=0.5, stop=["END"])
    if stream:
        response.result()

    (span,) = spans.get_finished_spans()
    attributes = span.attributes
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.request.model"] == "claude-sonnet-4-20250514"
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert tuple(attributes["gen_ai.request.stop_sequences"]) == ("END",)
    assert attributes["gen_ai.request.max_tokens"] == 4096
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 2
    assert attributes["gen_ai.usage.input_tokens"] == 7
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert tuple(attributes["gen_ai.response.finish_reasons"]) == ("stop",)
