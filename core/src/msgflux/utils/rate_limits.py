"""The rate-limit headers providers send with their answers, picked and read.

OpenAI, Groq and most OpenAI-compatible services report their limits on every response:

| header | meaning |
|---|---|
| ``x-ratelimit-limit-requests`` / ``-tokens`` | the limit of the current window |
| ``x-ratelimit-remaining-requests`` / ``-tokens`` | what is left of it |
| ``x-ratelimit-reset-requests`` / ``-tokens`` | when it is whole again (``"6m0s"``, ``"20ms"``) |
| ``retry-after`` / ``retry-after-ms`` | seconds to wait (usually on a 429 only) |

A transport that has the response headers keeps these few (``rate_limit_headers``) and the
pipeline puts them in ``response.metadata.rate_limit`` (names lower-cased, values as sent);
``RateLimit.of`` reads them as numbers, for a batch that adapts its pace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RATE_LIMIT_HEADERS", "RateLimit", "parse_duration", "rate_limit_headers"]

RATE_LIMIT_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
    "retry-after",
    "retry-after-ms",
)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def rate_limit_headers(headers: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The rate-limit headers among ``headers``, names lower-cased; ``None`` if there are none.

    Args:
        headers: Response headers: a dict with lower-case names, or any mapping whose
            ``get`` ignores case (``httpx.Headers``).
    """
    if not headers:
        return None
    found = {}
    for name in RATE_LIMIT_HEADERS:
        value = headers.get(name)
        if value is not None:
            found[name] = str(value)
    return found or None


def parse_duration(value: str | None) -> float | None:
    """Seconds from ``"1s"``, ``"6m0s"``, ``"1h2m3.5s"``, ``"20ms"`` or a plain number.

    Returns ``None`` for anything else.
    """
    if value is None:
        return None
    text = str(value).strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _UNIT[unit] for number, unit in parts)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The provider's rate-limit state after one answer (``None``: not reported).

    Attributes:
        limit_requests: Requests allowed per window.
        limit_tokens: Tokens allowed per window.
        remaining_requests: Requests left in the window.
        remaining_tokens: Tokens left in the window.
        reset_requests: Seconds until the request budget is whole again.
        reset_tokens: Seconds until the token budget is whole again.
        retry_after: Seconds the provider asked to wait.
    """

    limit_requests: float | None = None
    limit_tokens: float | None = None
    remaining_requests: float | None = None
    remaining_tokens: float | None = None
    reset_requests: float | None = None
    reset_tokens: float | None = None
    retry_after: float | None = None

    @classmethod
    def of(cls, headers: Mapping[str, Any] | None) -> RateLimit | None:
        """Read ``headers`` (e.g. ``response.metadata.rate_limit``); ``None`` if empty."""
        picked = rate_limit_headers(headers)
        if picked is None:
            return None
        from msgflux.utils.http import parse_retry_after

        return cls(
            limit_requests=_number(picked.get("x-ratelimit-limit-requests")),
            limit_tokens=_number(picked.get("x-ratelimit-limit-tokens")),
            remaining_requests=_number(picked.get("x-ratelimit-remaining-requests")),
            remaining_tokens=_number(picked.get("x-ratelimit-remaining-tokens")),
            reset_requests=parse_duration(picked.get("x-ratelimit-reset-requests")),
            reset_tokens=parse_duration(picked.get("x-ratelimit-reset-tokens")),
            retry_after=parse_retry_after(picked),
        )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and number >= 0 else None
