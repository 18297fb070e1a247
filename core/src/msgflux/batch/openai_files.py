"""The OpenAI Batch API file formats: requests in, answers out, as msgflux calls.

An input line is ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``
where ``body`` is a Chat Completions request. ``to_call`` maps the body to msgflux call
arguments (the model, the messages, generation parameters by OpenAI's names,
``max_completion_tokens`` as ``max_tokens``, ``tools``/``tool_choice`` as
``ToolDefinitions``, a ``json_schema`` ``response_format`` as structured output); any
other field is sent as it is (``extra_body``), never dropped.

An output line is ``{"id", "custom_id", "response": {"status_code", "request_id",
"body"}, "error"}``: a chat completion with status 200; an error answer of the provider
with its status and error body; or, for a failure without an HTTP answer (connection,
timeout, an answer that cannot be decoded), ``response: null`` and an ``error``.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from msgflux.models.settings import REQUEST_OPTIONS

__all__ = ["BatchRequest", "FileFormatError", "output_line", "parse_request", "to_call"]

CHAT_URL = "/v1/chat/completions"

_RENAMED = {"max_completion_tokens": "max_tokens"}
_REFUSED = {
    "stream": "a batch collects whole answers",
    "n": "msgflux returns one choice per request",
}
_TOOL_FIELDS = ("tools", "tool_choice", "functions", "function_call")


class FileFormatError(ValueError):
    """A line of a batch input file that is not an OpenAI Batch request."""


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One line of an input file.

    Attributes:
        custom_id: The caller's id of the request (unique in the file).
        body: The Chat Completions request.
        line: The line number (1-based), for messages.
    """

    custom_id: str
    body: dict[str, Any]
    line: int


def parse_request(text: str, line: int) -> BatchRequest:
    """Read one input line.

    Raises:
        FileFormatError: The line is not a request of the OpenAI Batch format for
            ``/v1/chat/completions`` (the message names the line and what is wrong).
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FileFormatError(f"line {line}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise FileFormatError(f"line {line}: expected a JSON object, got {type(data).__name__}")
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise FileFormatError(f"line {line}: 'custom_id' must be a non-empty string")
    if data.get("method", "POST") != "POST":
        raise FileFormatError(f"line {line} ({custom_id}): 'method' must be POST")
    if data.get("url") != CHAT_URL:
        raise FileFormatError(
            f"line {line} ({custom_id}): 'url' must be {CHAT_URL!r} (the only endpoint msgflux "
            f"batches), got {data.get('url')!r}"
        )
    body = data.get("body")
    if not isinstance(body, dict):
        raise FileFormatError(f"line {line} ({custom_id}): 'body' must be a JSON object")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise FileFormatError(f"line {line} ({custom_id}): 'body.messages' must be a list")
    for name, why in _REFUSED.items():
        if name in body and not (name == "n" and body[name] == 1) and body[name] is not False:
            raise FileFormatError(f"line {line} ({custom_id}): 'body.{name}' is refused: {why}")
    return BatchRequest(custom_id, body, line)


def to_call(body: dict[str, Any]) -> tuple[str | None, list[Any], dict[str, Any]]:
    """``(model, messages, call keyword arguments)`` for a Chat Completions body.

    ``model`` is the body's ``model`` as written (``None`` if absent): the caller decides
    whether it names a ``provider/model`` or is replaced by a model of its own.
    """
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in body.items():
        if name in ("model", "messages", *_TOOL_FIELDS, "response_format"):
            continue
        name = _RENAMED.get(name, name)
        if name in REQUEST_OPTIONS:
            kwargs[name] = value
        else:
            extra[name] = value
    tools = _tool_definitions(body)
    if tools is not None:
        kwargs["tool_definitions"] = tools
    _response_format(body.get("response_format"), kwargs, extra)
    if extra:
        kwargs["extra_body"] = extra
    model = body.get("model")
    return (model if isinstance(model, str) else None), body["messages"], kwargs


def _tool_definitions(body: dict[str, Any]) -> Any:
    if "functions" in body or "function_call" in body:
        raise FileFormatError("'functions' / 'function_call' are deprecated: use 'tools'")
    if not body.get("tools"):
        return None
    from msgflux.tools import ToolDefinitions

    choice = body.get("tool_choice")
    return ToolDefinitions(schemas=body["tools"], choice=choice)


def _response_format(value: Any, kwargs: dict[str, Any], extra: dict[str, Any]) -> None:
    if value is None:
        return
    if isinstance(value, dict) and value.get("type") == "json_schema":
        spec = value.get("json_schema") or {}
        schema = spec.get("schema")
        if isinstance(schema, dict):
            from msgflux.generation.json_schema import json_schema_class

            kwargs["generation_schema"] = json_schema_class(schema, spec.get("name") or "schema")
            return
    extra["response_format"] = value  # json_object, text: sent as written


# -- output ------------------------------------------------------------------------------------


def output_line(
    custom_id: str, model: str, response: Any = None, error: BaseException | None = None
) -> dict[str, Any]:
    """The output line for one request: its answer, or its error."""
    line_id = f"batch_req_{uuid.uuid4().hex}"
    if error is None:
        metadata = response.metadata
        return {
            "id": line_id,
            "custom_id": custom_id,
            "response": {
                "status_code": 200,
                "request_id": metadata.get("request_id"),
                "body": completion_body(response, model),
            },
            "error": None,
        }
    status = getattr(error, "status", None)
    if isinstance(status, int) and not isinstance(status, bool):
        return {
            "id": line_id,
            "custom_id": custom_id,
            "response": {
                "status_code": status,
                "request_id": getattr(error, "request_id", None),
                "body": _error_body(error),
            },
            "error": None,
        }
    return {
        "id": line_id,
        "custom_id": custom_id,
        "response": None,
        "error": {"code": type(error).__name__, "message": str(error)},
    }


def completion_body(response: Any, model: str) -> dict[str, Any]:
    """A ``chat.completion`` object for a msgflux response."""
    metadata = response.metadata
    message: dict[str, Any] = {"role": "assistant", "content": None}
    data = response.data
    if response.response_type == "tool_call":
        message["content"] = data.content
        message["tool_calls"] = data.tool_calls
    elif isinstance(data, str):
        message["content"] = data
    elif data is not None:
        message["content"] = json.dumps(data, ensure_ascii=False, default=str)
    if response.reasoning:
        message["reasoning"] = response.reasoning
    if metadata.get("refusal"):
        message["refusal"] = metadata.refusal
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "finish_reason": metadata.get("finish_reason"),
        "logprobs": metadata.get("logprobs"),
    }
    body: dict[str, Any] = {
        "id": metadata.get("id") or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }
    if metadata.get("usage"):
        body["usage"] = metadata.usage
    return body


def _error_body(error: BaseException) -> dict[str, Any]:
    body = getattr(error, "body", None)
    if isinstance(body, dict) and "error" in body:
        return body
    if isinstance(body, dict):
        return {"error": body}
    message = getattr(error, "message", None) or str(error)
    return {"error": {"message": message, "type": type(error).__name__}}
