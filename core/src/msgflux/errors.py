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
├── ModelRouterError                        a ModelGateway found no deployment that answered
└── ProviderError                           the provider (or the way to it) failed a request
    ├── AuthenticationError                 401 / 403
    ├── BadRequestError (ValueError)        400 / 404 / 413 / 422
    ├── RateLimitError                      429
    ├── RequestTimeoutError (TimeoutError)  no answer (or no stream bytes) in time
    ├── ProviderConnectionError (ConnectionError)  refused, reset, DNS, TLS
    └── StreamInterruptedError              a gateway stream broke after chunks were delivered
```

Other statuses (408, 409, 5xx, an error event inside a stream) are a plain
``ProviderError``. What each error carries:

- ``ProviderError``: ``provider``, ``status`` (``None`` when no response arrived),
  ``request_id``, ``message`` (the provider's own text), ``body``, ``headers`` and
  ``retry_after`` (seconds, from ``Retry-After`` / ``retry-after-ms``, when sent).
- ``ResponseDecodeError``: ``raw_text`` (the undecodable text exactly as received) and,
  where known, ``provider``, ``status`` and ``request_id``.

The exception the transport raised (the ``openai`` SDK's, a socket error...) is chained
as ``__cause__``. Which errors are retried is decided in :mod:`msgflux.utils.retry`.
Every ``MsgfluxError`` pickles with all its fields (multiprocessing, task queues).

Secrets never appear in these messages: they are built from provider names, env var
names, statuses and the provider's own error text, and the model scrubs its API key from
an error (and the exceptions chained to it) before raising it, in case a provider echoes
the key back (see :func:`redact_secret`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "GatewayAttempt",
    "MissingAPIKeyError",
    "ModelRouterError",
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
    "StreamInterruptedError",
    "StructuredOutputError",
    "UnsupportedParameterError",
    "redact_secret",
]


class MsgfluxError(Exception):
    """Base class of every exception msgflux raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild without calling __init__ (subclasses take keyword-only fields), then
        # restore every attribute: pickling keeps provider, status, retry_after, raw_text...
        return (_rebuild_error, (type(self), self.args), self.__dict__.copy())


def _rebuild_error(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    error = cls.__new__(cls, *args)
    error.args = args
    return error


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

    Not retried: the same request would most likely get the same answer.

    Attributes:
        raw_text: The undecodable text exactly as received, for inspection or repair.
        provider: The msgflux provider name, when known.
        status: The HTTP status of the answer, when known.
        request_id: The provider's request id, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        raw_text: str | None = None,
        provider: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.raw_text = raw_text
        self.provider = provider
        self.status = status
        self.request_id = request_id


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
        retry_after: Seconds the provider asked to wait before trying again
            (``Retry-After`` or ``retry-after-ms``, seconds or HTTP-date), or ``None``.
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
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.provider = provider
        self.status = status
        self.request_id = request_id
        self.body = body
        self.headers = dict(headers) if headers else {}
        if retry_after is None and self.headers:
            # A 503 may say when to come back as well as a 429. Imported here: the module
            # imports this one, and only failed requests with headers get this far.
            from msgflux.utils.http import parse_retry_after

            retry_after = parse_retry_after(self.headers)
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.provider} " if self.provider else ""
        status = f"HTTP {self.status}: " if self.status is not None else ""
        request = f" (request id {self.request_id})" if self.request_id else ""
        return f"{where}request failed: {status}{self.message}{request}"


class AuthenticationError(ProviderError):
    """The provider rejected the API key (401) or its permissions (403).

    Check the key (the provider's env var or ``api_key=``) and the model's access rights.
    """


class BadRequestError(ProviderError, ValueError):
    """The provider rejected the request as invalid (400, 404, 413, 422).

    The provider's ``message`` names what it rejected; retrying the same request fails
    the same way.
    """


class RateLimitError(ProviderError):
    """The provider asked us to slow down (429).

    Retried (after ``retry_after`` when the provider said how long, within the policy's
    cap); raised when the retries run out.

    Attributes:
        retry_after: Seconds the provider asked to wait, when it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, retry_after=retry_after, **kwargs)


class RequestTimeoutError(ProviderError, TimeoutError):
    """No response, or no stream bytes, arrived within the timeout.

    Raise ``timeout=`` (on the model or the call) if the provider is just slow.
    """


class ProviderConnectionError(ProviderError, ConnectionError):
    """The connection to the provider could not be made or was lost.

    Check ``base_url``, the network and that the server is up.
    """


# -- ModelGateway ------------------------------------------------------------------------------


class GatewayAttempt(NamedTuple):
    """One attempt of a ``ModelGateway`` call: where it went and how it failed.

    Attributes:
        deployment: The deployment's name.
        model: The deployment's model, as ``"provider/model-id"``.
        error: The exception the attempt raised.
    """

    deployment: str
    model: str
    error: BaseException


class ModelRouterError(MsgfluxError):
    """A ``ModelGateway`` call that no deployment answered.

    Every deployment the call could use failed with an error the gateway fails over on, or
    could not be used (circuit open, rate-limited, outside its time window). The last
    attempt's error is chained as ``__cause__``.

    Attributes:
        attempts: A ``GatewayAttempt`` (deployment, model, error) per attempt, in order.
        unavailable: ``{deployment name: why it was not tried}``.
        rate_limited: ``True`` when only rate limits stood in the way: every attempt got a
            429 that waiting cures, every deployment not tried was resting (circuit open or
            probing) or outside its time window, and at least one of them was rate-limited.
            A batch then waits and sends the request again (``msgflux.utils.retry.
            is_rate_limit`` says so).
        retry_after: With ``rate_limited``: seconds until the soonest of those deployments
            takes requests again (``0.0``: one does now, it did not say when); else ``None``.
        exceptions: The attempts' errors (the 0.5 name).
        model_info: ``(deployment, provider, error)`` per attempt (the 0.5 name).
    """

    def __init__(
        self,
        message: str,
        *,
        attempts: Sequence[GatewayAttempt] = (),
        unavailable: Mapping[str, str] | None = None,
        rate_limited: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = list(attempts)
        self.unavailable = dict(unavailable or {})
        self.rate_limited = rate_limited
        self.retry_after = retry_after

    @property
    def exceptions(self) -> list[BaseException]:
        """The error of every attempt, in order."""
        return [attempt.error for attempt in self.attempts]

    @property
    def model_info(self) -> list[tuple[str, str, BaseException]]:
        """``(deployment, provider, error)`` per attempt, as msgflux 0.5 reported them."""
        return [
            (attempt.deployment, attempt.model.partition("/")[0], attempt.error)
            for attempt in self.attempts
        ]


class StreamInterruptedError(ProviderError):
    """A gateway stream failed after some of its chunks had reached the consumer.

    The gateway cannot move such a stream to another deployment without sending the
    consumer a second beginning, so the answer ends here, incomplete: never presented as
    whole. The original failure is chained as ``__cause__``.

    Attributes:
        deployment: The deployment that was streaming.
        model: Its model, as ``"provider/model-id"``.
        chunks: How many chunks (content and reasoning) had been delivered.
        characters: How many characters those chunks held.
    """

    def __init__(
        self,
        message: str,
        *,
        deployment: str | None = None,
        model: str | None = None,
        chunks: int = 0,
        characters: int = 0,
        **kwargs: Any,
    ) -> None:
        self.deployment = deployment
        self.model = model
        self.chunks = chunks
        self.characters = characters
        super().__init__(message, **kwargs)

    def _describe(self) -> str:
        return self.message  # already says where and what; the cause has the status


# -- keeping secrets out of errors ---------------------------------------------------------

_REDACTED = "***"
_MIN_SECRET = 8


def redact_secret(error: BaseException, secret: str | None) -> BaseException:
    """Remove ``secret`` from ``error`` and from the exceptions chained to it.

    A provider may echo the API key in an error message (a 401 that quotes the header,
    a proxy that prints the request). The text of every exception in the chain
    (``args``, ``message``, ``raw_text``, ``body``, ``headers``) is scrubbed in place, so
    neither ``str(error)`` nor a logged traceback shows the key.

    Secrets shorter than 8 characters are left alone: no real API key is that short, and
    replacing a placeholder such as ``"k"`` would mangle every message.

    Args:
        error: The exception to clean (modified in place).
        secret: The secret to remove; ``None`` or a short string does nothing.

    Returns:
        ``error`` itself.
    """
    if not secret or len(secret) < _MIN_SECRET:
        return error
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        try:
            if any(secret in str(arg) for arg in current.args):
                current.args = tuple(_scrub(arg, secret) for arg in current.args)
            state = getattr(current, "__dict__", None)
            if state:
                for name, value in list(state.items()):
                    if name in ("request", "response"):
                        continue  # live HTTP objects of the SDK: not text, not ours to edit
                    cleaned = _scrub(value, secret)
                    if cleaned is not value:
                        setattr(current, name, cleaned)
        except Exception:  # an exception type that refuses edits: nothing more to do for it
            pass
        pending.append(current.__cause__)
        pending.append(current.__context__)
    return error


def _scrub(value: Any, secret: str) -> Any:
    """``value`` with ``secret`` removed from its text (the same object when it had none)."""
    if isinstance(value, str):
        return value.replace(secret, _REDACTED) if secret in value else value
    if isinstance(value, bytes):
        raw = secret.encode()
        return value.replace(raw, _REDACTED.encode()) if raw in value else value
    if isinstance(value, dict):
        items = {key: _scrub(item, secret) for key, item in value.items()}
        if all(items[key] is value[key] for key in value):
            return value
        return items if type(value) is dict else type(value)(items)
    if isinstance(value, list | tuple):
        elements = [_scrub(item, secret) for item in value]
        if any(new is not old for new, old in zip(elements, value, strict=True)):
            return type(value)(elements) if isinstance(value, tuple) else elements
        return value
    return value
