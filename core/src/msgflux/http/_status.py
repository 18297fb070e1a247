"""Map HTTP error statuses and error payloads to :mod:`msgflux.errors`.

| status | exception |
|---|---|
| 401, 403 | ``AuthenticationError`` |
| 400, 404, 413, 422 | ``BadRequestError`` |
| 429 | ``RateLimitError`` (``retry_after`` from ``retry-after-ms`` or ``Retry-After``) |
| anything else (408, 409, 5xx, Anthropic's 529 overloaded...) | ``ProviderError`` |

The retry policy retries 408, 409, 429 and every 5xx (529 included). Each exception
carries ``status``, the provider's own ``message``, the decoded ``body``, the response
``headers`` and the ``request_id`` (``x-request-id``, ``request-id``). The message is found
in OpenAI's ``{"error": {"message"}}``, Anthropic's
``{"type": "error", "error": {"type", "message"}}``, FastAPI's ``{"detail": ...}``, a
top-level ``message``, or else the raw text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from msgflux.errors import (
    AuthenticationError,
    BadRequestError,
    ProviderError,
    RateLimitError,
)

__all__ = ["error_from_payload", "error_from_response", "provider_message", "request_id_of"]

_BY_STATUS: dict[int, type[ProviderError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: BadRequestError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}

# Provider error text is kept whole in ``body``; the message stays readable in a traceback.
_MAX_MESSAGE = 2000


def _retry_after(headers: Mapping[str, str]) -> float | None:
    # Shared with the SDK transport's mapping; imported here, on the rare 429 path only.
    from msgflux.utils.http import parse_retry_after

    return parse_retry_after(headers)


def _phrase(status: int) -> str:
    from http import HTTPStatus  # only error paths with an empty body get here

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The provider's request id from response headers (lower-case names)."""
    return headers.get("x-request-id") or headers.get("request-id")


def provider_message(payload: Any) -> str | None:
    """The human message inside an error payload of any common shape."""
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            if message:
                return str(message)
            return str(error)
        if isinstance(error, str) and error:
            return error
        for key in ("message", "detail"):
            value = payload.get(key)
            if value:
                return value if isinstance(value, str) else msgspec.json.encode(value).decode()
    if isinstance(payload, str) and payload:
        return payload
    return None


def _decode_body(body: bytes) -> tuple[Any, str]:
    text = body.decode("utf-8", "replace")
    try:
        return msgspec.json.decode(body), text
    except msgspec.DecodeError:
        return (text or None), text


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str | None,
    reason: str = "",
) -> ProviderError:
    """Build the exception for a non-2xx response.

    Args:
        status: The HTTP status code.
        headers: Response headers with lower-case names.
        body: The raw response body.
        provider: The msgflux provider name to report.
        reason: The status line's reason phrase (used when the body says nothing).

    Returns:
        The exception to raise (not raised here).
    """
    payload, text = _decode_body(body)
    message = provider_message(payload) or text.strip() or reason or _phrase(status)
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "..."
    cls = _BY_STATUS.get(status, ProviderError)
    kwargs: dict[str, Any] = {
        "provider": provider,
        "status": status,
        "request_id": request_id_of(headers),
        "body": payload,
        "headers": headers,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=_retry_after(headers), **kwargs)
    return cls(message, **kwargs)


def error_from_payload(
    payload: Any,
    *,
    provider: str | None,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """Build the exception for an error object sent with HTTP 200 or inside a stream.

    Servers such as vLLM and OpenRouter report failures that happen after the response
    started as ``{"error": {"message": ..., "code": 429}}``; an integer ``code`` (or
    ``status``) that is an HTTP status picks the exception class as for a response.

    Args:
        payload: The decoded object holding ``error``.
        provider: The msgflux provider name to report.
        headers: The response headers, for the request id.

    Returns:
        The exception to raise.
    """
    error = payload.get("error") if isinstance(payload, dict) else payload
    status: int | None = None
    if isinstance(error, dict):
        for key in ("code", "status"):
            code = error.get(key)
            if isinstance(code, int) and 100 <= code <= 599:
                status = code
                break
    message = provider_message(payload) or "the server reported an error"
    headers = headers or {}
    cls = _BY_STATUS.get(status, ProviderError) if status is not None else ProviderError
    kwargs: dict[str, Any] = {
        "provider": provider,
        "status": status,
        "request_id": request_id_of(headers),
        "body": payload,
        "headers": headers,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=_retry_after(headers), **kwargs)
    return cls(message, **kwargs)
