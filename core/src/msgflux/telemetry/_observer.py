"""What ``msgflux.instrument()`` installs: spans and metrics around calls, agent runs, tools.

One ``chat {model}`` span (kind ``CLIENT``) per model call, around everything the call does:
retries are events on it (``msgflux.retry``), not spans of their own, because the
conventions make the inference span cover "the logical operation with all retries". A
stream's span ends when its producer finishes: the answer read to its end, the consumer
closing it early (event ``msgflux.stream.closed_early``), or an error. An agent run is an
``invoke_agent {name}`` span (kind ``INTERNAL``: the agent runs in this process) around its
model calls and its ``execute_tool {tool}`` spans.

The span is the current span while the call runs (and in the stream's producer thread or
task), so the events of ``msgflux.telemetry.events`` land on it and an HTTP
instrumentation's spans nest under it.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from msgflux.models.response import ModelStreamResponse
from msgflux.telemetry import _attributes as attrs
from msgflux.telemetry import _content as content
from msgflux.telemetry import _conventions as names
from msgflux.telemetry._metrics import Metrics

__all__ = ["ChatRecord", "Observer", "ToolRecord"]

T = TypeVar("T")

_STATUS_LENGTH = 300  # a status description is a hint, not a log: one short line
_current_chat: contextvars.ContextVar[ChatRecord | None] = contextvars.ContextVar(
    "msgflux_current_chat", default=None
)


class Observer:
    """Spans and metrics for one tracer and one meter.

    Args:
        tracer: An OpenTelemetry ``Tracer``.
        meter: An OpenTelemetry ``Meter``.
        latest: Emit only the latest experimental GenAI conventions (``gen_ai.provider.name``);
            otherwise the provider is also named as v1.36 did (``gen_ai.system``).
        capture_content: Record prompts, answers, tool arguments and results.
    """

    def __init__(self, tracer: Any, meter: Any, *, latest: bool, capture_content: bool) -> None:
        self.tracer = tracer
        self.metrics = Metrics(meter)
        self.latest = latest
        self.capture_content = capture_content

    def model_attributes(self, model: Any, operation: str) -> dict[str, Any]:
        provider = names.provider_name(model.provider, latest=True)
        attributes = attrs.model_attributes(model, operation, names.PROVIDER, provider)
        if not self.latest:  # the transition: the v1.36 name beside the latest one
            attributes[names.SYSTEM] = names.provider_name(model.provider, latest=False)
        return attributes

    # -- model calls ---------------------------------------------------------------------------

    def chat(self, model: Any, call: Any, respond: Callable[[Any], T]) -> T:
        """Run ``respond(call)`` (the model's call) inside its span."""
        record = ChatRecord(self, model, call)
        tokens = record.enter()
        try:
            response = respond(call)
        except BaseException as exc:
            record.fail(exc)
            raise
        finally:
            record.leave(tokens)
        record.answered(response)
        return response

    async def achat(self, model: Any, call: Any, respond: Callable[[Any], Awaitable[T]]) -> T:
        """Async ``chat``."""
        record = ChatRecord(self, model, call)
        tokens = record.enter()
        try:
            response = await respond(call)
        except BaseException as exc:
            record.fail(exc)
            raise
        finally:
            record.leave(tokens)
        record.answered(response)
        return response

    # -- agents and tools ----------------------------------------------------------------------

    def invoke_agent(self, agent: Any, task: Any, run: Callable[[Any], T]) -> T:
        """Run ``run(task)`` (an agent's run) inside its ``invoke_agent`` span."""
        span = self._agent_span(agent)
        with _current(span):
            try:
                result = run(task)
            except BaseException as exc:
                _end_failed(span, exc, _secret_of(agent.model))
                raise
        _end_agent(span, result)
        return result

    async def ainvoke_agent(self, agent: Any, task: Any, run: Callable[[Any], Awaitable[T]]) -> T:
        """Async ``invoke_agent``."""
        span = self._agent_span(agent)
        with _current(span):
            try:
                result = await run(task)
            except BaseException as exc:
                _end_failed(span, exc, _secret_of(agent.model))
                raise
        _end_agent(span, result)
        return result

    def _agent_span(self, agent: Any) -> Any:
        model = agent.model
        if hasattr(model, "provider") and hasattr(model, "model_id"):
            attributes = self.model_attributes(model, "invoke_agent")
        else:  # a model-like object of the user's: what is known
            attributes = {names.OPERATION: "invoke_agent"}
        attributes[names.AGENT_NAME] = agent.name
        return self.tracer.start_span(
            f"invoke_agent {agent.name}", kind=SpanKind.INTERNAL, attributes=attributes
        )

    @contextlib.contextmanager
    def tool_call(
        self, call_id: str, name: str | None, tool: Any, arguments: str
    ) -> Iterator[ToolRecord]:
        """The ``execute_tool`` span of one tool call, current while the tool runs."""
        attributes: dict[str, Any] = {
            names.OPERATION: "execute_tool",
            names.TOOL_NAME: name or "",
            names.TOOL_TYPE: "function",
            names.TOOL_CALL_ID: call_id,
        }
        description = getattr(tool, "description", None)
        if description:
            attributes[names.TOOL_DESCRIPTION] = description
        if self.capture_content:
            attributes[names.TOOL_CALL_ARGUMENTS] = arguments
        span = self.tracer.start_span(
            f"execute_tool {name}", kind=SpanKind.INTERNAL, attributes=attributes
        )
        record = ToolRecord(span, self.capture_content)
        with _current(span):
            try:
                yield record
            except BaseException as exc:
                _end_failed(span, exc, None)
                raise
        record.end()

    # -- events of msgflux.telemetry.events ----------------------------------------------------

    def add_event(self, name: str, attributes: dict[str, Any]) -> None:
        """An event on the current span (dropped when no span is recording)."""
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(name, attributes)

    def mark_cached(self) -> None:
        """The current chat call was answered from a cache: it consumed no tokens."""
        record = _current_chat.get()
        if record is not None:
            record.cached = True


class ChatRecord:
    """The span and the measurements of one model call."""

    __slots__ = (
        "_ended",
        "_metric_attributes",
        "_observer",
        "_secret",
        "_span",
        "_started",
        "cached",
    )

    def __init__(self, observer: Observer, model: Any, call: Any) -> None:
        self._observer = observer
        self._started = time.monotonic()
        self._metric_attributes = observer.model_attributes(model, "chat")
        self._secret = _secret_of(model)
        self._ended = False
        self.cached = False
        attributes = {**self._metric_attributes, **attrs.request_attributes(call.params)}
        if observer.capture_content:
            messages = call.params.get("messages")
            attributes[names.INPUT_MESSAGES] = content.input_messages(messages, self._secret)
        self._span = observer.tracer.start_span(
            f"chat {model.model_id}", kind=SpanKind.CLIENT, attributes=attributes
        )

    def enter(self) -> tuple[Any, Any]:
        """Make this call's span current (and this record, for ``mark_cached``)."""
        return (
            _current_chat.set(self),
            otel_context.attach(trace.set_span_in_context(self._span)),
        )

    @staticmethod
    def leave(tokens: tuple[Any, Any]) -> None:
        """Undo ``enter`` (same thread or task)."""
        record_token, context_token = tokens
        otel_context.detach(context_token)
        _current_chat.reset(record_token)

    def answered(self, response: Any) -> None:
        """The call returned: a whole answer ends the span; a stream ends it when it ends."""
        if not isinstance(response, ModelStreamResponse):
            self._finish(response)
            return
        elapsed = time.monotonic() - self._started
        self._span.set_attribute(names.TIME_TO_FIRST_CHUNK, elapsed)
        self._observer.metrics.time_to_first_chunk.record(elapsed, self._metric_attributes)
        response.add_done_callback(self._stream_ended)

    def fail(self, error: BaseException) -> None:
        if self._ended:
            return
        self._ended = True
        kind = _end_failed(self._span, error, self._secret)
        self._record_duration({**self._metric_attributes, names.ERROR_TYPE: kind})

    def _stream_ended(self, response: ModelStreamResponse) -> None:
        if response.error is not None:
            self.fail(response.error)
            return
        if response.closed_early:
            self._span.add_event("msgflux.stream.closed_early")
        self._finish(response)

    def _finish(self, response: Any) -> None:
        if self._ended:
            return
        self._ended = True
        span = self._span
        answered = attrs.response_attributes(response.metadata)
        span.set_attributes(answered)
        if self._observer.capture_content:
            span.set_attribute(
                names.OUTPUT_MESSAGES, content.output_messages(response, self._secret)
            )
        span.end()
        metric_attributes = dict(self._metric_attributes)
        if names.RESPONSE_MODEL in answered:
            metric_attributes[names.RESPONSE_MODEL] = answered[names.RESPONSE_MODEL]
        self._record_duration(metric_attributes)
        if not self.cached:
            self._record_tokens(answered, metric_attributes)

    def _record_duration(self, metric_attributes: dict[str, Any]) -> None:
        elapsed = time.monotonic() - self._started
        self._observer.metrics.duration.record(elapsed, metric_attributes)

    def _record_tokens(self, answered: dict[str, Any], metric_attributes: dict[str, Any]) -> None:
        usage = self._observer.metrics.token_usage
        for key, token_type in ((names.INPUT_TOKENS, "input"), (names.OUTPUT_TOKENS, "output")):
            count = answered.get(key)
            if count is not None:
                usage.record(count, {**metric_attributes, names.TOKEN_TYPE: token_type})


class ToolRecord:
    """What a tool call's span learns from its outcome."""

    __slots__ = ("_capture", "_error", "_result", "_span")

    def __init__(self, span: Any, capture: bool) -> None:
        self._span = span
        self._capture = capture
        self._result: Any = None
        self._error: BaseException | str | None = None

    def outcome(self, result: Any, error: BaseException | str | None) -> None:
        """The result the model will read, and what went wrong (an exception or a reason)."""
        self._result = result
        self._error = error

    def end(self) -> None:
        span = self._span
        if self._capture:
            span.set_attribute(names.TOOL_CALL_RESULT, content.to_json(self._result))
        error = self._error
        if isinstance(error, BaseException):
            # A tool's message may quote its arguments: content, kept out unless captured.
            _end_failed(span, error, None, detail=self._capture)
            return
        if error is not None:
            span.set_attribute(names.ERROR_TYPE, error)
            span.set_status(Status(StatusCode.ERROR, error))
        span.end()


# -- helpers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _current(span: Any) -> Iterator[None]:
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield
    finally:
        otel_context.detach(token)


def _end_failed(span: Any, error: BaseException, secret: str | None, *, detail: bool = True) -> str:
    """Record ``error`` on ``span`` (``error.type``, status), end it; the error type."""
    kind = attrs.error_type(error)
    span.set_attribute(names.ERROR_TYPE, kind)
    description = _describe(error, secret) if detail else type(error).__name__
    span.set_status(Status(StatusCode.ERROR, description))
    span.end()
    return kind


def _end_agent(span: Any, result: Any) -> None:
    if not isinstance(result, ModelStreamResponse):
        span.end()
        return

    def ended(stream: ModelStreamResponse) -> None:
        if stream.error is not None:
            _end_failed(span, stream.error, None)
        else:
            span.end()

    result.add_done_callback(ended)


def _describe(error: BaseException, secret: str | None) -> str:
    """One short line: the error's class and message, never the key."""
    from msgflux.telemetry.events import one_line

    return content.scrub(one_line(f"{type(error).__name__}: {error}", _STATUS_LENGTH), secret)


def _secret_of(model: Any) -> str | None:
    try:
        key = model.api_key
    except Exception:  # a model-like object without a key
        return None
    return key if isinstance(key, str) else None
