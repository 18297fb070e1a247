"""Stage 1 of the pipeline: a call's messages and options in, the provider's request out.

``prepare_call(model, messages, options)``:

1. sorts the keyword arguments into call options and request overrides (an unknown name
   fails with the closest valid one);
2. checks what cannot be combined, the values, the provider's capabilities and the
   provider's refusals (``Quirks.refused`` / ``reasoning_efforts``), before anything is sent;
3. builds the provider-neutral request, in OpenAI's shape: the messages copied (the
   caller's are never touched), system prompt, prefilling, tools, response format, the
   model's defaults with the call's overrides, transport options;
4. runs the provider chain's ``adapt_params`` and refuses neutral options it left unmapped.

Nothing here does I/O; the result is a ``PreparedCall`` the other stages send and decode.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from msgflux.cache.keys import request_cache_key
from msgflux.errors import UnsupportedParameterError
from msgflux.http._timeout import Timeout
from msgflux.models.settings import (
    CALL_OPTIONS,
    NEUTRAL_OPTIONS,
    REQUEST_OPTIONS,
    RequestSchema,
    neutral_leftovers,
    unknown_keyword,
    validate,
)

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel
    from msgflux.tools import ToolDefinitions

__all__ = ["PreparedCall", "build_messages", "check_timeout", "prepare_call"]

_REQUEST_NAMES = frozenset((*REQUEST_OPTIONS, *NEUTRAL_OPTIONS))
_CALL_NAMES = frozenset(CALL_OPTIONS)


@dataclass(slots=True)
class PreparedCall:
    """One request, ready to send, and what turning its answer into a response needs.

    Attributes:
        params: The provider's request (``adapt_params`` applied), keyword arguments of
            the transport client's ``chat.completions.create``.
        stream: Whether the answer is streamed.
        prefilling: The start of the answer the caller wrote (prepended to it).
        generation_schema: The msgspec Struct the answer decodes into, if any.
        structured: The ``StructuredOutput`` decoding the answer, if any.
        typed_parser: The name of the typed parser decoding the answer, if any.
        cache_key: The response cache key, when the model caches (streams too).
        cache_ttl: Seconds the answer stays cached (``None``: the model's or backend's default).
    """

    params: dict[str, Any]
    stream: bool
    prefilling: str | None = None
    generation_schema: type | None = None
    structured: Any = None
    typed_parser: str | None = None
    cache_key: str | None = None
    cache_ttl: float | None = None


def prepare_call(
    model: ChatCompletionModel, messages: Any, options: Mapping[str, Any], stream: bool = False
) -> PreparedCall:
    """Validate a call and build the provider's request (see the module docstring)."""
    call_options, overrides = _split_options(options)
    if "stream" in call_options:  # given through a mapping of options (an Agent's config)
        stream = call_options["stream"]
    if not isinstance(stream, bool):
        raise ValueError(f"`stream` must be True or False, got {stream!r}")
    prefilling = call_options.get("prefilling")
    schema = call_options.get("generation_schema")
    parser = call_options.get("typed_parser")
    tools = _tool_definitions(call_options)
    _check_combinations(stream, prefilling, schema, parser)

    request = _request_options(model, overrides)
    built = build_messages(
        messages,
        call_options.get("system_prompt"),
        prefilling,
        providers=model._hooks.provider_names,
    )
    _check_capabilities(model, request, stream, schema, tools, built)
    _check_refusals(model, request)

    params: dict[str, Any] = {"model": model.model_id, "messages": built, **request}
    structured = None
    if schema is not None and parser is None:
        from msgflux.generation import structured_output

        structured = structured_output(schema, tools)
        params["response_format"] = structured.response_format
        if structured.consumes_tools:
            tools = None  # the schema itself carries the tool choice (ReAct)
    _add_tools(params, request, tools)
    if stream:
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
    _add_transport_options(model, params, call_options)

    cache_key = None
    cache_ttl = _cache_ttl(model, call_options)
    if model._response_cache is not None:
        cache_key = _cache_key(model, params, schema, parser)
    params = model._run_adapt_params(params)
    neutral_leftovers(model.provider, params)
    for name in NEUTRAL_OPTIONS:
        params.pop(name, None)
    return PreparedCall(
        params, stream, prefilling, schema, structured, parser, cache_key, cache_ttl
    )


def _split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(call options, request overrides)``; an unknown name is a ``TypeError``."""
    call_options: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for name, value in options.items():
        if name in _CALL_NAMES:
            call_options[name] = value
        elif name in _REQUEST_NAMES:
            if value is not None:  # None means "the model's default"
                overrides[name] = value
        else:
            raise unknown_keyword("model call", name, _CALL_NAMES | _REQUEST_NAMES)
    return call_options, overrides


def _request_options(model: ChatCompletionModel, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The model's request defaults with the call's overrides (checked when there are any)."""
    if not overrides:
        return dict(model.defaults)
    request = {**model.defaults, **overrides}
    validate(request, RequestSchema)
    return request


