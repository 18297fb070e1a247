"""How a cache fails: logged once per kind, then bypassed; never raised to the caller.

A backend that raises (Redis down, disk full, a corrupt database file) is *out* for
``retry_after`` seconds: calls answer without the cache meanwhile, then the backend is tried
again (a Redis that came back is used again). A record that does not decode (another
version, a corrupt row) or an answer that cannot be encoded is a miss, not an outage. Each
kind of failure is logged once per cache (logger ``msgflux.cache``), with what to do.
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["FailureGuard", "logger"]

logger = logging.getLogger("msgflux.cache")


class FailureGuard:
    """The failure state of one cache: which kinds were logged, until when it is out.

    Args:
        name: How the cache is named in the log (no credentials).
        retry_after: Seconds a failing backend is left alone before it is tried again.
        hint: What the user can do about a failing backend (the backend's ``failure_hint``).
    """

    def __init__(self, name: str, retry_after: float, hint: str = "") -> None:
        self.name = name
        self.retry_after = retry_after
        self.hint = hint
        self.failures = 0
        self._out_until = 0.0
        self._logged: set[str] = set()
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        """Whether the backend may be used now."""
        return self._out_until == 0.0 or time.monotonic() >= self._out_until

    def outage(self, kind: str, error: BaseException) -> None:
        """The backend raised doing ``kind`` (``get``, ``set``...): log once, leave it alone."""
        with self._lock:
            self._out_until = time.monotonic() + self.retry_after
        from msgflux.telemetry import events  # a span event when telemetry is on

        events.cache_bypassed(self.name, kind, error, log=False)  # logged once, below
        self._record(
            kind,
            f"cache {self.name}: {kind} failed ({type(error).__name__}: {error}); answering "
            f"without the cache, trying it again after {self.retry_after:g} s"
            + (f"; {self.hint}" if self.hint else ""),
        )

    def recovered(self) -> None:
        """The backend answered again."""
        self._out_until = 0.0

    def bad_value(self, kind: str, error: BaseException) -> None:
        """A record that does not decode, or an answer that does not encode: log once."""
        self._record(kind, f"cache {self.name}: {error} ({kind}); treated as a miss")

    def _record(self, kind: str, message: str) -> None:
        with self._lock:
            self.failures += 1
            first = kind not in self._logged
            self._logged.add(kind)
        if first:
            logger.warning(message)
