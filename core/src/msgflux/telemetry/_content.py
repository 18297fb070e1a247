"""Message content in the shapes of the conventions, recorded only when the user opted in.

``gen_ai.input.messages`` and ``gen_ai.output.messages`` follow the conventions' JSON schemas
(``gen-ai-input-messages.json`` / ``gen-ai-output-messages.json``): a list of
``{"role", "parts": [...]}`` where a part is ``text``, ``tool_call``, ``tool_call_response``,
``reasoning``, ``uri`` or ``blob``. System messages stay in the input messages, where the
OpenAI chat API sends them. OpenTelemetry's Python API takes no structured attribute
values on spans yet, so each is recorded as a JSON string, as the conventions allow.

The model's API key is removed from every string recorded here (a prompt that quotes it
must not put it in a trace).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["input_messages", "output_messages", "scrub", "to_json"]

_REDACTED = "[REDACTED]"
_MIN_SECRET = 8  # as msgflux.errors.redact_secret: no real key is shorter
_encode = msgspec.json.Encoder(enc_hook=str).encode


def scrub(text: str, secret: str | None) -> str:
    """``text`` without ``secret``."""
    if secret and len(secret) >= _MIN_SECRET and secret in text:
        return text.replace(secret, _REDACTED)
    return text


def to_json(value: Any, secret: str | None = None) -> str:
    """``value`` as a JSON string, without ``secret``."""
    return scrub(_encode(value).decode(), secret)


def input_messages(messages: Any, secret: str | None) -> str:
    """``gen_ai.input.messages`` of a request's ``messages``."""
    converted = [_message(message) for message in messages or () if isinstance(message, Mapping)]
    return to_json(converted, secret)


def output_messages(response: Any, secret: str | None) -> str:
    """``gen_ai.output.messages`` of a finished response (one message: msgflux reads one choice)."""
    parts: list[dict[str, Any]] = []
    reasoning = getattr(response, "reasoning", None)
    if reasoning:
        parts.append({"type": "reasoning", "content": reasoning})
    data = response.data
    calls = getattr(response, "tool_calls", None)
    if calls:
        if calls.content:
            parts.append({"type": "text", "content": calls.content})
        parts.extend(_tool_call_part(call) for call in calls.tool_calls)
    elif isinstance(data, str):
        parts.append({"type": "text", "content": data})
    elif data is not None:  # structured output (a dotdict) or audio
        parts.append({"type": "text", "content": _encode(data).decode()})
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    finish_reason = (response.metadata or {}).get("finish_reason")
    if finish_reason:
        message["finish_reason"] = finish_reason
    return to_json([message], secret)


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    parts: list[dict[str, Any]] = []
    content = message.get("content")
    if role == "tool":
        parts.append(
            {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": content}
        )
    elif isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        parts.extend(_content_part(part) for part in content if isinstance(part, Mapping))
    for call in message.get("tool_calls") or ():
        if isinstance(call, Mapping):
            parts.append(_tool_call_part(call))
    return {"role": role, "parts": parts}


def _content_part(part: Mapping[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "content": part.get("text", "")}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url", "") if isinstance(image, Mapping) else str(image)
        if url.startswith("data:"):
            header, _, data = url.partition(",")
            mime_type = header[len("data:") :].split(";")[0] or None
            return {"type": "blob", "modality": "image", "mime_type": mime_type, "content": data}
        return {"type": "uri", "modality": "image", "uri": url}
    if kind == "input_audio":
        audio = part.get("input_audio")
        audio = audio if isinstance(audio, Mapping) else {}
        audio_format = audio.get("format")
        return {
            "type": "blob",
            "modality": "audio",
            "mime_type": f"audio/{audio_format}" if audio_format else None,
            "content": audio.get("data", ""),
        }
    return {"type": str(kind)}  # a part the conventions have no shape for: its type only


def _tool_call_part(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    function = function if isinstance(function, Mapping) else {}
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = msgspec.json.decode(arguments)
        except msgspec.DecodeError:
            pass  # the model's raw text, as it was
    return {
        "type": "tool_call",
        "id": call.get("id"),
        "name": function.get("name"),
        "arguments": arguments,
    }
