"""Rendering a scripted `Reply` as Anthropic's Messages API would answer it.

The same `Reply` vocabulary as the OpenAI-compatible server (text, reasoning, tool calls,
usage, errors, raw bodies and events, faults), in the Messages API's shapes: a ``message``
body, or a stream of named events (``message_start``, ``ping``, per block
``content_block_start`` / ``content_block_delta`` / ``content_block_stop``,
``message_delta``, ``message_stop``). ``Reply.content_blocks`` scripts the blocks
themselves (thinking with signatures, redacted thinking...).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec

from msgflux.testing._render import Plan, merge_headers, render, split_words
from msgflux.testing._replies import Reply, Usage, content_text

__all__ = ["ERROR_TYPES", "error_body", "event_frame", "render_message", "signature_of"]

_encode = msgspec.json.Encoder().encode

#: HTTP status -> Anthropic's ``error.type``.
ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# OpenAI's finish reasons (the Reply vocabulary) -> Anthropic's stop reasons.
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def signature_of(thinking: str) -> str:
    """The signature the server gives a thinking block (deterministic, opaque-looking)."""
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest() * 2).decode()


def error_body(status: int, message: str, type_: str | None = None, seq: int = 0) -> bytes:
    """An error body in the Messages API's shape; ``type_`` defaults from the status."""
    kind = type_ or ERROR_TYPES.get(
        status, "api_error" if status >= 500 else "invalid_request_error"
    )
    return _encode(
        {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": f"req_loopback_{seq}",
        }
    )


def event_frame(event: Mapping[str, Any]) -> bytes:
    """One named SSE event: ``event: <type>`` and the JSON ``data:`` line."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + _encode(event) + b"\n\n"


def render_message(reply: Reply, request: Any, seq: int) -> Plan:
    """Render ``reply`` as the answer to the decoded Messages API request ``request``."""
    defaults = [("request-id", f"req_loopback_{seq}")]
    if reply.kind in ("raw", "events"):
        return render(reply, request, seq)  # bytes as scripted: no wire format involved
    if reply.kind == "error":
        if reply.body is None:
            body = error_body(reply.status, reply.error_message or "", reply.error_type, seq)
        elif isinstance(reply.body, bytes | str):
            body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        else:
            body = _encode(reply.body)
        defaults.insert(0, ("content-type", reply.content_type or "application/json"))
        return Plan(reply.status, merge_headers(defaults, reply.headers), body=body, reply=reply)
    req = request if isinstance(request, dict) else {}
    message = _message(reply, req, seq)
    if req.get("stream") is True:
        defaults.insert(0, ("content-type", "text/event-stream; charset=utf-8"))
        frames = [event_frame(event) for event in _events(reply, message)]
        return Plan(
            reply.status, merge_headers(defaults, reply.headers), frames=frames, reply=reply
        )
    defaults.insert(0, ("content-type", "application/json"))
    body = _encode(message)
    return Plan(reply.status, merge_headers(defaults, reply.headers), body=body, reply=reply)


def _message(reply: Reply, request: dict[str, Any], seq: int) -> dict[str, Any]:
    blocks = [dict(block) for block in reply.content_blocks or ()] or _blocks(reply, seq)
    model = request.get("model")
    message: dict[str, Any] = {
        "id": reply.id or f"msg_loopback_{seq}",
        "type": "message",
        "role": "assistant",
        "model": reply.model or (model if isinstance(model, str) else "loopback"),
        "content": blocks,
        "stop_reason": _stop_reason(reply, blocks),
        "stop_sequence": None,
        "usage": _usage(reply, request, blocks),
    }
    if reply.extra:
        message.update(reply.extra)
    return message


def _blocks(reply: Reply, seq: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.reasoning:
        blocks.append(
            {
                "type": "thinking",
                "thinking": reply.reasoning,
                "signature": signature_of(reply.reasoning),
            }
        )
    if reply.content:
        blocks.append({"type": "text", "text": reply.content})
    for index, call in enumerate(reply.tool_calls):
        arguments = call.arguments
        value = msgspec.json.decode(arguments) if isinstance(arguments, str) else dict(arguments)
        call_id = call.id if call.id is not None else f"toolu_loopback_{seq}_{index}"
        blocks.append({"type": "tool_use", "id": call_id, "name": call.name, "input": value})
    return blocks


def _stop_reason(reply: Reply, blocks: list[dict[str, Any]]) -> str:
    if reply.finish_reason is not None:
        return _STOP_REASONS.get(reply.finish_reason, reply.finish_reason)
    return "tool_use" if any(block.get("type") == "tool_use" for block in blocks) else "end_turn"


def _usage(reply: Reply, request: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
    usage = reply.usage
    if isinstance(usage, Usage):
        return {
            "input_tokens": usage.prompt_tokens,
            "output_tokens": usage.completion_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens or 0,
            "cache_read_input_tokens": usage.cached_tokens or 0,
        }
    if isinstance(usage, Mapping):
        return dict(usage)
    prompt = sum(
        len(content_text(message.get("content")).split())
        for message in request.get("messages") or ()
        if isinstance(message, dict)
    )
    output = sum(len(_block_text(block).split()) for block in blocks)
    return {
        "input_tokens": prompt,
        "output_tokens": output,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _block_text(block: Mapping[str, Any]) -> str:
    for field in ("text", "thinking"):
        if isinstance(block.get(field), str):
            return str(block[field])
    return _encode(block.get("input", "")).decode() if block.get("type") == "tool_use" else ""


def _events(reply: Reply, message: dict[str, Any]) -> list[dict[str, Any]]:
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**usage, "output_tokens": 1}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}, {"type": "ping"}]
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(reply, index, block))
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": usage.get("output_tokens", 0)},
        }
    )
    events.append({"type": "message_stop"})
    return events


def _block_events(reply: Reply, index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block.get("type")
    if kind == "text":
        opening: dict[str, Any] = {"type": "text", "text": ""}
        pieces = list(reply.chunks) if reply.chunks is not None else split_words(block["text"])
        deltas = [{"type": "text_delta", "text": piece} for piece in pieces]
    elif kind == "thinking":
        opening = {"type": "thinking", "thinking": ""}
        chunks = reply.reasoning_chunks
        texts = list(chunks) if chunks is not None else split_words(block["thinking"])
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in texts]
        deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
    elif kind == "tool_use":
        opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in _json_pieces(reply, block)
        ]
    else:  # redacted_thinking and other blocks arrive whole
        opening, deltas = block, []
    return [
        {"type": "content_block_start", "index": index, "content_block": opening},
        *({"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def _json_pieces(reply: Reply, block: Mapping[str, Any]) -> list[str]:
    for call in reply.tool_calls:
        if call.name == block["name"] and call.chunks is not None:
            return list(call.chunks)
        if call.name == block["name"] and isinstance(call.arguments, str):
            text = call.arguments
            break
    else:
        text = _encode(block.get("input", {})).decode()
    size = max(1, -(-len(text) // 3))
    return [text[i : i + size] for i in range(0, len(text), size)]
