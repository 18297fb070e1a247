"""Single-flight: identical requests in flight at once share one computation.

The first caller of a key becomes its *leader* and computes; callers of the same key that
arrive meanwhile are *followers* and wait for the leader's outcome, from any thread or any
event loop (they wait on a ``Signal``, which threads block on and tasks await). The leader
lands its flight with a value or an error, which every follower receives; an error is never
remembered beyond the flight. A leader that is cancelled (or interrupted) lands the flight as
*abandoned*: its followers then start again, and one of them leads.
"""

from __future__ import annotations

import threading
from typing import Any

from msgflux.models._stream import Signal

__all__ = ["Flight", "SingleFlight"]


class Flight:
    """One computation in progress; its outcome once ``done`` is set.

    Attributes:
        done: Set when the flight has landed.
        value: The leader's value (meaningful when ``error`` is ``None`` and not abandoned).
        error: The leader's exception, delivered to every follower.
        abandoned: The leader stopped without an outcome (cancelled): followers start again.
        followers: How many callers joined it besides the leader.
    """

    __slots__ = ("abandoned", "done", "error", "followers", "value")

    def __init__(self) -> None:
        self.followers = 0
        self.done = Signal()
        self.value: Any = None
        self.error: BaseException | None = None
        self.abandoned = False


class SingleFlight:
    """The flights of one process (or one cache), by key; thread- and task-safe."""

    def __init__(self) -> None:
        self._flights: dict[str, Flight] = {}
        self._lock = threading.Lock()

    def join(self, key: str) -> tuple[Flight, bool]:
        """``(flight, True)`` for the leader of ``key``; ``(flight, False)`` for a follower."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                flight.followers += 1
                return flight, False
            flight = self._flights[key] = Flight()
            return flight, True

    def land(
        self,
        key: str,
        flight: Flight,
        *,
        value: Any = None,
        error: BaseException | None = None,
        abandoned: bool = False,
    ) -> None:
        """End ``flight`` (leader only) and wake its followers.

        The key is free again before anyone wakes, so a follower that starts again (after an
        abandoned flight) finds no stale flight.
        """
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.value, flight.error, flight.abandoned = value, error, abandoned
        flight.done.set()

    def __len__(self) -> int:
        """How many keys are in flight."""
        with self._lock:
            return len(self._flights)

    def waiting(self) -> int:
        """How many followers wait for flights in progress."""
        with self._lock:
            return sum(flight.followers for flight in self._flights.values())
