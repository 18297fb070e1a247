"""Time constraints: UTC ``"HH:MM"`` windows during which a deployment is not used.

``("22:00", "06:00")`` spans midnight: it covers 22:00 to midnight and midnight to 06:00.
Both ends are included (``10:00`` itself is in ``("09:00", "10:00")``, ``10:00:01`` is
not), as msgflux 0.5 had them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TimeWindow", "UTCClock", "parse_windows", "restricted", "utc_now"]


def utc_now() -> datetime.datetime:
    """The current time in UTC (the default clock of time constraints)."""
    return datetime.datetime.now(datetime.UTC)


#: A clock giving the current UTC time (injectable for tests).
UTCClock = Callable[[], datetime.datetime]


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A daily UTC window ``[start, end]``; ``start > end`` means it spans midnight."""

    start: datetime.time
    end: datetime.time

    def contains(self, moment: datetime.time) -> bool:
        """Whether ``moment`` (a UTC time of day) falls in the window."""
        if self.start <= self.end:
            return self.start <= moment <= self.end
        return moment >= self.start or moment <= self.end

    def as_strings(self) -> list[str]:
        """``["HH:MM", "HH:MM"]``: the form it was given in (for ``serialize()``)."""
        return [self.start.strftime("%H:%M"), self.end.strftime("%H:%M")]


def parse_windows(deployment: str, value: Any) -> tuple[TimeWindow, ...]:
    """Check and parse a deployment's ``time_constraints``.

    Args:
        deployment: The deployment's name, for error messages.
        value: ``None`` or a list of ``(start, end)`` pairs of ``"HH:MM"`` strings.

    Raises:
        TypeError: ``value`` is not a list of pairs of strings.
        ValueError: A time is not a valid ``"HH:MM"``.
    """
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(
            f"time_constraints of deployment {deployment!r} must be a list of "
            f'("HH:MM", "HH:MM") pairs (UTC), e.g. [("22:00", "06:00")]; got {value!r}'
        )
    return tuple(_parse_pair(deployment, position, pair) for position, pair in enumerate(value))


def _parse_pair(deployment: str, position: int, pair: Any) -> TimeWindow:
    where = f"time_constraints[{position}] of deployment {deployment!r}"
    if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise TypeError(f'{where} must be a ("HH:MM", "HH:MM") pair, got {pair!r}')
    start, end = (_parse_time(where, text) for text in pair)
    return TimeWindow(start, end)


def _parse_time(where: str, text: Any) -> datetime.time:
    if not isinstance(text, str):
        raise TypeError(f'{where}: times are "HH:MM" strings, got {text!r}')
    try:
        return datetime.datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise ValueError(
            f'{where}: {text!r} is not a time of day as "HH:MM" (00:00 to 23:59, UTC)'
        ) from None


def restricted(windows: Sequence[TimeWindow], now: datetime.datetime) -> bool:
    """Whether ``now`` falls in any of ``windows`` (``now`` is converted to UTC)."""
    if not windows:
        return False
    if now.tzinfo is not None:
        now = now.astimezone(datetime.UTC)
    moment = now.time().replace(tzinfo=None)
    return any(window.contains(moment) for window in windows)
