"""Anthropic's error types, mapped to :mod:`msgflux.errors`.

Statuses of HTTP answers are mapped by :mod:`msgflux.http` (Anthropic's error body,
``{"type": "error", "error": {"type", "message"}}``, is one of the shapes it reads). An
error that arrives inside a stream has no status of its own: its ``error.type`` gives the
status the same failure has as an HTTP answer, so it becomes the same exception and the
retry policy treats it alike (``overloaded_error`` is a 529, retried like a 503).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from msgflux.errors import ProviderError
from msgflux.http import error_from_payload, error_from_response

__all__ = ["ERROR_STATUSES", "error_from_event"]

#: ``error.type`` -> the HTTP status Anthropic answers it with.
ERROR_STATUSES: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def error_from_event(data: bytes, headers: Mapping[str, str], provider: str) -> ProviderError:
    """The exception for an ``error`` event of a stream (or an error body sent with 200)."""
    try:
        payload: Any = msgspec.json.decode(data)
    except msgspec.DecodeError:
        payload = data.decode("utf-8", "replace")
    body = payload.get("error") if isinstance(payload, dict) else None
    kind = body.get("type") if isinstance(body, dict) else None
    status = ERROR_STATUSES.get(kind) if isinstance(kind, str) else None
    error: ProviderError
    if status is None:
        error = error_from_payload(payload, provider=provider, headers=headers)
    else:
        error = error_from_response(status, headers, data, provider=provider)
    return error