def _check_combinations(stream: bool, prefilling: Any, schema: Any, parser: Any) -> None:
    if prefilling is not None and schema is not None:
        raise ValueError(
            "`prefilling` cannot be combined with `generation_schema`: the schema already "
            "fixes how the answer starts; drop one of them"
        )
    if stream and schema is not None:
        raise ValueError(
            "`stream=True` cannot be combined with `generation_schema`: structured output is "
            "decoded from the whole answer; call without stream=True"
        )
    if stream and parser is not None:
        raise ValueError(
            "`stream=True` cannot be combined with `typed_parser`: the parser needs the whole "
            "answer; call without stream=True"
        )
    if parser is not None:
        from msgflux.dsl.typed_parsers import get_typed_parser

        get_typed_parser(parser)  # an unknown name fails listing the available ones


def _tool_definitions(call_options: Mapping[str, Any]) -> ToolDefinitions | None:
    from msgflux.tools import ToolDefinitions

    tool_definitions = call_options.get("tool_definitions")
    schemas = call_options.get("tool_schemas")
    choice = call_options.get("tool_choice")
    if schemas is not None or choice is not None:
        warnings.warn(
            "`tool_schemas=` / `tool_choice=` are deprecated; pass "
            "`tool_definitions=ToolDefinitions(schemas=..., choice=...)`",
            DeprecationWarning,
            stacklevel=5,
        )
        if tool_definitions is not None:
            raise ValueError(
                "pass either `tool_definitions` or `tool_schemas`/`tool_choice`, not both"
            )
        if schemas is None:
            raise ValueError(
                "`tool_choice` needs tools: pass `tool_definitions=ToolDefinitions(...)`"
            )
        return ToolDefinitions(schemas=schemas, choice=choice)
    if tool_definitions is None:
        return None
    if not isinstance(tool_definitions, ToolDefinitions):
        raise TypeError(
            "`tool_definitions` must be a msgflux.tools.ToolDefinitions, got "
            f"{type(tool_definitions).__name__}; wrap your schemas: "
            "ToolDefinitions(schemas=[...])"
        )
    return tool_definitions if tool_definitions.schemas else None


def _check_capabilities(
    model: ChatCompletionModel,
    request: Mapping[str, Any],
    stream: bool,
    schema: Any,
    tools: Any,
    messages: list[dict[str, Any]],
) -> None:
    """Refuse what the provider does not declare in ``ProviderSpec.supports``."""
    needed = (
        ("streaming", "stream=True", stream),
        ("tools", "tool_definitions", tools is not None),
        ("structured_output", "generation_schema", schema is not None),
        ("logprobs", "logprobs=True", bool(request.get("logprobs"))),
        ("audio_output", "modalities=['audio']", "audio" in (request.get("modalities") or ())),
        ("web_search", "web_search_options", request.get("web_search_options") is not None),
    )
    supported = model.supports
    for capability, what, wanted in needed:
        if wanted and capability not in supported:
            raise UnsupportedParameterError(
                f"provider {model.provider!r} does not support {capability.replace('_', ' ')} "
                f"({what}); supported: {', '.join(sorted(supported)) or 'nothing optional'}"
            )
    if "vision" not in supported:
        position = _first_image(messages)
        if position is not None:
            raise UnsupportedParameterError(
                f"provider {model.provider!r} does not support vision: its messages are text "
                f"only (messages[{position}] has an image part)"
            )


def _first_image(messages: list[dict[str, Any]]) -> int | None:
    """The index of the first message holding an image part."""
    for position, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(part, Mapping) and part.get("type") == "image_url" for part in content
        ):
            return position
    return None


def _check_refusals(model: ChatCompletionModel, request: Mapping[str, Any]) -> None:
    """Apply the provider's declared refusals (``Quirks``) to the neutral request."""
    quirks = model.quirks
    for name, reason in (quirks.refused or {}).items():
        if request.get(name) is not None:
            raise UnsupportedParameterError(
                f"provider {model.provider!r} does not support `{name}`: {reason}; remove it"
            )
    effort = request.get("reasoning_effort")
    efforts = quirks.reasoning_efforts
    if effort is not None and efforts is not None and effort not in efforts:
        raise UnsupportedParameterError(
            f"models on provider {model.provider!r} accept reasoning_effort "
            f"{', '.join(efforts)}; got {effort!r}"
        )


