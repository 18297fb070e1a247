"""Span and metric attributes from what the pipeline already has: a model, a prepared call,
a response, an exception. Pure functions; nothing here touches OpenTelemetry.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from msgflux.telemetry import _conventions as names

__all__ = [
    "error_type",
    "model_attributes",
    "request_attributes",
    "response_attributes",
    "server_of",
    "usage_counts",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_FLOAT_PARAMETERS = frozenset(
    {"temperature", "top_p", "top_k", "frequency_penalty", "presence_penalty"}
)


@functools.lru_cache(maxsize=256)
def server_of(base_url: str) -> tuple[str, int] | None:
    """``(host, port)`` of an HTTP(S) base URL; ``None`` for anything else (offline providers)."""
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError:  # a malformed URL: not worth failing a call over
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname, port if port is not None else _DEFAULT_PORTS[parts.scheme]


def model_attributes(
    model: Any, operation: str, provider_key: str, provider_value: str
) -> dict[str, Any]:
    """What identifies a model's calls, on its spans and on every metric point."""
    attributes: dict[str, Any] = {
        names.OPERATION: operation,
        provider_key: provider_value,
        names.REQUEST_MODEL: model.model_id,
    }
    try:
        base_url = model.base_url
    except Exception:  # a custom provider without a URL: the call itself will say so
        base_url = None
    server = server_of(base_url) if isinstance(base_url, str) else None
    if server is not None:
        attributes[names.SERVER_ADDRESS], attributes[names.SERVER_PORT] = server
    return attributes


def request_attributes(params: Mapping[str, Any]) -> dict[str, Any]:
    """The conventions' ``gen_ai.request.*`` and ``gen_ai.output.type`` from a request."""
    attributes: dict[str, Any] = {}
    extra_body = params.get("extra_body")
    # isinstance against dict, not the Mapping ABC: this runs on every call and requests,
    # metadata and usage are plain dicts (dotdict included).
    for name, key in names.REQUEST_PARAMETERS.items():
        value = params.get(name)
        if value is None and name == "top_k" and isinstance(extra_body, dict):
            value = extra_body.get("top_k")  # OpenAI's API has no top_k: it travels here
        if value is None or isinstance(value, bool):
            continue
        if name == "stop":
            value = [value] if isinstance(value, str) else [str(item) for item in value]
        elif name == "n" and value == 1:
            continue  # recorded only when it is not the default of one answer
        elif name in _FLOAT_PARAMETERS:
            value = float(value)
        attributes[key] = value
    if params.get("response_format") is not None:
        attributes[names.OUTPUT_TYPE] = "json"
    elif "audio" in (params.get("modalities") or ()):
        attributes[names.OUTPUT_TYPE] = "speech"
    return attributes


def response_attributes(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """``gen_ai.response.*`` and ``gen_ai.usage.*`` from a response's metadata."""
    if not metadata:
        return {}
    attributes: dict[str, Any] = {}
    for key, attribute in (("id", names.RESPONSE_ID), ("model", names.RESPONSE_MODEL)):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            attributes[attribute] = value
    finish_reason = metadata.get("finish_reason")
    if isinstance(finish_reason, str) and finish_reason:
        attributes[names.FINISH_REASONS] = [finish_reason]
    counts = usage_counts(metadata.get("usage"))
    if counts is not None:
        attributes.update(counts)
    return attributes


def usage_counts(usage: Any) -> dict[str, int] | None:
    """Token counts of a usage block (OpenAI's names or the newer ``input_tokens`` ones)."""
    if not isinstance(usage, dict):
        return None
    counts: dict[str, int] = {}
    for attribute, paths in _USAGE_FIELDS:
        for path in paths:
            value = _dig(usage, path)
            if isinstance(value, int) and not isinstance(value, bool):
                counts[attribute] = value
                break
    return counts


# attribute -> where a usage block may hold it (OpenAI's chat names first, then the newer ones)
_USAGE_FIELDS = tuple(
    (attribute, tuple(tuple(path.split(".")) for path in paths))
    for attribute, paths in (
        (names.INPUT_TOKENS, ("prompt_tokens", "input_tokens")),
        (names.OUTPUT_TOKENS, ("completion_tokens", "output_tokens")),
        (
            names.CACHE_READ_TOKENS,
            (
                "prompt_tokens_details.cached_tokens",
                "input_tokens_details.cached_tokens",
                "cache_read_input_tokens",  # Anthropic's Messages API
            ),
        ),
        (
            names.REASONING_TOKENS,
            (
                "completion_tokens_details.reasoning_tokens",
                "output_tokens_details.reasoning_tokens",
            ),
        ),
    )
)


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def error_type(error: BaseException) -> str:
    """``error.type``: the exception's class, qualified by its module (builtins bare).

    msgflux's own errors name the failure (``msgflux.errors.RateLimitError``,
    ``msgflux.errors.RequestTimeoutError``...), so the class is the low-cardinality
    identifier the conventions ask for.
    """
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
