"""The one retry policy (tenacity) for ``model(...)``, ``acall`` and stream establishment.

What is retried: connection errors, timeouts, and provider answers 408, 409, 429 and
5xx (``is_retryable``). Not retried: bad requests, authentication errors, undecodable
answers, a 429 that says the quota is used up, and anything after a stream's first
chunk (those chunks already reached the caller).

How long it waits: the provider's ``Retry-After`` / ``retry-after-ms`` (seconds or an
HTTP-date) when it sent one, as long as it is at most ``max_retry_after`` (a provider
asking for longer fails the call at once, with ``error.retry_after`` telling the caller
when to come back); otherwise ``initial_backoff * 2**(n-1)`` capped at ``max_backoff``,
minus up to ``jitter`` of it at random so that many clients do not retry in lockstep.

Bounds: at most ``max_attempts`` attempts (the first included), and no wait that would end
more than ``max_delay`` seconds after the first attempt started. A call's total deadline
(``msgflux.Timeout(total=...)``, passed here as ``deadline``) is a bound too: no attempt
starts after it, no wait ends past it, and each attempt's transport gets only the time
left (it reads the same started ``Timeout``).

Choosing the policy, with the model's ``retry=``:

- ``None`` (or ``True``): ``DEFAULT_RETRY``;
- a dict: ``DEFAULT_RETRY`` with some settings replaced, e.g.
  ``retry={"max_attempts": 5, "max_delay": 30}``;
- ``False``: one attempt;
- a tenacity ``Retrying`` / ``AsyncRetrying``: used as given (a copy per call); a sync
  one also drives ``acall`` with the same stop, wait and retry conditions;
- a tenacity decorator, ``tenacity.retry(stop=..., wait=...)``, which is what msgflux 0.5
  applied to the model's calls: used as the ``Retrying`` it builds (``as_retry_policy``).

Transports never retry on their own (the ``openai`` SDK is built with ``max_retries=0``),
so the two layers do not multiply. Each retry is one INFO line on ``msgflux.retry`` (which
call, which attempt, why, and the wait before the next), and, with ``msgflux.instrument()``,
a ``msgflux.retry`` event on the call's span; a caller's tenacity policy gets the same
line before its own ``before_sleep``.

The first attempt of a default or dict policy runs outside tenacity: a call that succeeds
pays nothing for the policy; tenacity takes over from the first retryable failure (and
the total-time bound still counts from the first attempt). A tenacity object of the
caller's runs every attempt, so its result conditions see successes too.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, TypeVar

import tenacity

from msgflux.errors import ModelRouterError, MsgfluxError, redact_secret
from msgflux.utils.http import parse_retry_after

__all__ = [
    "DEFAULT_RETRY",
    "RETRYABLE_STATUSES",
    "acall_with_retry",
    "as_retry_policy",
    "build_retrying",
    "call_with_retry",
    "check_retry_policy",
    "is_rate_limit",
    "is_retryable",
    "parse_retry_after",
    "rate_limits_to_caller",
    "retries_off",
]

T = TypeVar("T")

logger = logging.getLogger("msgflux.retry")

#: Statuses worth another attempt (besides every other 5xx).
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})

#: Defaults (read-only); a ``retry={...}`` dict on the model overrides any of them.
DEFAULT_RETRY: Mapping[str, float] = MappingProxyType(
    {
        "max_attempts": 3,  # first try included
        "max_delay": 60.0,  # no retry starts later than this many seconds after the first try
        "initial_backoff": 0.5,  # seconds before the first retry (without Retry-After)
        "max_backoff": 8.0,  # cap of one exponential wait
        "jitter": 0.25,  # each exponential wait is shortened by up to this fraction, at random
        "max_retry_after": 30.0,  # longest Retry-After we honour; above it we give up at once
    }
)

# Error codes of a 429 that no wait cures.
_FINAL_RATE_LIMIT_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})


# -- which errors --------------------------------------------------------------------------


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` is worth another attempt.

    True for connection errors and timeouts (msgflux's, and the built-in
    ``ConnectionError`` / ``TimeoutError`` a custom client may raise) and for errors with
    an HTTP status of 408, 409, 429 or 5xx, except a 429 whose error code says the
    quota is used up, and a 429 inside ``rate_limits_to_caller()``.
    """
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    status = _status_of(error)
    if status is None or not (status in RETRYABLE_STATUSES or 500 <= status < 600):
        return False
    if status == 429 and _RATE_LIMITS_TO_CALLER.get():
        return False
    return not (status == 429 and _error_code(error) in _FINAL_RATE_LIMIT_CODES)


