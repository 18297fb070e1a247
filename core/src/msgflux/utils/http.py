"""Small HTTP helpers shared by the core and the transports (no heavy imports)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["parse_retry_after"]


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` (seconds or HTTP-date).

    Args:
        headers: Response headers (any case).

    Returns:
        Seconds (``0`` for a date in the past), or ``None`` when the headers say nothing
        usable.
    """
    if not headers:
        return None
    lowered = {str(name).lower(): value for name, value in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds:
        try:
            value_ms = float(milliseconds)
        except ValueError:
            pass
        else:
            if value_ms == value_ms:  # not NaN
                return max(value_ms / 1000.0, 0.0)
    value = lowered.get("retry-after")
    if not value:
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
