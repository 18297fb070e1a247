"""OpenTelemetry traces and metrics for msgflux's model calls, agent runs and tool calls.

Off until you turn it on; free while off (one ``None`` test per call, and
``import msgflux`` never imports OpenTelemetry). With ``pip install 'msgflux[otel]'`` and
an OpenTelemetry SDK configured by the application::

    import msgflux as mf

    mf.instrument()  # or msgflux.telemetry.MsgfluxInstrumentor().instrument()
    model = mf.Model.chat_completion("openai/gpt-4.1-mini")
    model("Hello")  # one span "chat gpt-4.1-mini", and the GenAI client metrics

What is recorded follows the OpenTelemetry semantic conventions for generative AI
(https://opentelemetry.io/docs/specs/semconv/gen-ai/, status: development; the sources are
``docs/gen-ai/gen-ai-spans.md``, ``gen-ai-agent-spans.md``, ``gen-ai-metrics.md`` and
``docs/registry/attributes/gen-ai.md`` of open-telemetry/semantic-conventions):

- a ``chat {model}`` span (``CLIENT``) per model call: ``gen_ai.operation.name``,
  ``gen_ai.provider.name`` (and ``gen_ai.system`` too unless ``OTEL_SEMCONV_STABILITY_OPT_IN``
  lists ``gen_ai_latest_experimental``), ``gen_ai.request.model`` and the request's
  ``gen_ai.request.*`` parameters, ``gen_ai.output.type``, ``gen_ai.response.id`` /
  ``model`` / ``finish_reasons``, ``gen_ai.usage.input_tokens`` / ``output_tokens`` /
  ``cache_read.input_tokens`` / ``reasoning.output_tokens``, ``server.address`` /
  ``server.port``, ``error.type`` and an error status on failure, and for streams
  ``gen_ai.response.time_to_first_chunk``; a stream's span ends with the stream;
- retries as ``msgflux.retry`` events on that span (the conventions' inference span covers
  "the logical operation with all retries"; see ``msgflux.telemetry.events``);
- ``invoke_agent {name}`` around an ``nn.Agent`` run and ``execute_tool {tool}`` per tool call;
- the histograms ``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage`` and
  ``gen_ai.client.operation.time_to_first_chunk`` (``msgflux.telemetry._metrics``).

Message content (``gen_ai.input.messages``, ``gen_ai.output.messages``, tool arguments and
results) only with ``capture_content=True`` or
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``true``, ``SPAN_ONLY``,
``SPAN_AND_EVENT``); API keys never, content capture or not.
"""

from __future__ import annotations

from typing import Any

from msgflux.telemetry import state

__all__ = ["MsgfluxInstrumentor", "instrument", "is_instrumented", "uninstrument"]

_SCOPE = "msgflux"


def instrument(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    capture_content: bool | None = None,
) -> None:
    """Record OpenTelemetry spans and metrics for every model call, agent run and tool call.

    Calling it again replaces the previous settings.

    Args:
        tracer_provider: The ``TracerProvider`` to use; the global one by default.
        meter_provider: The ``MeterProvider`` to use; the global one by default.
        capture_content: Record prompts, answers, tool arguments and results on spans.
            ``None`` reads ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (off
            unless it says ``true``, ``SPAN_ONLY`` or ``SPAN_AND_EVENT``).

    Raises:
        ImportError: OpenTelemetry's API is not installed (``pip install 'msgflux[otel]'``).
    """
    try:
        from opentelemetry import metrics, trace
    except ImportError as exc:
        raise ImportError(
            "msgflux.instrument() needs the OpenTelemetry API: pip install 'msgflux[otel]' "
            "(and an OpenTelemetry SDK to export what it records)"
        ) from exc
    from msgflux import __version__
    from msgflux.telemetry._conventions import capture_content_from_env, latest_from_env
    from msgflux.telemetry._observer import Observer

    if capture_content is not None and not isinstance(capture_content, bool):
        raise TypeError(f"capture_content must be True, False or None, got {capture_content!r}")
    tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider)
    meter = metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
    capture = capture_content_from_env() if capture_content is None else capture_content
    state.observer = Observer(tracer, meter, latest=latest_from_env(), capture_content=capture)


def uninstrument() -> None:
    """Stop recording (spans already started still end and are exported)."""
    state.observer = None


def is_instrumented() -> bool:
    """Whether ``instrument()`` is on."""
    return state.observer is not None


class MsgfluxInstrumentor:
    """The OpenTelemetry instrumentor convention: ``MsgfluxInstrumentor().instrument(...)``.

    ``instrument(**options)`` takes the options of :func:`instrument`; ``uninstrument()``
    turns recording off. Instances share one switch: msgflux is instrumented or not.
    """

    def instrument(self, **options: Any) -> None:
        """Turn recording on (see :func:`msgflux.telemetry.instrument`)."""
        instrument(**options)

    def uninstrument(self, **options: Any) -> None:
        """Turn recording off."""
        uninstrument()

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        """Whether recording is on."""
        return is_instrumented()

    def instrumentation_dependencies(self) -> tuple[str, ...]:
        """What must be installed: nothing beyond msgflux and OpenTelemetry's API."""
        return ()