def is_rate_limit(error: BaseException) -> bool:
    """Whether ``error`` is a 429 that waiting cures (not a used-up quota), or a gateway's
    ``ModelRouterError`` saying only rate limits stood in the way (``rate_limited``)."""
    if isinstance(error, ModelRouterError):
        return error.rate_limited
    return _status_of(error) == 429 and _error_code(error) not in _FINAL_RATE_LIMIT_CODES


# Set by a caller that paces itself (a batch): a 429 then reaches it at once instead of
# being retried by the model's policy, so the two layers never multiply their attempts.
_RATE_LIMITS_TO_CALLER: ContextVar[bool] = ContextVar(
    "msgflux_rate_limits_to_caller", default=False
)


@contextmanager
def rate_limits_to_caller() -> Iterator[None]:
    """Within this context (and the tasks and threads started from it with its context),
    the models' retry policies do not retry a 429: the caller handles it.

    Other retryable errors (connection errors, timeouts, 5xx) are retried as usual.
    A tenacity object given as ``retry=`` decides for itself.
    """
    token = _RATE_LIMITS_TO_CALLER.set(True)
    try:
        yield
    finally:
        _RATE_LIMITS_TO_CALLER.reset(token)


# Set by a caller that is itself the retry layer (a ModelGateway fails over instead of
# retrying): the models it calls make one attempt, whatever their own ``retry=``.
_RETRIES_OFF: ContextVar[bool] = ContextVar("msgflux_retries_off", default=False)


@contextmanager
def retries_off() -> Iterator[None]:
    """Within this context, every model makes one attempt per call: its ``retry=`` policy
    (a tenacity object included) is not applied. The model itself is unchanged."""
    token = _RETRIES_OFF.set(True)
    try:
        yield
    finally:
        _RETRIES_OFF.reset(token)


def _policy_of(model: Any) -> Any:
    """``model``'s retry policy, or ``False`` inside ``retries_off()``."""
    if _RETRIES_OFF.get():
        return False
    return as_retry_policy(getattr(model, "retry", None))


def _status_of(error: BaseException) -> int | None:
    # msgflux errors have ``status``; other SDKs (a custom provider's client) ``status_code``.
    for name in ("status", "status_code"):
        status = getattr(error, name, None)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    return None


