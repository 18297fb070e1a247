"""A rate limit for the loopback server: a token bucket that answers 429 past its rate.

```python
from msgflux.testing.ratelimit import RateLimiter
from msgflux.testing.server import LoopbackServer

limiter = RateLimiter(rate=50, burst=10)            # 50 requests/s, bursts of 10
with LoopbackServer() as server:
    server.set_handler(limiter)
    ...                                             # run a client against server.base_url
limiter.admitted, limiter.refused, limiter.duplicates()
```

Each chat request takes one token from a bucket that refills at ``rate`` per second up to
``burst``. With a token, the request is answered (by ``reply(request)``, default the echo
reply, after ``latency`` seconds) and the answer carries OpenAI-style
``x-ratelimit-limit-requests`` / ``-remaining-requests`` / ``-reset-requests`` headers.
Without one, it gets a 429 in OpenAI's shape; ``retry_after`` decides whether that 429
says when to come back (``retry-after-ms`` and ``Retry-After``: the time until the next
token): ``"always"``, ``"never"`` or ``"alternate"`` (every other 429).

The limiter counts what it admitted and refused and, per request key (by default the
text of the last user message), how often it admitted it, so a test can check that no
answered request was sent twice. It runs on the server's loop thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from msgflux.testing._recorded import RecordedRequest
from msgflux.testing._replies import Reply, last_user_text

__all__ = ["RateLimiter"]

RetryAfterMode = Literal["always", "never", "alternate"]


def _last_user_text(request: RecordedRequest) -> str:
    return last_user_text(request.json)


class RateLimiter:
    """A loopback server handler admitting ``rate`` requests per second (see module doc).

    Args:
        rate: Requests per second the bucket refills.
        burst: The bucket's size (default: one second's worth, at least 1).
        retry_after: Whether a 429 says when to retry: ``"always"``, ``"never"`` or
            ``"alternate"``.
        latency: Seconds an admitted answer takes.
        limit_headers: Send the ``x-ratelimit-*`` headers with answers.
        reply: Builds the answer to an admitted request (default: the echo reply).
        key: What identifies a request in ``admitted_keys`` (default: the last user text).

    Attributes:
        admitted: Requests answered.
        refused: Requests answered 429.
        refused_with_retry_after: Those 429s that said when to retry.
        admitted_keys: How many times each request key was answered.
        first_admitted: ``time.monotonic()`` of the first answered request, or ``None``.
        last_admitted: ... of the last one.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        retry_after: RetryAfterMode = "always",
        latency: float = 0.0,
        limit_headers: bool = True,
        reply: Callable[[RecordedRequest], Reply] | None = None,
        key: Callable[[RecordedRequest], Any] = _last_user_text,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        if retry_after not in ("always", "never", "alternate"):
            raise ValueError(
                f"retry_after must be 'always', 'never' or 'alternate', got {retry_after!r}"
            )
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        self.retry_after = retry_after
        self.latency = latency
        self.limit_headers = limit_headers
        self._reply = reply or Reply.echo
        self._key = key
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = time.monotonic()
        self.admitted = 0
        self.refused = 0
        self.refused_with_retry_after = 0
        self.admitted_keys: Counter[Any] = Counter()
        self.first_admitted: float | None = None
        self.last_admitted: float | None = None

    def __call__(self, request: RecordedRequest) -> Reply:
        now = time.monotonic()
        with self._lock:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens < 1.0:
                return self._refuse()
            self._tokens -= 1.0
            self.admitted += 1
            self.admitted_keys[self._key(request)] += 1
            if self.first_admitted is None:
                self.first_admitted = now
            self.last_admitted = now
            headers = self._headers() if self.limit_headers else {}
        fields: dict[str, Any] = {"headers": headers}
        if self.latency:
            fields["delay"] = self.latency
        return self._reply(request).replace(**fields)

    def _headers(self) -> dict[str, str]:
        until_full = (self.burst - self._tokens) / self.rate
        return {
            "x-ratelimit-limit-requests": str(int(self.rate * 60)),
            "x-ratelimit-remaining-requests": str(int(self._tokens)),
            "x-ratelimit-reset-requests": f"{until_full:.3f}s",
        }

    def _refuse(self) -> Reply:
        self.refused += 1
        say = self.retry_after == "always" or (
            self.retry_after == "alternate" and self.refused % 2 == 1
        )
        headers = {}
        if say:
            self.refused_with_retry_after += 1
            wait = (1.0 - self._tokens) / self.rate
            headers = {
                "retry-after-ms": str(max(1, math.ceil(wait * 1000))),
                "retry-after": str(max(1, math.ceil(wait))),
            }
        return Reply.error(
            429,
            "Rate limit reached for requests (loopback token bucket)",
            type="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )

    # -- what a test asserts -------------------------------------------------------------------

    @property
    def refused_share(self) -> float:
        """429s as a share of every request received."""
        total = self.admitted + self.refused
        return self.refused / total if total else 0.0

    def duplicates(self) -> dict[Any, int]:
        """Request keys answered more than once, with their counts."""
        with self._lock:
            return {key: count for key, count in self.admitted_keys.items() if count > 1}

    def admitted_rate(self) -> float | None:
        """Answered requests per second between the first and the last answered one."""
        if self.first_admitted is None or self.last_admitted is None:
            return None
        span = self.last_admitted - self.first_admitted
        return (self.admitted - 1) / span if span > 0 else None
