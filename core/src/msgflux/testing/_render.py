"""Render a `Reply` as OpenAI wire data: a chat.completion body or chat.completion.chunk events."""

from __future__ import annotations

import base64
import dataclasses
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from msgflux.testing._replies import Reply, ToolCall, Usage, content_text

_encode = msgspec.json.Encoder().encode

DONE_FRAME = b"data: [DONE]\n\n"

# Default error types per status, as OpenAI names them.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "unprocessable_entity_error",
    429: "rate_limit_error",
}

_WORD = re.compile(r"\s*\S+|\s+$")


@dataclasses.dataclass(slots=True)
class Plan:
    """What the connection has to send: headers plus a body or a list of SSE frames."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes | None = None
    frames: list[bytes] | None = None
    reply: Reply | None = None


def frame(obj: Any) -> bytes:
    """One SSE ``data:`` event holding ``obj`` as JSON."""
    return b"data: " + _encode(obj) + b"\n\n"


def split_words(text: str) -> list[str]:
    """Token-like pieces of ``text``: words with their leading whitespace; they join to ``text``."""
    return _WORD.findall(text) if text else []


def error_body(
    status: int, message: str, type_: str | None = None, code: Any = None, param: Any = None
) -> bytes:
    """An OpenAI-shaped error body; ``type_`` defaults from the status."""
    if type_ is None:
        type_ = (
            "server_error" if status >= 500 else _ERROR_TYPES.get(status, "invalid_request_error")
        )
    return _encode({"error": {"message": message, "type": type_, "param": param, "code": code}})


def merge_headers(
    defaults: list[tuple[str, str]], overrides: Mapping[str, str]
) -> list[tuple[str, str]]:
    """``defaults`` with any header named in ``overrides`` (case-insensitively) replaced."""
    if not overrides:
        return defaults
    names = {name.lower() for name in overrides}
    return [(k, v) for k, v in defaults if k not in names] + [
        (k, str(v)) for k, v in overrides.items()
    ]


def render(reply: Reply, request: Any, seq: int) -> Plan:
    """Render ``reply`` as an answer to the decoded chat request body ``request``.

    Args:
        reply: The scripted reply.
        request: The decoded JSON request body (or None).
        seq: A server-wide sequence number used for default ids.
    """
    defaults = [("x-request-id", f"req_loopback_{seq}")]
    kind = reply.kind
    if kind == "error":
        return _render_error(reply, defaults)
    if kind == "raw":
        body = _body_bytes(reply.body)
        defaults.insert(0, ("content-type", reply.content_type or "application/json"))
        return Plan(reply.status, merge_headers(defaults, reply.headers), body=body, reply=reply)
    if kind == "events":
        frames = [_raw_event(event) for event in reply.events]
        defaults.insert(0, ("content-type", "text/event-stream; charset=utf-8"))
        return Plan(
            reply.status, merge_headers(defaults, reply.headers), frames=frames, reply=reply
        )

    if reply.content_blocks is not None:
        raise ValueError(
            "Reply.content_blocks are Messages API blocks: the OpenAI-compatible server cannot "
            "render them (use msgflux.testing.anthropic_server.MessagesServer)"
        )
    ctx = _Context(reply, request, seq)
    if ctx.stream:
        defaults.insert(0, ("content-type", "text/event-stream; charset=utf-8"))
        frames = [frame(event) for event in _chunks(reply, ctx)]
        frames.append(DONE_FRAME)
        return Plan(
            reply.status, merge_headers(defaults, reply.headers), frames=frames, reply=reply
        )
    defaults.insert(0, ("content-type", "application/json"))
    body = _encode(_completion(reply, ctx))
    return Plan(reply.status, merge_headers(defaults, reply.headers), body=body, reply=reply)


def _render_error(reply: Reply, defaults: list[tuple[str, str]]) -> Plan:
    if reply.body is None:
        body = error_body(
            reply.status,
            reply.error_message or "",
            reply.error_type,
            reply.error_code,
            reply.error_param,
        )
    else:
        body = _body_bytes(reply.body)
    defaults.insert(0, ("content-type", reply.content_type or "application/json"))
    return Plan(reply.status, merge_headers(defaults, reply.headers), body=body, reply=reply)


def _body_bytes(body: bytes | str | Mapping[str, Any] | None) -> bytes:
    """A reply's ``body`` as sent: bytes verbatim, str UTF-8 encoded, a mapping as JSON."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return _encode(body)


def _raw_event(event: Any) -> bytes:
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return b"data: " + event.encode() + b"\n\n"
    return frame(event)


