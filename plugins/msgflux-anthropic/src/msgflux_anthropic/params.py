"""``adapt_params``: msgflux's neutral request -> a Messages API request.

The neutral request is OpenAI-shaped (``messages``, ``max_tokens``, ``stop``, ``tools`` with
``function`` entries, ``tool_choice``, ``response_format``, ``stream_options``...); this
module builds the Messages API body from it and refuses, before anything is sent, what the
pinned API version or the model rejects (naming the parameter). ``extra_body`` is merged
into the body last (its keys win) and the result is checked as a whole, so a ``thinking`` or
``top_k`` passed there obeys the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from msgflux.errors import UnsupportedParameterError
from msgflux_anthropic.messages import to_messages
from msgflux_anthropic.thinking import check_thinking, thinking_budget

__all__ = ["ONE_SAMPLER_MODELS", "map_request"]

#: Models that take ``temperature`` or ``top_p`` but not both: Claude 4.1 and later
#: (``claude-opus-4-1``, ``claude-sonnet-4-5``, ``claude-haiku-4-5``, ``claude-opus-4-6``...).
ONE_SAMPLER_MODELS = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?:-|@|$)")

_CHOICES = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}


def map_request(model: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The Messages API request (body keys, plus ``extra_headers`` and ``timeout``)."""
    budget = thinking_budget(params)
    system, messages = to_messages(params["messages"])
    request: dict[str, Any] = {"model": params["model"]}
    max_tokens = params.get("max_tokens")
    if max_tokens is None:
        default = model.options["default_max_tokens"]
        max_tokens = default + budget if budget is not None else default
    request["max_tokens"] = max_tokens
    cache = model.options.get("prompt_cache")
    if system:
        request["system"] = _system(system, cache)
    request["messages"] = _mark_last_message(messages, cache)
    _sampling(model, params, request)
    if budget is not None:
        request["thinking"] = {"type": "enabled", "budget_tokens": budget}
    _tools(model, params, request, cache)
    _output_format(params.get("response_format"), request)
    if params.get("stream"):
        request["stream"] = True  # stream_options: the API always streams usage
    request.update(params.get("extra_body") or {})
    _check(model, request)
    for name in ("extra_headers", "timeout"):
        if name in params:
            request[name] = params[name]
    return request


def _cache_control(ttl: str) -> dict[str, Any]:
    return {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}


def _system(blocks: list[dict[str, Any]], cache: str | None) -> Any:
    if cache is None and len(blocks) == 1 and set(blocks[0]) == {"type", "text"}:
        return blocks[0]["text"]
    if cache is not None:
        blocks = [*blocks[:-1], {**blocks[-1], "cache_control": _cache_control(cache)}]
    return blocks


def _mark_last_message(messages: list[dict[str, Any]], cache: str | None) -> list[dict[str, Any]]:
    """With ``prompt_cache``, a cache breakpoint on the last block of the last message."""
    if cache is None or not messages:
        return messages
    last = messages[-1]
    content = last["content"]
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    if not content:
        return messages
    marked = {**content[-1], "cache_control": _cache_control(cache)}
    return [*messages[:-1], {**last, "content": [*content[:-1], marked]}]


def _sampling(model: Any, params: Mapping[str, Any], request: dict[str, Any]) -> None:
    temperature = params.get("temperature")
    if temperature is not None:
        if temperature > 1:
            raise UnsupportedParameterError(
                f"provider 'anthropic' takes temperature between 0 and 1; got {temperature}"
            )
        request["temperature"] = temperature
    if params.get("top_p") is not None:
        request["top_p"] = params["top_p"]
    if model.options.get("top_k") is not None:
        request["top_k"] = model.options["top_k"]
    stop = params.get("stop")
    if stop is not None:
        request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)


def _tools(model: Any, params: Mapping[str, Any], request: dict[str, Any], cache: Any) -> None:
    tools = params.get("tools")
    if tools:
        converted = [_tool(tool, model.options.get("strict_tools")) for tool in tools]
        if cache is not None:
            converted[-1] = {**converted[-1], "cache_control": _cache_control(cache)}
        request["tools"] = converted
    choice = _tool_choice(params.get("tool_choice"))
    if params.get("parallel_tool_calls") is False and tools:
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if choice is not None:
        request["tool_choice"] = choice


def _tool(tool: Mapping[str, Any], strict: bool) -> dict[str, Any]:
    if tool.get("type") != "function":
        return dict(tool)  # an Anthropic tool as it is (web_search_20250305, bash...)
    function = tool["function"]
    out: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    out["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    if strict and function.get("strict"):
        out["strict"] = True
    return out


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        if choice not in _CHOICES:
            raise ValueError(f"tool_choice {choice!r}: expected auto, required, none or a name")
        return dict(_CHOICES[choice])
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return {"type": "tool", "name": choice["function"]["name"]}
    return dict(choice)  # Anthropic's own shape ({"type": "any"}, {"type": "tool", ...})


def _output_format(response_format: Any, request: dict[str, Any]) -> None:
    """Structured output as the API's JSON outputs: ``output_config.format``."""
    if response_format is None:
        return
    if response_format.get("type") != "json_schema":
        raise UnsupportedParameterError(
            f"provider 'anthropic' takes structured output as a JSON schema only (got "
            f"response_format type {response_format.get('type')!r}): use generation_schema="
        )
    schema = response_format["json_schema"]["schema"]
    request["output_config"] = {"format": {"type": "json_schema", "schema": schema}}


def _check(model: Any, request: Mapping[str, Any]) -> None:
    """Refuse what the API or the model rejects, naming the parameter."""
    if request.get("thinking", {}).get("type") == "enabled":
        check_thinking(request)
    if (
        request.get("temperature") is not None
        and request.get("top_p") is not None
        and _one_sampler(str(request["model"]))
    ):
        raise UnsupportedParameterError(
            f"model {request['model']!r} on provider 'anthropic' takes temperature or top_p, "
            "not both; remove one"
        )
    messages = request["messages"]
    last = messages[-1] if messages else {}
    prefilled = last.get("content") if last.get("role") == "assistant" else None
    if isinstance(prefilled, str) and prefilled != prefilled.rstrip():
        raise UnsupportedParameterError(
            "provider 'anthropic' rejects a prefilled answer ending in whitespace; strip "
            "the prefilling"
        )


def _one_sampler(model_id: str) -> bool:
    match = ONE_SAMPLER_MODELS.search(model_id)
    if match is None:
        return False
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    return (major, minor) >= (4, 1)