def _error_code(error: BaseException) -> Any:
    body = getattr(error, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            return inner.get("code") or inner.get("type")
    return None


def _retry_after(error: BaseException | None) -> float | None:
    value = getattr(error, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    headers = getattr(error, "headers", None)
    if isinstance(headers, Mapping) and not isinstance(error, MsgfluxError):
        return parse_retry_after(headers)  # another SDK's error that kept its headers
    return None


# -- the policy ----------------------------------------------------------------------------


def _probe() -> None:
    """What ``as_retry_policy`` decorates to get at a tenacity decorator's ``Retrying``."""


def as_retry_policy(policy: Any) -> Any:
    """``policy``, with a tenacity decorator replaced by the ``Retrying`` it applies.

    Programs written for msgflux 0.5 pass ``retry=tenacity.retry(stop=..., wait=...)``:
    the decorator, not a ``Retrying``. Decorating a function with it builds the
    ``Retrying`` and exposes it as the decorated function's ``.retry`` (documented
    tenacity API), so decorating a stand-in gets the same stop, wait, retry and reraise
    settings the decorator would have applied. Only tenacity's own decorator is called
    this way; any other value is returned unchanged, for ``check_retry_policy`` to judge.
    """
    if isinstance(policy, tenacity.BaseRetrying | type) or not callable(policy):
        return policy
    if getattr(policy, "__module__", None) != "tenacity":  # never call a stranger's callable
        return policy
    retrying = getattr(policy(_probe), "retry", None)
    return retrying if isinstance(retrying, tenacity.BaseRetrying) else policy


def check_retry_policy(policy: Any) -> dict[str, float] | None:
    """Validate a model's ``retry=`` value.

    Args:
        policy: ``None``, ``True``, ``False``, a settings dict, a tenacity object or a
            tenacity decorator (``tenacity.retry(...)``, as msgflux 0.5 took).

    Returns:
        The complete settings for ``None`` / ``True`` / a dict; ``None`` for ``False`` and
        for a tenacity object.

    Raises:
        ValueError: A settings dict with an unknown name or an impossible value.
        TypeError: Anything else.
    """
    policy = as_retry_policy(policy)
    if policy is False or isinstance(policy, tenacity.BaseRetrying):
        return None
    if policy is None or policy is True:
        return dict(DEFAULT_RETRY)
    if not isinstance(policy, Mapping):
        raise TypeError(
            "retry must be None (the default policy), False (no retries), a dict of "
            f"settings ({', '.join(DEFAULT_RETRY)}), a tenacity Retrying/AsyncRetrying or "
            f"a tenacity.retry(...) decorator; got {type(policy).__name__}"
        )
    unknown = sorted(set(policy) - set(DEFAULT_RETRY))
    if unknown:
        raise ValueError(f"unknown retry settings {unknown}; valid: {', '.join(DEFAULT_RETRY)}")
    settings = dict(DEFAULT_RETRY)
    for name, value in policy.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"retry setting {name!r} must be a number >= 0, got {value!r}")
        settings[name] = value
    if int(settings["max_attempts"]) != settings["max_attempts"] or settings["max_attempts"] < 1:
        raise ValueError(
            f"retry setting 'max_attempts' must be an integer >= 1 (1 means no retries), "
            f"got {settings['max_attempts']!r}"
        )
    if settings["jitter"] > 1:
        raise ValueError(f"retry setting 'jitter' must be in [0, 1], got {settings['jitter']!r}")
    return settings


class _Wait(tenacity.wait.wait_base):
    """Retry-After when the provider said; exponential backoff with jitter otherwise."""

    def __init__(self, settings: Mapping[str, float]) -> None:
        self.initial = float(settings["initial_backoff"])
        self.maximum = float(settings["max_backoff"])
        self.jitter = float(settings["jitter"])

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        after = _retry_after(outcome.exception() if outcome is not None else None)
        if after is not None:
            return after
        exponent = max(retry_state.attempt_number - 1, 0)
        backoff = min(self.maximum, self.initial * 2.0 ** min(exponent, 60))
        return backoff * (1.0 - self.jitter * random.random())


class _Stop(tenacity.stop.stop_base):
    """Attempts used up, or the next wait would end past ``max_delay`` from the start."""

    def __init__(self, settings: Mapping[str, float], started: float | None) -> None:
        self.max_attempts = int(settings["max_attempts"])
        self.max_delay = float(settings["max_delay"])
        self.started = started

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if retry_state.attempt_number >= self.max_attempts:
            return True
        started = self.started if self.started is not None else retry_state.start_time
        elapsed = time.monotonic() - started
        return elapsed + (retry_state.upcoming_sleep or 0.0) > self.max_delay


class _StopAtDeadline(tenacity.stop.stop_base):
    """The policy's own stop condition, or the call's total deadline: the next attempt would
    start (after its wait) past it.

    Wraps ``stop`` rather than ``stop | self``: tenacity accepts a plain callable as ``stop``,
    and a callable has no ``|``.
    """

    def __init__(self, deadline: float, stop: Callable[[tenacity.RetryCallState], bool]) -> None:
        self.deadline = deadline
        self.stop = stop

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        if self.stop(retry_state):
            return True
        return time.monotonic() + (retry_state.upcoming_sleep or 0.0) >= self.deadline


def _with_deadline(
    retrying: tenacity.BaseRetrying | None, deadline: float | None
) -> tenacity.BaseRetrying | None:
    if retrying is None or deadline is None:
        return retrying
    return retrying.copy(stop=_StopAtDeadline(deadline, retrying.stop))


def _should_retry(settings: Mapping[str, float]) -> Callable[[tenacity.RetryCallState], bool]:
    cap = float(settings["max_retry_after"])

    def should_retry(retry_state: tenacity.RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        error = outcome.exception()
        if error is None or not is_retryable(error):
            return False
        after = _retry_after(error)
        return after is None or after <= cap

    return should_retry


def _retry_reporter(
    what: str, max_attempts: int | None, *, honours_retry_after: bool
) -> Callable[[tenacity.RetryCallState], None]:
    """The ``before_sleep`` that says why a call is retried and after how long.

    One INFO line on ``msgflux.retry`` and, with ``msgflux.instrument()``, a
    ``msgflux.retry`` event on the call's span (``msgflux.telemetry.events.retry``).
    """

    def report(retry_state: tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if error is None:  # a caller's policy retrying on a result, not an error
            return
        from msgflux.telemetry import events

        events.retry(
            what=what,
            attempt=retry_state.attempt_number,
            max_attempts=max_attempts,
            error=error,
            delay=float(retry_state.upcoming_sleep or 0.0),
            server_asked=honours_retry_after and _retry_after(error) is not None,
        )

    return report


def _then(
    first: Callable[[tenacity.RetryCallState], None], second: Any
) -> Callable[[tenacity.RetryCallState], None]:
    """``first``, then the caller's own hook ``second`` (if any)."""
    if second is None:
        return first

    def both(retry_state: tenacity.RetryCallState) -> Any:
        first(retry_state)
        return second(retry_state)

    return both


def build_retrying(
    policy: Any = None,
    *,
    asynchronous: bool = False,
    started: float | None = None,
    what: str = "a call",
) -> tenacity.BaseRetrying | None:
    """The tenacity object that runs ``policy`` (``None`` when retries are off).

    Args:
        policy: A model's ``retry=`` value (see the module docstring).
        asynchronous: Build an ``AsyncRetrying`` (for coroutine functions).
        started: ``time.monotonic()`` when the first attempt started, if it ran before
            this object (the total-time bound counts from there).
        what: How the retry log line names the call (``"openai/gpt-4.1-mini"``).

    Returns:
        A fresh ``Retrying`` / ``AsyncRetrying``, or ``None`` for ``retry=False``.
    """
    policy = as_retry_policy(policy)
    if policy is False:
        return None
    if isinstance(policy, tenacity.BaseRetrying):
        # The caller's policy as given; msgflux's retry line is said before its own hook.
        report = _then(_retry_reporter(what, None, honours_retry_after=False), policy.before_sleep)
        wanted = tenacity.AsyncRetrying if asynchronous else tenacity.Retrying
        if isinstance(policy, wanted):
            return policy.copy(before_sleep=report)
        return wanted(
            stop=policy.stop,
            wait=policy.wait,
            retry=policy.retry,
            before=policy.before,
            after=policy.after,
            before_sleep=report,
            reraise=policy.reraise,
            retry_error_cls=policy.retry_error_cls,
            retry_error_callback=policy.retry_error_callback,
        )
    settings = check_retry_policy(policy)
    assert settings is not None
    kwargs: dict[str, Any] = {
        "retry": _should_retry(settings),
        "wait": _Wait(settings),
        "stop": _Stop(settings, started),
        "before_sleep": _retry_reporter(
            what, int(settings["max_attempts"]), honours_retry_after=True
        ),
        "reraise": True,
    }
    return tenacity.AsyncRetrying(**kwargs) if asynchronous else tenacity.Retrying(**kwargs)


# -- running calls -------------------------------------------------------------------------


def call_with_retry(model: Any, send: Callable[[], T], *, deadline: float | None = None) -> T:
    """Run ``send()`` under ``model.retry``'s policy.

    Args:
        model: Anything with a ``retry`` attribute (a model); its ``api_key``, when it has
            one, is scrubbed from every error before it is logged or raised.
        send: The attempt: one request (or one stream opening).
        deadline: The call's total deadline (``time.monotonic()``), if it has one.

    Returns:
        What the first successful attempt returned.

    Raises:
        The last attempt's exception, once the policy gives up (never tenacity's
        ``RetryError`` for the default policy).
    """
    policy = _policy_of(model)
    if isinstance(policy, tenacity.BaseRetrying):  # the caller's own policy runs every attempt
        replay: list[Exception] = []
        retrying = build_retrying(policy, what=_what(model))
    else:
        started = time.monotonic()
        try:
            return send()
        except Exception as exc:
            _redact(model, exc)
            first = exc
        if policy is False:
            raise first
        settings = check_retry_policy(policy)
        if not is_retryable(first) or int(settings["max_attempts"]) < 2:  # type: ignore[index]
            raise first
        if deadline is not None and time.monotonic() >= deadline:
            raise first
        replay = [first]
        retrying = build_retrying(policy, started=started, what=_what(model))
    retrying = _with_deadline(retrying, deadline)
    assert retrying is not None

    def attempt() -> T:
        if replay:  # the first attempt already ran: hand its failure to tenacity
            raise replay.pop()
        try:
            return send()
        except Exception as exc:
            _redact(model, exc)
            raise

    return retrying(attempt)


async def acall_with_retry(
    model: Any, send: Callable[..., Awaitable[T]], *args: Any, deadline: float | None = None
) -> T:
    """Await ``send(*args)`` under ``model.retry``'s policy (``send`` is an async function).

    Same contract as :func:`call_with_retry`.
    """
    policy = _policy_of(model)
    if isinstance(policy, tenacity.BaseRetrying):
        replay: list[Exception] = []
        retrying = build_retrying(policy, asynchronous=True, what=_what(model))
    else:
        started = time.monotonic()
        try:
            return await send(*args)
        except Exception as exc:
            _redact(model, exc)
            first = exc
        if policy is False:
            raise first
        settings = check_retry_policy(policy)
        if not is_retryable(first) or int(settings["max_attempts"]) < 2:  # type: ignore[index]
            raise first
        if deadline is not None and time.monotonic() >= deadline:
            raise first
        replay = [first]
        retrying = build_retrying(policy, asynchronous=True, started=started, what=_what(model))
    retrying = _with_deadline(retrying, deadline)
    assert retrying is not None

    # tenacity awaits only coroutine *functions*: this must be ``async def``.
    async def attempt() -> T:
        if replay:
            raise replay.pop()
        try:
            return await send(*args)
        except Exception as exc:
            _redact(model, exc)
            raise

    return await retrying(attempt)


def _what(model: Any) -> str:
    """``"provider/model_id"`` of a model, for the retry line."""
    provider = getattr(model, "provider", None)
    model_id = getattr(model, "model_id", None)
    if isinstance(provider, str) and isinstance(model_id, str):
        return f"{provider}/{model_id}"
    return type(model).__name__


def _redact(model: Any, error: BaseException) -> None:
    try:
        secret = model.api_key
    except Exception:  # a stand-in object without a key
        return
    if isinstance(secret, str) and secret:
        redact_secret(error, secret)


# -- Retry-After ---------------------------------------------------------------------------
