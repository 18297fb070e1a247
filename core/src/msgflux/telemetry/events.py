"""What changes a call's course, said once: one log line and one event on the current span.

For the pipeline's retry layer, and for the modules that route and cache calls (the model
gateway, the cache backends): each function writes its line on the module's logger
(``msgflux.retry``, ``msgflux.gateway``, ``msgflux.cache``) and, when ``msgflux.instrument()``
is on, adds an event to the span that is current (the ``chat`` span during a call's
retries; the caller's span, e.g. ``invoke_agent``, between a gateway's deployments). With
telemetry off an event costs one ``None`` test; nothing imports OpenTelemetry.

Lines are one line each (messages are flattened and shortened) and carry no secret:
callers pass errors the pipeline already scrubbed of the API key, and URL credentials
(``redis://user:password@host``) and ``Bearer`` tokens are masked here as well. The retry
line also carries ``error_type``, ``retry_attempt`` and ``retry_delay`` as log record
attributes, for structured log handlers.

Events (name: attributes):

- ``msgflux.retry``: ``msgflux.retry.attempt`` (the attempt that failed, from 1),
  ``msgflux.retry.delay`` (seconds before the next), ``error.type``, and
  ``http.response.status_code`` when the failure was an HTTP answer;
- ``msgflux.gateway.attempt``: ``msgflux.gateway.name``, ``msgflux.gateway.deployment``,
  ``msgflux.gateway.attempt``;
- ``msgflux.gateway.failover``: ``msgflux.gateway.name``, ``msgflux.gateway.deployment``
  (the one that failed), ``msgflux.gateway.next_deployment``, ``error.type``;
- ``msgflux.gateway.circuit_open``: ``msgflux.gateway.name``,
  ``msgflux.gateway.deployment``, ``msgflux.gateway.cooldown`` (seconds), ``error.type``;
- ``msgflux.cache.hit``: ``msgflux.cache.backend``;
- ``msgflux.cache.bypass``: ``msgflux.cache.backend``, ``msgflux.cache.operation``
  (``get`` / ``set``), ``error.type``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from msgflux.telemetry import state

__all__ = [
    "cache_bypassed",
    "cache_hit",
    "circuit_opened",
    "gateway_attempt",
    "gateway_failover",
    "one_line",
    "retry",
]

retry_logger = logging.getLogger("msgflux.retry")
gateway_logger = logging.getLogger("msgflux.gateway")
cache_logger = logging.getLogger("msgflux.cache")

_MESSAGE_LENGTH = 200
_SPACES = re.compile(r"\s+")
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")


def one_line(text: str, limit: int = _MESSAGE_LENGTH) -> str:
    """``text`` on one line, at most ``limit`` characters, without URL credentials or tokens."""
    text = _SPACES.sub(" ", text).strip()
    text = _BEARER.sub(r"\1***", _URL_CREDENTIALS.sub("***@", text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _why(error: BaseException) -> str:
    """``"RateLimitError: ... HTTP 429: slow down ..."``: the class, the status, the message."""
    message = one_line(str(error))
    status = _status_of(error)
    if status is not None and str(status) not in message:
        message = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _status_of(error: BaseException) -> int | None:
    for name in ("status", "status_code"):
        status = getattr(error, name, None)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    return None


def _event(name: str, attributes: dict[str, Any], error: BaseException | None = None) -> None:
    observer = state.observer
    if observer is None:
        return
    if error is not None:
        from msgflux.telemetry._attributes import error_type

        attributes["error.type"] = error_type(error)
    observer.add_event(name, attributes)


# -- retries ---------------------------------------------------------------------------------


def retry(
    *,
    what: str,
    attempt: int,
    max_attempts: int | None,
    error: BaseException,
    delay: float,
    server_asked: bool,
) -> None:
    """A failed attempt that will be retried after ``delay`` seconds (INFO on ``msgflux.retry``).

    Args:
        what: What is being called (``"openai/gpt-4.1-mini"``).
        attempt: The attempt that failed, counted from 1.
        max_attempts: The policy's bound on attempts, when it has a known one.
        error: Why it failed (already scrubbed of the API key).
        delay: Seconds until the next attempt.
        server_asked: Whether the delay is the server's ``Retry-After``.
    """
    of = f" of {max_attempts}" if max_attempts else ""
    source = " as the server asked (Retry-After)" if server_asked else ""
    retry_logger.info(
        "%s: attempt %d%s failed (%s); retrying in %.2fs%s",
        what,
        attempt,
        of,
        _why(error),
        delay,
        source,
        extra={"error_type": type(error).__name__, "retry_attempt": attempt, "retry_delay": delay},
    )
    attributes: dict[str, Any] = {"msgflux.retry.attempt": attempt, "msgflux.retry.delay": delay}
    status = _status_of(error)
    if status is not None:
        attributes["http.response.status_code"] = status
    _event("msgflux.retry", attributes, error)


# -- gateways --------------------------------------------------------------------------------


def gateway_attempt(gateway: str, deployment: str, attempt: int, *, log: bool = True) -> None:
    """A gateway sends a call to ``deployment`` (DEBUG: this is the normal path)."""
    if log:
        gateway_logger.debug("%s: attempt %d on %s", gateway, attempt, deployment)
    _event(
        "msgflux.gateway.attempt",
        {
            "msgflux.gateway.name": gateway,
            "msgflux.gateway.deployment": deployment,
            "msgflux.gateway.attempt": attempt,
        },
    )


def gateway_failover(
    gateway: str,
    failed: str,
    error: BaseException,
    next_deployment: str | None,
    *,
    log: bool = True,
) -> None:
    """``failed`` failed; the gateway moves on to ``next_deployment`` (WARNING)."""
    if log:
        gateway_logger.warning(
            "%s: %s failed (%s); failing over to %s",
            gateway,
            failed,
            _why(error),
            next_deployment or "no other deployment",
        )
    attributes: dict[str, Any] = {
        "msgflux.gateway.name": gateway,
        "msgflux.gateway.deployment": failed,
    }
    if next_deployment is not None:
        attributes["msgflux.gateway.next_deployment"] = next_deployment
    _event("msgflux.gateway.failover", attributes, error)


def circuit_opened(
    gateway: str,
    deployment: str,
    cooldown: float,
    error: BaseException | None = None,
    *,
    log: bool = True,
) -> None:
    """``deployment``'s circuit opened: no call goes there for ``cooldown`` seconds (WARNING)."""
    if log:
        cause = f" ({_why(error)})" if error is not None else ""
        gateway_logger.warning(
            "%s: circuit opened for %s%s; no calls for %.1fs",
            gateway,
            deployment,
            cause,
            cooldown,
        )
    _event(
        "msgflux.gateway.circuit_open",
        {
            "msgflux.gateway.name": gateway,
            "msgflux.gateway.deployment": deployment,
            "msgflux.gateway.cooldown": cooldown,
        },
        error,
    )


# -- caches ----------------------------------------------------------------------------------


def cache_hit(backend: str) -> None:
    """A call was answered from the cache (no log line: it is the point of a cache)."""
    observer = state.observer
    if observer is None:
        return
    observer.mark_cached()  # no tokens were used: the usage metric skips this call
    observer.add_event("msgflux.cache.hit", {"msgflux.cache.backend": backend})


def cache_bypassed(backend: str, operation: str, error: BaseException, *, log: bool = True) -> None:
    """The cache ``backend`` failed on ``operation`` (``get``/``set``); the call goes on
    without it (WARNING)."""
    if log:
        cache_logger.warning(
            "cache backend %s failed on %s (%s); the call goes on without the cache",
            backend,
            operation,
            _why(error),
        )
    _event(
        "msgflux.cache.bypass",
        {"msgflux.cache.backend": backend, "msgflux.cache.operation": operation},
        error,
    )
