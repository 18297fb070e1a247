"""The one retry policy (tenacity) for ``model(...)``, ``acall`` and stream establishment.

Retried: connection errors, timeouts, and provider answers 408, 409, 429 and 5xx. A
``Retry-After`` the provider sends is honoured (capped); otherwise the wait grows
exponentially with jitter. Attempts and total time are bounded. ``retry=False`` sends
once; a tenacity ``Retrying`` / ``AsyncRetrying`` object or a settings dict replaces the
default. Transports never retry on their own, so the two layers do not multiply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC
from typing import Any, TypeVar

import tenacity

from msgflux.errors import ProviderConnectionError, ProviderError, RequestTimeoutError

__all__ = [
    "DEFAULT_RETRY",
    "acall_with_retry",
    "call_with_retry",
    "is_retryable",
    "parse_retry_after",
]

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})

#: Defaults; a ``retry={...}`` dict on the model overrides any of them.
DEFAULT_RETRY: Mapping[str, float] = {
    "max_attempts": 3,  # first try included
    "max_delay": 60.0,  # total seconds spent waiting between attempts, at most
    "initial_backoff": 0.5,
    "max_backoff": 8.0,
    "max_retry_after": 30.0,  # longest Retry-After we honour; above it we give up
}


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` is worth another attempt."""
    if isinstance(error, ProviderConnectionError | RequestTimeoutError):
        return True
    if isinstance(error, ProviderError):
        return error.status is not None and (
            error.status in RETRYABLE_STATUSES or 500 <= error.status < 600
        )
    return False


def _retry_after(error: BaseException | None) -> float | None:
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


class _Wait(tenacity.wait.wait_base):
    """Retry-After when the provider said, exponential backoff with full jitter otherwise."""

    def __init__(self, settings: Mapping[str, float]) -> None:
        self.backoff = tenacity.wait_random_exponential(
            multiplier=settings["initial_backoff"], max=settings["max_backoff"]
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        after = _retry_after(error)
        return after if after is not None else self.backoff(retry_state)


def _settings(policy: Any) -> dict[str, float]:
    settings = dict(DEFAULT_RETRY)
    if isinstance(policy, Mapping):
        unknown = set(policy) - set(DEFAULT_RETRY)
        if unknown:
            raise ValueError(
                f"unknown retry settings {sorted(unknown)}; valid: {', '.join(DEFAULT_RETRY)}"
            )
        settings.update(policy)
    return settings


def _retry_condition(settings: Mapping[str, float]) -> Callable[[tenacity.RetryCallState], bool]:
    def should_retry(retry_state: tenacity.RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        error = outcome.exception()
        if not is_retryable(error):
            return False
        after = _retry_after(error)
        return after is None or after <= settings["max_retry_after"]

    return should_retry


def _kwargs(policy: Any) -> dict[str, Any]:
    settings = _settings(policy)
    return {
        "retry": _retry_condition(settings),
        "wait": _Wait(settings),
        "stop": tenacity.stop_after_attempt(int(settings["max_attempts"]))
        | tenacity.stop_after_delay(settings["max_delay"]),
        "reraise": True,
    }


def call_with_retry(model: Any, send: Callable[[], T]) -> T:
    """Run ``send`` under ``model.retry``'s policy."""
    policy = getattr(model, "retry", None)
    if policy is False:
        return send()
    if isinstance(policy, tenacity.Retrying):
        return policy.copy()(send)
    return tenacity.Retrying(**_kwargs(policy))(send)


async def acall_with_retry(model: Any, send: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Await ``send(*args)`` under ``model.retry``'s policy (``send`` is an async function)."""
    policy = getattr(model, "retry", None)
    if policy is False:
        return await send(*args)
    if isinstance(policy, tenacity.AsyncRetrying):
        return await policy.copy()(send, *args)
    if isinstance(policy, tenacity.Retrying):  # a sync policy given: keep its settings
        policy = tenacity.AsyncRetrying(
            stop=policy.stop, wait=policy.wait, retry=policy.retry, reraise=policy.reraise
        )
        return await policy(send, *args)
    return await tenacity.AsyncRetrying(**_kwargs(policy))(send, *args)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``Retry-After`` (seconds or HTTP-date)."""
    if not headers:
        return None
    lowered = {name.lower(): value for name, value in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds:
        try:
            return max(float(milliseconds) / 1000.0, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
