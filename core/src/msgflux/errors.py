"""The exceptions msgflux raises.

Every error says what to do about it. The hierarchy is small on purpose:

```
MsgfluxError
├── ProviderNotFoundError (ValueError)      unknown "provider/" prefix
├── PluginMissingError (ImportError)        a known provider whose plugin is not installed
├── PluginLoadError (ImportError)           the provider's plugin failed to load
├── PluginConflictError                     two plugins claim one provider name
├── MissingAPIKeyError (ValueError)         no key passed and no env var set
├── UnsupportedParameterError (ValueError)  a parameter this provider cannot honour
├── ResponseDecodeError (ValueError)        a provider answer that cannot be decoded
│   └── StructuredOutputError               text that does not fit the generation schema
└── ProviderError                           the provider (or the way to it) failed a request
    ├── AuthenticationError                 401 / 403
    ├── BadRequestError (ValueError)        400 / 404 / 413 / 422
    ├── RateLimitError                      429
    ├── RequestTimeoutError (TimeoutError)  no answer (or no stream bytes) in time
    └── ProviderConnectionError (ConnectionError)  refused, reset, DNS, TLS
```

Secrets never appear in these messages: they are built from provider names, env var
names, statuses and the provider's own error text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "MissingAPIKeyError",
    "MsgfluxError",
    "PluginConflictError",
    "PluginLoadError",
    "PluginMissingError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderNotFoundError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "StructuredOutputError",
    "UnsupportedParameterError",
]


class MsgfluxError(Exception):
    """Base class of every exception msgflux raises on purpose."""


class ProviderNotFoundError(MsgfluxError, ValueError):
    """A model string names a provider that no installed plugin declares."""


class PluginMissingError(MsgfluxError, ImportError):
    """A provider msgflux knows of, whose plugin distribution is not installed."""


class PluginLoadError(MsgfluxError, ImportError):
    """The plugin that declares (or would declare) a provider failed to load."""


class PluginConflictError(MsgfluxError):
    """Two plugin distributions declare the same provider name."""


class MissingAPIKeyError(MsgfluxError, ValueError):
    """No API key was passed and none of the provider's env vars is set."""


class UnsupportedParameterError(MsgfluxError, ValueError):
    """A request parameter the selected provider cannot honour."""


class ResponseDecodeError(MsgfluxError, ValueError):
    """The provider's answer could not be decoded.

    Attributes:
        raw_text: The undecodable text exactly as received, for inspection or repair.
    """

    def __init__(self, message: str, *, raw_text: str | None = None) -> None:
        super().__init__(message)
        self.raw_text = raw_text


class StructuredOutputError(ResponseDecodeError):
    """The model's answer does not fit the requested generation schema."""


class ProviderError(MsgfluxError):
    """A request to the provider failed.

    Attributes:
        provider: The msgflux provider name (``"openai"``, ``"groq"``...).
        status: The HTTP status, or ``None`` when no response arrived.
        request_id: The provider's request id, when it sent one.
        message: The provider's own error message (or a description of the failure).
        body: The decoded error body, when there was one.
        headers: The response headers, when there was a response.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message
        self.provider = provider
        self.status = status
        self.request_id = request_id
        self.body = body
        self.headers = dict(headers) if headers else {}
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.provider} " if self.provider else ""
        status = f"HTTP {self.status}: " if self.status is not None else ""
        request = f" (request id {self.request_id})" if self.request_id else ""
        return f"{where}request failed: {status}{self.message}{request}"

    def __reduce__(self):  # keep keyword-only state across pickling (multiprocessing, caches)
        return (
            _rebuild_provider_error,
            (
                type(self),
                self.message,
                self.provider,
                self.status,
                self.request_id,
                self.body,
                self.headers,
            ),
        )


def _rebuild_provider_error(cls, message, provider, status, request_id, body, headers):
    return cls(
        message,
        provider=provider,
        status=status,
        request_id=request_id,
        body=body,
        headers=headers,
    )


class AuthenticationError(ProviderError):
    """The provider rejected the API key (401) or its permissions (403)."""


class BadRequestError(ProviderError, ValueError):
    """The provider rejected the request as invalid (400, 404, 413, 422)."""


class RateLimitError(ProviderError):
    """The provider asked us to slow down (429).

    Attributes:
        retry_after: Seconds the provider asked to wait, when it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class RequestTimeoutError(ProviderError, TimeoutError):
    """No response, or no stream bytes, arrived within the timeout."""


class ProviderConnectionError(ProviderError, ConnectionError):
    """The connection to the provider could not be made or was lost."""