class _Context:
    """Per-request values shared by the body and the chunks."""

    __slots__ = ("created", "id", "include_usage", "model", "request", "seq", "stream")

    def __init__(self, reply: Reply, request: Any, seq: int) -> None:
        req = request if isinstance(request, dict) else {}
        self.request = req
        self.seq = seq
        self.stream = req.get("stream") is True
        options = req.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        model = req.get("model")
        self.model = reply.model or (model if isinstance(model, str) else "loopback")
        self.id = reply.id or f"chatcmpl-loopback-{seq}"
        self.created = reply.created if reply.created is not None else int(time.time())


def _completion(reply: Reply, ctx: _Context) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning is not None:
        message[reply.reasoning_field] = reply.reasoning
    if reply.reasoning_details is not None:
        message["reasoning_details"] = [dict(d) for d in reply.reasoning_details]
    message["refusal"] = reply.refusal
    message["annotations"] = [dict(a) for a in reply.annotations or ()]
    if reply.audio is not None:
        message["audio"] = _audio(reply, ctx)
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(call, i, ctx),
                "type": "function",
                "function": {"name": call.name, "arguments": _arguments(call)},
            }
            for i, call in enumerate(reply.tool_calls)
        ]
    if reply.message_extra:
        message.update(reply.message_extra)
    logprobs = None
    if reply.logprobs is not None:
        logprobs = _logprobs(reply, _content_pieces(reply))
    body: dict[str, Any] = {
        "id": ctx.id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None if logprobs is None else {"content": logprobs, "refusal": None},
                "finish_reason": _finish_reason(reply),
            }
        ],
        "usage": _usage(reply, ctx),
        "service_tier": "default",
        "system_fingerprint": reply.system_fingerprint,
    }
    if reply.extra:
        body.update(reply.extra)
    return body


def _chunks(reply: Reply, ctx: _Context) -> list[dict[str, Any]]:
    # OpenAI sends "usage": null on every chunk once include_usage was asked for.
    null_usage = ctx.include_usage and reply.usage_location == "chunk"
    extra = reply.extra

    def chunk(
        delta: dict[str, Any], finish: str | None = None, logprobs: Any = None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": ctx.id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": ctx.model,
            "system_fingerprint": reply.system_fingerprint,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            ],
        }
        if null_usage:
            out["usage"] = None
        if extra:
            out.update(extra)
        return out

    # OpenAI opens with the role; its content is "" for text answers and null for tool calls.
    opening = None if reply.tool_calls and not reply.content else ""
    first: dict[str, Any] = {"role": "assistant", "content": opening, "refusal": None}
    if reply.message_extra:
        first.update(reply.message_extra)
    events = [chunk(first)]

    if reply.reasoning:
        pieces = reply.reasoning_chunks
        for piece in split_words(reply.reasoning) if pieces is None else pieces:
            events.append(chunk({reply.reasoning_field: piece}))
    for detail in reply.reasoning_details or ():
        events.append(chunk({"reasoning_details": [dict(detail)]}))

    pieces = _content_pieces(reply)
    entries = _logprobs(reply, pieces)
    per_piece = entries is not None and len(entries) == len(pieces)
    for i, piece in enumerate(pieces):
        logprobs = None
        if entries is not None and per_piece:
            logprobs = {"content": [entries[i]], "refusal": None}
        elif entries is not None and i == len(pieces) - 1:
            logprobs = {"content": entries, "refusal": None}
        events.append(chunk({"content": piece}, logprobs=logprobs))

    for piece in split_words(reply.refusal or ""):
        events.append(chunk({"refusal": piece}))
    if reply.audio is not None:
        events.append(chunk({"audio": _audio(reply, ctx)}))
    for fragment in _tool_fragments(reply, ctx):
        events.append(chunk({"tool_calls": [fragment]}))

    last_delta: dict[str, Any] = {}
    if reply.annotations:
        last_delta["annotations"] = [dict(a) for a in reply.annotations]
    last = chunk(last_delta, finish=_finish_reason(reply))
    events.append(last)

    usage = _usage(reply, ctx)
    if usage is not None:
        if reply.usage_location == "x_groq":
            last["x_groq"] = {"id": f"req_loopback_{ctx.seq}", "usage": usage}
        elif reply.usage_location == "finish":
            last["usage"] = usage
        elif ctx.include_usage:
            tail = chunk({})
            tail["choices"] = []
            tail["usage"] = usage
            events.append(tail)
    return events


