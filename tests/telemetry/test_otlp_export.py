"""Spans and metrics exported over OTLP/HTTP reach a collector as the conventions name them.

A small OTLP/HTTP receiver runs on 127.0.0.1 in this test (stdlib ``http.server`` on a
thread); the OpenTelemetry SDK's own OTLP exporters send to it, and the payloads are
decoded with the opentelemetry-proto classes.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import msgflux as mf
from msgflux.testing.server import Reply, Usage

_ANSWERS = {
    "/v1/traces": ExportTraceServiceResponse().SerializeToString(),
    "/v1/metrics": ExportMetricsServiceResponse().SerializeToString(),
}


class Receiver(http.server.HTTPServer):
    """An OTLP/HTTP endpoint that keeps every request body by path."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: dict[str, list[bytes]] = {"/v1/traces": [], "/v1/metrics": []}
        self.headers_seen: list[dict[str, str]] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path not in _ANSWERS:
            self.send_error(404)
            return
        self.server.received[self.path].append(body)
        self.server.headers_seen.append(dict(self.headers))
        answer = _ANSWERS[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)
    assert not thread.is_alive()


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(item) for item in any_value.array_value.values)
    return getattr(any_value, kind)


def _attributes(key_values: Any) -> dict[str, Any]:
    return {item.key: _value(item.value) for item in key_values}


def test_spans_and_metrics_arrive_over_otlp_http(
    receiver, make_model, loopback_server, monkeypatch, support
):
    monkeypatch.setenv(support.STABILITY_ENV, "gen_ai_latest_experimental")
    monkeypatch.delenv(support.CAPTURE_ENV, raising=False)
    resource = Resource.create({"service.name": "otlp-test"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces"))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{receiver.endpoint}/v1/metrics"),
        export_interval_millis=3_600_000,  # exported by force_flush below, not by a timer
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    mf.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        loopback_server.enqueue(
            Reply.text("Paris.", id="chatcmpl-otlp", model="gpt-test-2025", usage=Usage(9, 2)),
            Reply.text("one two", id="chatcmpl-otlp-stream", usage=Usage(4, 2)),
        )
        model = make_model()
        assert model("Capital of France?", temperature=0.3).consume() == "Paris."
        assert "".join(model("Count", stream=True)) == "one two"
        assert tracer_provider.force_flush()
        assert meter_provider.force_flush()
    finally:
        mf.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()

    spans = []
    for body in receiver.received["/v1/traces"]:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            assert _attributes(resource_spans.resource.attributes)["service.name"] == "otlp-test"
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "msgflux"
                assert scope_spans.scope.version == mf.__version__
                spans.extend(scope_spans.spans)
    assert [span.name for span in spans] == ["chat gpt-test", "chat gpt-test"]
    plain, streamed = spans
    assert plain.kind == plain.SPAN_KIND_CLIENT
    assert _attributes(plain.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.request.temperature": 0.3,
        "server.address": "127.0.0.1",
        "server.port": loopback_server.port,
        "gen_ai.response.id": "chatcmpl-otlp",
        "gen_ai.response.model": "gpt-test-2025",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 2,
    }
    streamed_attributes = _attributes(streamed.attributes)
    assert streamed_attributes["gen_ai.response.id"] == "chatcmpl-otlp-stream"
    assert streamed_attributes["gen_ai.response.time_to_first_chunk"] > 0

    metrics = {}
    for body in receiver.received["/v1/metrics"]:
        request = ExportMetricsServiceRequest.FromString(body)
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    metrics[metric.name] = metric
    assert sorted(metrics) == [
        "gen_ai.client.operation.duration",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.token.usage",
    ]
    usage = metrics["gen_ai.client.token.usage"]
    assert usage.unit == "{token}"
    by_type = {}
    for point in usage.histogram.data_points:
        attributes = _attributes(point.attributes)
        by_type.setdefault(attributes["gen_ai.token.type"], 0)
        by_type[attributes["gen_ai.token.type"]] += point.sum
    assert by_type == {"input": 13, "output": 4}
    durations = metrics["gen_ai.client.operation.duration"].histogram.data_points
    assert sum(point.count for point in durations) == 2
    assert list(durations[0].explicit_bounds)[:2] == [0.01, 0.02]

    exported = b"".join(receiver.received["/v1/traces"] + receiver.received["/v1/metrics"])
    assert support.API_KEY.encode() not in exported
    assert all(support.API_KEY not in str(headers) for headers in receiver.headers_seen)
