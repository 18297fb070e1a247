"""Request adaptation: what a llama.cpp server accepts, from msgflux's OpenAI-shaped request.

Every rule here answers something observed on ``llama-cpp-python``'s server (0.3.x); each
is also valid for llama.cpp's own ``llama-server``, so one plugin serves both. (Facts are
declared as ``Quirks`` in the spec: ``max_completion_tokens`` is ignored, so ``max_tokens``
is sent; content given as a list of text parts fails in chat templates that expect a string,
so it is sent as one string.)

- ``response_format`` accepts ``{"type": "json_object", "schema": ...}`` and rejects
  ``{"type": "json_schema", ...}`` with a validation error;
- an assistant message must carry ``content`` as a string (``null`` or a missing key is
  rejected), and the ``developer`` role is rejected;
- a tool call is produced only for a named ``tool_choice``: ``"required"`` is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgflux.errors import UnsupportedParameterError

__all__ = ["adapt_request"]


def adapt_request(provider: str, params: dict[str, Any]) -> dict[str, Any]:
    """Turn the OpenAI-shaped ``params`` into a llama.cpp request (in place, and returned).

    Nested values may be the caller's, so they are replaced, never mutated.

    Raises:
        UnsupportedParameterError: ``enable_thinking=True`` or ``reasoning_max_tokens``:
            llama.cpp servers take no such setting per request.
    """
    response_format = params.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
        params["response_format"] = _json_object_format(response_format)
    messages = params.get("messages")
    if isinstance(messages, list):
        params["messages"] = [_message(message) for message in messages]
    _force_single_required_tool(params)
    _neutral_reasoning_options(provider, params)
    return params


def _json_object_format(response_format: Mapping[str, Any]) -> dict[str, Any]:
    # The server compiles `schema` into a grammar, so the answer is constrained as with
    # OpenAI's strict mode; `name` and `strict` have no counterpart.
    json_schema = response_format.get("json_schema")
    schema = json_schema.get("schema") if isinstance(json_schema, Mapping) else None
    if schema is None:
        return {"type": "json_object"}
    return {"type": "json_object", "schema": schema}


def _message(message: Any) -> Any:
    if not isinstance(message, Mapping):
        return message
    role = message.get("role")
    content = message.get("content")
    changes: dict[str, Any] = {}
    if role == "developer":
        changes["role"] = "system"
    if role == "assistant" and content is None:
        # A tool-call round's assistant message usually has no text: OpenAI sends null.
        changes["content"] = ""
    if not changes:
        return message
    return {**message, **changes}


def _force_single_required_tool(params: dict[str, Any]) -> None:
    # "required" with one tool means "call this tool", which the server does honour when
    # the tool is named. With several tools there is no equivalent; the choice is sent
    # as given (llama-server honours it, llama-cpp-python answers with text).
    tools = params.get("tools")
    if params.get("tool_choice") == "required" and isinstance(tools, list) and len(tools) == 1:
        function = tools[0].get("function") if isinstance(tools[0], Mapping) else None
        name = function.get("name") if isinstance(function, Mapping) else None
        if isinstance(name, str):
            params["tool_choice"] = {"type": "function", "function": {"name": name}}


def _neutral_reasoning_options(provider: str, params: dict[str, Any]) -> None:
    if params.pop("enable_thinking", None):
        raise UnsupportedParameterError(
            f"provider {provider!r} cannot switch thinking on per request (enable_thinking=True): "
            "a llama.cpp server decides it from the model's chat template when it starts "
            "(llama-cpp-python: --chat_template_kwargs '{\"enable_thinking\": true}'); servers "
            "that read template arguments per request (llama-server) take "
            "extra_body={'chat_template_kwargs': {'enable_thinking': True}}"
        )
    budget = params.pop("reasoning_max_tokens", None)
    if budget is not None:
        raise UnsupportedParameterError(
            f"provider {provider!r} has no per-request reasoning budget "
            f"(reasoning_max_tokens={budget!r}): bound the whole answer with max_tokens, or "
            "start llama-server with --reasoning-budget"
        )
