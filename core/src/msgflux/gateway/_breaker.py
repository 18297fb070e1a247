"""The circuit breaker of one deployment: closed, open for a cooldown, half-open with one probe.

```
closed ──(failure_threshold consecutive failures, or a Retry-After)──> open
open ──(cooldown over: the next request is the probe)──> half-open
half-open ──(the probe answers)──> closed
half-open ──(the probe fails)──> open (a new cooldown)
```

While a circuit is open the deployment gets no request; while it is half-open it gets
only its probe, and every other caller goes elsewhere. So an outage costs at most one
failed attempt per cooldown, not a retry ladder per request.

The breaker is plain state: it takes the time as an argument and holds no lock. Its owner
(``RoutingState``) calls it under its lock, and logs the transitions it returns after
letting the lock go.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker"]

CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half_open"


class CircuitBreaker:
    """Health of one deployment as a three-state machine.

    Args:
        failure_threshold: Consecutive failures that open the circuit.
        cooldown: Seconds an opened circuit stays open before its probe.

    Attributes:
        state: ``"closed"``, ``"open"`` or ``"half_open"`` (a probe is in flight).
        failures: Consecutive failures so far (reset by an answer).
        open_until: When an open circuit lets its probe through (monotonic seconds).
        times_opened: How often the circuit opened (for monitoring).
    """

    __slots__ = ("cooldown", "failure_threshold", "failures", "open_until", "state", "times_opened")

    def __init__(self, failure_threshold: int, cooldown: float) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.state: str = CLOSED
        self.failures = 0
        self.open_until = 0.0
        self.times_opened = 0

    def blocked(self, now: float) -> str | None:
        """Why the deployment cannot take a request now, or ``None`` when it can."""
        if self.state == CLOSED:
            return None
        if self.state == HALF_OPEN:
            return "circuit half-open (its probe request is in flight)"
        if now < self.open_until:
            return f"circuit open for {self.open_until - now:.2f} s more"
        return None

    def admit(self) -> bool:
        """Let a request through (after ``blocked`` said it may); ``True`` if it is the probe."""
        if self.state == CLOSED:
            return False
        self.state = HALF_OPEN
        return True

    def answered(self, probe: bool) -> bool:
        """The deployment answered; ``True`` if that closed the circuit.

        An answer to a request sent before the circuit opened says nothing about now: only
        the probe's answer closes an open circuit.
        """
        if self.state == CLOSED:
            self.failures = 0
            return False
        if not probe:
            return False
        self.state = CLOSED
        self.failures = 0
        return True

    def failed(self, now: float, probe: bool, rest: float | None) -> float | None:
        """The deployment failed; returns the seconds it was opened for, if it was.

        Args:
            now: The current time (monotonic seconds).
            probe: Whether the failed request was the probe.
            rest: Seconds the provider asked us to wait (``Retry-After``), if it said: the
                circuit opens for that long at once, whatever the count.
        """
        self.failures += 1
        if probe:
            return self._open(now, self.cooldown if rest is None else rest)
        if self.state != CLOSED:
            return None  # a request from before the circuit opened: it is open already
        if rest is not None:
            return self._open(now, rest)
        if self.failures >= self.failure_threshold:
            return self._open(now, self.cooldown)
        return None

    def released(self, probe: bool) -> None:
        """The request ended without a verdict (cancelled); a probe's turn passes on."""
        if probe and self.state == HALF_OPEN:
            self.state = OPEN  # ``open_until`` is past: the next request is the probe

    def remaining(self, now: float) -> float:
        """Seconds until an open circuit lets its probe through (0 when it is not open)."""
        return max(0.0, self.open_until - now) if self.state == OPEN else 0.0

    def _open(self, now: float, seconds: float) -> float:
        self.state = OPEN
        self.open_until = now + seconds
        self.times_opened += 1
        return seconds
