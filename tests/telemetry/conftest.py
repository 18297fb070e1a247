"""The real OpenTelemetry SDK with in-memory exporters, and models on the loopback server.

``telemetry`` turns ``msgflux.instrument()`` on for one test with its own tracer and meter
providers (never the global ones) and the latest experimental conventions
(``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``), and turns it off after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import msgflux as mf

#: A key that must never show up in telemetry or logs.
API_KEY = "sk-telemetry-4c2e9a7f1b3d5e60"
FAST_RETRY = {"initial_backoff": 0.001, "max_backoff": 0.005, "max_retry_after": 2.0}
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
STABILITY_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"


class Telemetry:
    """What the instrumented code recorded."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def instrument(self, **options: Any) -> None:
        mf.instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options
        )

    def spans(self, prefix: str = "") -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name.startswith(prefix)]

    def span(self, prefix: str = "") -> ReadableSpan:
        found = self.spans(prefix)
        assert len(found) == 1, [s.name for s in self.exporter.get_finished_spans()]
        return found[0]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for item in scope_metrics.metrics:
                    if item.name == metric:
                        found.extend(item.data.data_points)
        return found

    def metric(self, name: str) -> Any:
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for item in scope_metrics.metrics:
                    if item.name == name:
                        return item
        raise AssertionError(f"no metric {name}")

    def everything_recorded(self) -> str:
        """Every span's name, attributes, events and status, and every metric point, as text."""
        parts = []
        for span in self.exporter.get_finished_spans():
            parts.append(span.to_json())
        data = self.reader.get_metrics_data()
        if data is not None:
            parts.append(data.to_json())
        return "\n".join(parts)

    def close(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Telemetry]:
    monkeypatch.setenv(STABILITY_ENV, "gen_ai_latest_experimental")
    monkeypatch.delenv(CAPTURE_ENV, raising=False)
    recorded = Telemetry()
    recorded.instrument()
    yield recorded
    mf.uninstrument()
    recorded.close()


@pytest.fixture
def make_model(loopback_server: Any) -> Iterator[Callable[..., Any]]:
    """``make_model(**options)``: an ``openai/gpt-test`` model on the loopback server."""
    from msgflux.testing.pytest_plugin import require_provider

    require_provider("openai")
    models: list[Any] = []

    def make(model_id: str = "gpt-test", **options: Any) -> Any:
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("api_key", API_KEY)
        model = mf.Model.chat_completion(
            f"openai/{model_id}", base_url=loopback_server.base_url, **options
        )
        models.append(model)
        return model

    yield make
    for model in models:
        model.close()


class _Support:
    API_KEY = API_KEY
    CAPTURE_ENV = CAPTURE_ENV
    STABILITY_ENV = STABILITY_ENV
    FAST_RETRY = FAST_RETRY


@pytest.fixture
def support() -> type[_Support]:
    return _Support