def _content_pieces(reply: Reply) -> list[str]:
    if reply.chunks is not None:
        return list(reply.chunks)
    content = reply.content
    if not content:
        return []
    entries = reply.logprobs
    # Let explicit logprob tokens decide the split, so that each chunk carries its own token.
    if isinstance(entries, Sequence) and not isinstance(entries, str):
        tokens = [token for e in entries if isinstance(token := e.get("token"), str)]
        if len(tokens) == len(entries) and "".join(tokens) == content:
            return tokens
    return split_words(content)


def _logprobs(reply: Reply, pieces: list[str]) -> list[dict[str, Any]] | None:
    entries = reply.logprobs
    if entries is None or entries is False:
        return None
    if entries is True:
        return [
            {"token": p, "logprob": -0.25, "bytes": list(p.encode()), "top_logprobs": []}
            for p in pieces
        ]
    return [dict(e) for e in entries]


def _finish_reason(reply: Reply) -> str:
    if reply.finish_reason is not None:
        return reply.finish_reason
    return "tool_calls" if reply.tool_calls else "stop"


def _usage(reply: Reply, ctx: _Context) -> dict[str, Any] | None:
    usage = reply.usage
    if usage is None:
        return None
    if usage == "auto":
        reasoning = len(reply.reasoning.split()) if reply.reasoning else 0
        completion = reasoning + sum(max(1, len(_arguments(c)) // 4) for c in reply.tool_calls)
        if reply.content:
            completion += len(reply.content.split())
        if reply.refusal:
            completion += len(reply.refusal.split())
        prompt = _prompt_words(ctx.request)
        out: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if reasoning:
            out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return out
    if not isinstance(usage, Usage):
        return dict(usage)
    total = usage.total_tokens
    counts: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens if total is None else total,
    }
    if usage.reasoning_tokens is not None:
        counts["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    if usage.cached_tokens is not None:
        counts["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return counts


def _prompt_words(request: dict[str, Any]) -> int:
    messages = request.get("messages")
    if not isinstance(messages, list):
        return 0
    return sum(len(content_text(m.get("content")).split()) for m in messages if isinstance(m, dict))


def _audio(reply: Reply, ctx: _Context) -> dict[str, Any]:
    audio = reply.audio
    assert audio is not None
    return {
        "id": audio.id or f"audio_loopback_{ctx.seq}",
        "data": base64.b64encode(audio.data).decode("ascii"),
        "transcript": audio.transcript,
        "expires_at": audio.expires_at if audio.expires_at is not None else ctx.created + 3600,
    }


def _arguments(call: ToolCall) -> str:
    args = call.arguments
    return args if isinstance(args, str) else _encode(args).decode()


def _call_id(call: ToolCall, index: int, ctx: _Context) -> str:
    return call.id if call.id is not None else f"call_{ctx.seq}_{index}"


def _argument_pieces(call: ToolCall) -> list[str]:
    args = _arguments(call)
    if call.chunks is not None:
        if "".join(call.chunks) != args:
            raise ValueError(f"ToolCall.chunks must join to the arguments {args!r}")
        return list(call.chunks)
    size = max(1, -(-len(args) // 3))
    return [args[i : i + size] for i in range(0, len(args), size)]


def _tool_fragments(reply: Reply, ctx: _Context) -> list[dict[str, Any]]:
    per_call = []
    for index, call in enumerate(reply.tool_calls):
        call_id = _call_id(call, index, ctx)
        pieces = _argument_pieces(call)

        def head(
            arguments: str, index: int = index, call_id: str = call_id, name: str = call.name
        ) -> dict[str, Any]:
            return {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }

        def tail(arguments: str, index: int = index) -> dict[str, Any]:
            return {"index": index, "function": {"arguments": arguments}}

        style = reply.tool_call_ids
        if style == "first":
            fragments = [head("")] + [tail(p) for p in pieces]
        elif style == "every":
            fragments = [head(p) for p in pieces or [""]]
        elif style == "late":
            pieces = pieces or [""]
            fragments = [tail(pieces[0]), head(pieces[1] if len(pieces) > 1 else "")]
            fragments += [tail(p) for p in pieces[2:]]
        else:
            raise ValueError(
                f"Reply.tool_call_ids must be 'first', 'every' or 'late'; got {style!r}"
            )
        per_call.append(fragments)

    if not reply.interleave_tool_calls:
        return [fragment for fragments in per_call for fragment in fragments]
    out: list[dict[str, Any]] = []
    for step in range(max((len(f) for f in per_call), default=0)):
        out.extend(fragments[step] for fragments in per_call if step < len(fragments))
    return out