def build_messages(
    messages: Any,
    system_prompt: Any,
    prefilling: Any,
    *,
    providers: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """The request's messages: copies of the caller's, with system prompt and prefilling.

    Args:
        messages: A user message as ``str``, or a list of message dicts.
        system_prompt: Prepended as a system message, when given.
        prefilling: Appended as an assistant message, when given.
        providers: The provider chain the request goes to. A message's ``provider_data``
            (``ToolCallAggregator.get_messages()``) keeps only these providers' entries, and
            is dropped when none is left: one provider's data never reaches another
            provider. ``None`` keeps it as it is.
    """
    if isinstance(messages, str):
        built = [{"role": "user", "content": messages}]
    elif isinstance(messages, list | tuple):
        built = []
        for position, message in enumerate(messages):
            if not isinstance(message, Mapping) or "role" not in message:
                raise ValueError(
                    f"messages[{position}] must be a dict with a 'role' (e.g. "
                    f"{{'role': 'user', 'content': '...'}} or mf.ChatBlock.user('...')), "
                    f"got {message!r}"
                )
            copy = _copy_json(dict(message))
            if providers is not None and "provider_data" in copy:
                _keep_provider_data(copy, providers)
            built.append(copy)
    else:
        raise TypeError(
            f"messages must be a str or a list of message dicts, got {type(messages).__name__}"
        )
    if system_prompt is not None:
        if not isinstance(system_prompt, str):
            raise TypeError(f"system_prompt must be a str, got {type(system_prompt).__name__}")
        built.insert(0, {"role": "system", "content": system_prompt})
    if prefilling is not None:
        if not isinstance(prefilling, str):
            raise TypeError(f"prefilling must be a str, got {type(prefilling).__name__}")
        built.append({"role": "assistant", "content": prefilling})
    return built


def _keep_provider_data(message: dict[str, Any], providers: Collection[str]) -> None:
    """Keep the ``provider_data`` entries of ``providers`` only (drop the key if none)."""
    data = message.pop("provider_data")
    if isinstance(data, dict):
        kept = {name: value for name, value in data.items() if name in providers}
        if kept:
            message["provider_data"] = kept


def _copy_json(value: Any) -> Any:
    """Copy nested dicts and lists (a fast deep copy of message-shaped data)."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_json(item) for item in value]
    return value


def _add_tools(params: dict[str, Any], request: Mapping[str, Any], tools: Any) -> None:
    if tools is not None:
        params.update(tools.to_request())
        if "parallel_tool_calls" in request and "parallel_tool_calls" not in params:
            params["parallel_tool_calls"] = request["parallel_tool_calls"]
    elif "parallel_tool_calls" in params:
        del params["parallel_tool_calls"]  # meaningless (and rejected) without tools


def _add_transport_options(
    model: ChatCompletionModel, params: dict[str, Any], call_options: Mapping[str, Any]
) -> None:
    """``extra_body``, ``extra_headers`` (model's, then the call's) and the timeout."""
    extra_body = {**model.extra_body, **(call_options.get("extra_body") or {})}
    if extra_body:
        params["extra_body"] = extra_body
    extra_headers = {**model.extra_headers, **(call_options.get("extra_headers") or {})}
    if extra_headers:
        params["extra_headers"] = extra_headers
    timeout = check_timeout(call_options.get("timeout", model.timeout))
    if timeout is not None:
        # A Timeout's total deadline starts now: the retries and the transport share it.
        params["timeout"] = timeout.start() if isinstance(timeout, Timeout) else timeout


def check_timeout(timeout: Any) -> Timeout | float | None:
    """``timeout`` if it is ``None`` (wait forever), a positive number of seconds or a
    ``msgflux.Timeout`` (a mapping of its fields, as ``serialize()`` writes, becomes one)."""
    if timeout is None or isinstance(timeout, Timeout):
        return timeout
    if isinstance(timeout, dict):
        return Timeout.of(timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(
            f"`timeout` must be a positive number of seconds (or None to wait forever), "
            f"got {timeout!r}"
        )
    return timeout


def _cache_ttl(model: ChatCompletionModel, call_options: Mapping[str, Any]) -> float | None:
    """The call's ``cache_ttl`` (checked), else the model's."""
    if "cache_ttl" not in call_options:
        return model.cache_ttl
    ttl = call_options["cache_ttl"]
    if ttl is not None and model._response_cache is None:
        raise ValueError("`cache_ttl` needs a cache: create the model with cache=... first")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
        raise ValueError(f"`cache_ttl` must be a positive number of seconds, got {ttl!r}")
    return ttl


def _cache_key(model: ChatCompletionModel, params: dict[str, Any], schema: Any, parser: Any) -> str:
    # Everything that changes the answer or its decoding; never the API key (the key
    # function also drops the timeout and credential headers from params). A cache shared
    # between processes needs keys every process computes alike.
    return request_cache_key(
        params=params,
        portable=getattr(model._response_cache, "portable_keys", False),
        schema=schema,
        typed_parser=parser,
        provider=model.provider,
        base_url=model.base_url,
        decoding=(
            model.return_reasoning,
            model.reasoning_in_tool_call,
            model.validate_typed_parser_output,
        ),
    )
