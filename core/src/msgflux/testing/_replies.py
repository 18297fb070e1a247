"""Scripted answers for the loopback server: what one chat completion should look like.

A `Reply` is plain data. The server decides at request time whether to render it as one
``chat.completion`` JSON body or as a stream of ``chat.completion.chunk`` events, so the same
reply serves a streaming and a non-streaming test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

__all__ = ["Audio", "Reply", "ToolCall", "Usage"]

#: Where a streamed reply puts its token usage (see `Reply.usage_location`).
UsageLocation = Literal["chunk", "finish", "x_groq"]
#: Which tool-call fragment carries the call's id and function name (see `Reply.tool_call_ids`).
ToolCallIds = Literal["first", "every", "late"]
#: An SSE item for `Reply.raw_events`: a JSON object, a raw data payload, or raw bytes.
RawEvent = Mapping[str, Any] | str | bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Usage:
    """Token usage reported with a reply.

    Attributes:
        prompt_tokens: ``usage.prompt_tokens``.
        completion_tokens: ``usage.completion_tokens``.
        total_tokens: ``usage.total_tokens``; defaults to the sum of the two above.
        reasoning_tokens: When set, sent as ``completion_tokens_details.reasoning_tokens``.
        cached_tokens: When set, sent as ``prompt_tokens_details.cached_tokens``
            (the Messages API server: ``cache_read_input_tokens``).
        cache_write_tokens: The Messages API server only: ``cache_creation_input_tokens``.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call made by the assistant.

    Attributes:
        name: ``function.name``.
        arguments: ``function.arguments``: a JSON string sent verbatim (it may be invalid JSON on
            purpose), or a mapping that is JSON-encoded.
        id: The call id; defaults to a server-generated ``call_<n>_<index>``.
        chunks: How the arguments string is split into streamed fragments; they must join to
            the arguments. Defaults to three roughly equal pieces.
    """

    name: str
    arguments: str | Mapping[str, Any] = "{}"
    id: str | None = dataclasses.field(default=None, kw_only=True)
    chunks: Sequence[str] | None = dataclasses.field(default=None, kw_only=True)


@dataclasses.dataclass(frozen=True, slots=True)
class Audio:
    """Audio output, rendered as ``message.audio`` (or one ``delta.audio`` when streaming).

    Attributes:
        transcript: ``audio.transcript``.
        data: Raw audio bytes, sent base64-encoded as ``audio.data``.
        id: ``audio.id``; defaults to ``audio_<n>``.
        expires_at: ``audio.expires_at``; defaults to one hour after ``created``.
    """

    transcript: str = ""
    data: bytes = b""
    id: str | None = None
    expires_at: int | None = None


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """One scripted answer of the loopback server.

    A frozen ``msgspec.Struct`` with keyword-only fields. Build it with a constructor (`text`,
    `calls`, `error`, `raw`, `raw_events`, `echo`) and pass any field below as a keyword to tune
    it, e.g. ``Reply.text("hi", delay=0.5, headers={...})``, or derive a variant with
    ``reply.replace(...)``. Replies are immutable and can be enqueued many times.

    Attributes:
        kind: ``"completion"``, ``"error"``, ``"raw"`` or ``"events"`` (set by the constructors).
        status: HTTP status code.
        headers: Extra response headers (e.g. ``x-request-id``, ``Retry-After``); they replace the
            server's default header of the same name.
        id: The completion id; defaults to ``chatcmpl-loopback-<n>``.
        model: The ``model`` field; defaults to the request's ``model``.
        created: The ``created`` timestamp; defaults to the current time.
        system_fingerprint: The ``system_fingerprint`` field.
        content: Assistant text (``message.content``); ``None`` renders as ``null``.
        chunks: Streamed content pieces; they must join to ``content``. Defaults to one piece
            per word (leading whitespace kept), like tokens.
        reasoning: Reasoning text, streamed before the content.
        reasoning_field: The message/delta field carrying ``reasoning``: ``"reasoning_content"``
            (DeepSeek, vLLM < 0.10), ``"reasoning"`` (vLLM >= 0.10, Groq, OpenRouter) or
            ``"thinking"``.
        reasoning_chunks: Streamed reasoning pieces; default one per word.
        reasoning_details: OpenRouter-style ``reasoning_details`` list; streamed one item per
            chunk after the reasoning text.
        tool_calls: Function calls; streamed after the content as OpenAI-style fragments.
        interleave_tool_calls: Stream the fragments of parallel calls round-robin instead of
            one call after the other.
        tool_call_ids: Which fragments carry ``id``, ``type`` and ``function.name``: ``"first"``
            (OpenAI), ``"every"`` (llama.cpp style, repeated in every fragment) or ``"late"``
            (the first fragment has arguments only; the second brings id and name).
        refusal: ``message.refusal`` (streamed as ``delta.refusal`` pieces).
        audio: Audio output.
        annotations: ``message.annotations`` (e.g. ``url_citation`` items); when streaming they
            are on the delta of the chunk carrying ``finish_reason``.
        logprobs: ``choices[0].logprobs.content`` entries, or ``True`` to generate one entry per
            content piece. Streamed one entry per content chunk when the counts match
            (without explicit ``chunks`` the content is split along the entries' tokens),
            otherwise all on the last content chunk.
        finish_reason: Defaults to ``"tool_calls"`` when there are tool calls, else ``"stop"``.
        usage: A `Usage`, a mapping sent verbatim, ``"auto"`` (word counts of the request
            messages and of the reply) or ``None`` (no usage at all).
        usage_location: For streams: ``"chunk"`` (OpenAI: a final chunk with empty ``choices``,
            only when the request set ``stream_options.include_usage``), ``"finish"`` (always,
            on the chunk with ``finish_reason``) or ``"x_groq"`` (always, as
            ``x_groq.usage`` on that chunk, as Groq does).
        content_blocks: Messages API server only: the assistant's content blocks, sent
            verbatim and in order (``thinking`` with its ``signature``,
            ``redacted_thinking``, ``text``, ``tool_use``...) instead of blocks built from
            ``reasoning``, ``content`` and ``tool_calls``; streamed block by block.
        extra: Extra top-level fields merged into the body and into every chunk.
        message_extra: Extra fields merged into ``message`` (streaming: into the first delta).
        error_message: ``error.message`` of an error reply.
        error_type: ``error.type`` of an error reply.
        error_code: ``error.code`` of an error reply.
        error_param: ``error.param`` of an error reply.
        body: Raw response body (raw replies), or an override of an error reply's body
            (bytes/str sent verbatim, a mapping JSON-encoded).
        content_type: ``Content-Type`` of raw and error replies.
        events: SSE items of a ``raw_events`` reply.
        delay: Seconds to wait before sending anything.
        chunk_delay: Seconds to wait between two SSE events.
        stall_after: Send this many SSE events (for a JSON body: this many body bytes), then
            send nothing more and keep the connection open until the client leaves or the
            server stops.
        reset_after: Send this many events (or body bytes), then abort the TCP connection
            with a RST.
        reset_before: Close the connection without sending any response.
        close_after: Streams: end the HTTP response cleanly after this many events, so the
            ``data: [DONE]`` line never comes. JSON bodies: close the connection after this
            many body bytes (a body shorter than its ``Content-Length``).

    A stream is, in order: a chunk with ``role`` only (``content: ""``, or ``null`` for a
    tool-call-only answer), reasoning pieces, ``reasoning_details`` items, content pieces,
    refusal pieces, audio, tool-call fragments, the chunk with ``finish_reason``, the usage
    chunk (see ``usage_location``), ``data: [DONE]``. Fault counts include every one of these
    events: N means N events were sent before the fault, ``0`` right after the headers.
    """

    kind: Literal["completion", "error", "raw", "events"] = "completion"
    status: int = 200
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)
    id: str | None = None
    model: str | None = None
    created: int | None = None
    system_fingerprint: str | None = "fp_loopback"

    content: str | None = None
    chunks: Sequence[str] | None = None
    reasoning: str | None = None
    reasoning_field: str = "reasoning_content"
    reasoning_chunks: Sequence[str] | None = None
    reasoning_details: Sequence[Mapping[str, Any]] | None = None
    tool_calls: Sequence[ToolCall] = ()
    interleave_tool_calls: bool = False
    tool_call_ids: ToolCallIds = "first"
    refusal: str | None = None
    audio: Audio | None = None
    annotations: Sequence[Mapping[str, Any]] | None = None
    logprobs: Sequence[Mapping[str, Any]] | bool | None = None
    finish_reason: str | None = None
    usage: Usage | Mapping[str, Any] | Literal["auto"] | None = "auto"
    usage_location: UsageLocation = "chunk"
    content_blocks: Sequence[Mapping[str, Any]] | None = None
    extra: Mapping[str, Any] | None = None
    message_extra: Mapping[str, Any] | None = None

    error_message: str | None = None
    error_type: str | None = None
    error_code: str | int | None = None
    error_param: str | None = None

    body: bytes | str | Mapping[str, Any] | None = None
    content_type: str | None = None
    events: Sequence[RawEvent] = ()

    delay: float = 0.0
    chunk_delay: float = 0.0
    stall_after: int | None = None
    reset_after: int | None = None
    reset_before: bool = False
    close_after: int | None = None

    @classmethod
    def text(
        cls, content: str | None, *, chunks: Sequence[str] | None = None, **fields: Any
    ) -> Reply:
        """An assistant message with text content.

        Args:
            content: The text; ``<think>...</think>`` is sent as is if included.
            chunks: How to split ``content`` when streaming (must join to it).
            **fields: Any other `Reply` field, e.g. ``reasoning=``, ``usage=``, ``delay=``.

        Example:
            ``Reply.text("Hello world", chunks=["Hel", "lo world"], reasoning="Greet.",
            reasoning_field="reasoning")``
        """
        _check_chunks("chunks", content or "", chunks)
        return cls(content=content, chunks=chunks, **fields)

    @classmethod
    def calls(cls, *calls: Any, content: str | None = None, **fields: Any) -> Reply:
        """An assistant message with tool calls (``finish_reason="tool_calls"``).

        Args:
            *calls: Each a `ToolCall`, a ``(name, arguments)`` pair or an
                ``(id, name, arguments)`` triple; arguments are a JSON string or a mapping.
            content: Text sent before the calls in the same message/stream.
            **fields: Any other `Reply` field, e.g. ``interleave_tool_calls=True``,
                ``tool_call_ids="every"``.
        """
        return cls(content=content, tool_calls=tuple(_as_tool_call(c) for c in calls), **fields)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "loopback error",
        *,
        type: str | None = None,
        code: str | int | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Reply:
        """An HTTP error in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

        Args:
            status: HTTP status, e.g. 429.
            message: ``error.message``.
            type: ``error.type``; defaults from the status (``"rate_limit_error"`` for 429,
                ``"server_error"`` for 5xx, ``"invalid_request_error"`` otherwise, ...).
            code: ``error.code``.
            param: ``error.param``.
            headers: Response headers, e.g. ``{"Retry-After": "2", "x-request-id": "req_1"}``.
            body: Replaces the whole body (bytes/str verbatim, a mapping JSON-encoded).
            **fields: Any other `Reply` field, e.g. ``delay=``.
        """
        return cls(
            kind="error",
            status=status,
            error_message=message,
            error_type=type,
            error_code=code,
            error_param=param,
            headers=dict(headers or {}),
            body=body,
            **fields,
        )

    @classmethod
    def raw(
        cls,
        status: int = 200,
        body: bytes | str = b"",
        *,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        **fields: Any,
    ) -> Reply:
        """Arbitrary bytes as the response body (truncated JSON, HTML error pages, ...).

        ``Content-Length`` is computed unless ``headers`` sets it (a larger value makes a body
        the client never finishes reading; the server closes the connection after it).

        Args:
            status: HTTP status.
            body: The body, sent verbatim (str is UTF-8 encoded).
            headers: Response headers.
            content_type: ``Content-Type`` header.
            **fields: Any other `Reply` field (faults apply, counting body bytes).
        """
        return cls(
            kind="raw",
            status=status,
            body=body,
            headers=dict(headers or {}),
            content_type=content_type,
            **fields,
        )

    @classmethod
    def raw_events(
        cls,
        events: Sequence[RawEvent],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> Reply:
        """An SSE stream made of exactly the given items (no ``[DONE]`` is added).

        Args:
            events: A mapping is sent as ``data: <json>``; a str as ``data: <str>`` (so
                ``"[DONE]"`` or ``'{"trunc'`` work); bytes are written verbatim, for comments,
                ``event:`` lines or broken framing. Each item counts as one event for faults.
            status: HTTP status.
            headers: Response headers.
            **fields: Any other `Reply` field, e.g. ``chunk_delay=``.
        """
        return cls(
            kind="events",
            events=tuple(events),
            status=status,
            headers=dict(headers or {}),
            **fields,
        )

    @classmethod
    def echo(cls, request: Any, **fields: Any) -> Reply:
        """The server's default answer: ``"echo: <text of the last user message>"``.

        Args:
            request: A `RecordedRequest` (anything with a ``json`` attribute) or the decoded
                request body.
            **fields: Any other `Reply` field.
        """
        payload = getattr(request, "json", request)
        return cls(content="echo: " + last_user_text(payload), **fields)

    def replace(self, **changes: Any) -> Reply:
        """A copy of this reply with some fields changed."""
        return msgspec.structs.replace(self, **changes)


def last_user_text(payload: Any) -> str:
    """Text of the last ``user`` message of a decoded chat request body (parts joined by "\\n")."""
    if not isinstance(payload, dict):
        return ""
    messages = payload.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def content_text(content: Any) -> str:
    """Text of a message ``content``: the string itself, or its text parts joined by "\\n"."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _as_tool_call(call: Any) -> ToolCall:
    if isinstance(call, ToolCall):
        return call
    if isinstance(call, tuple) and len(call) == 2:
        return ToolCall(call[0], call[1])
    if isinstance(call, tuple) and len(call) == 3:
        return ToolCall(call[1], call[2], id=call[0])
    raise TypeError(
        f"a tool call must be a ToolCall, (name, arguments) or (id, name, arguments); got {call!r}"
    )


def _check_chunks(name: str, whole: str, chunks: Sequence[str] | None) -> None:
    if chunks is not None and "".join(chunks) != whole:
        raise ValueError(f"{name} must join to the full text {whole!r}; got {list(chunks)!r}")
