"""The routing state a gateway shares between every thread and task that calls it.

Per deployment: its circuit breaker, the requests in flight, a moving average of its
latency and counters. One ``threading.Lock`` guards it all, held only for the few
assignments of a transition (never across I/O, logging included), so sync and async
callers share one state safely and an event loop never waits on it for long.

A request takes a ``Ticket`` from ``acquire`` and hands it back exactly once: ``answered``,
``failed`` or ``released`` (cancelled, no verdict).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from msgflux.gateway._breaker import CLOSED, OPEN, CircuitBreaker
from msgflux.gateway._strategies import order

if TYPE_CHECKING:
    import random

    from msgflux.gateway._deployments import Deployment, GatewayConfig

__all__ = ["RoutingState", "Ticket"]

from msgflux.telemetry import events  # span events when msgflux.instrument() is on

logger = logging.getLogger("msgflux.gateway")

#: Weight of a new latency sample in the moving average.
_LATENCY_SMOOTHING = 0.3


@dataclass(slots=True)
class _Slot:
    """Routing state of one deployment (a strategy reads it as a ``Candidate``)."""

    deployment: Deployment
    index: int
    caller: Any  # the deployment's model with its own retries off
    breaker: CircuitBreaker
    in_flight: int = 0
    latency: float | None = None
    attempts: int = 0
    answers: int = 0
    failures: int = 0
    rate_limited: bool = False  # its last failure was a rate limit

    @property
    def weight(self) -> float:
        return self.deployment.weight


@dataclass(slots=True)
class Ticket:
    """One request on one deployment, from ``acquire`` until its outcome is reported."""

    deployment: Deployment
    caller: Any
    probe: bool
    started: float
    finished: bool = False


class RoutingState:
    """Breakers, load and counters of a gateway's deployments (thread- and task-safe).

    Args:
        config: The gateway's checked settings.
        callers: ``{deployment name: the model to call}`` (the deployments' models with
            their own retries off).
        clock: Monotonic seconds (injectable for tests of the state machine).
    """

    def __init__(
        self,
        config: GatewayConfig,
        callers: dict[str, Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self._strategy = config.strategy
        self._slots = {
            d.name: _Slot(
                d, i, callers[d.name], CircuitBreaker(config.failure_threshold, config.cooldown)
            )
            for i, d in enumerate(config.deployments)
        }
        self._lock = threading.Lock()
        self._rng: random.Random | None = None
        self.calls = 0
        self.answered_calls = 0
        self.failed_calls = 0
        self.failovers = 0

    # -- taking and returning tickets ------------------------------------------------------------

    def acquire(
        self,
        candidates: Sequence[Deployment],
        preferred: str | None,
        skipped: MutableMapping[str, str],
    ) -> Ticket | None:
        """A ticket on the best available candidate, or ``None`` when none can take a request.

        Args:
            candidates: Deployments of one group not tried yet by this call.
            preferred: A deployment name to take first when available.
            skipped: Receives ``{name: why}`` for every candidate that cannot take a request.
        """
        rng = self._random()
        with self._lock:
            now = self.clock()
            available = []
            for deployment in candidates:
                slot = self._slots[deployment.name]
                reason = slot.breaker.blocked(now)
                if reason is None:
                    available.append(slot)
                else:
                    skipped[deployment.name] = reason
            if not available:
                return None
            ranked = order(self._strategy, available, rng)
            chosen = next((s for s in ranked if s.deployment.name == preferred), ranked[0])
            probe = chosen.breaker.admit()
            chosen.in_flight += 1
            chosen.attempts += 1
            skipped.pop(chosen.deployment.name, None)
        return Ticket(chosen.deployment, chosen.caller, probe, now)

    def answered(self, ticket: Ticket, latency: float | None = None) -> None:
        """The deployment answered (any answer, an error saying "no" included)."""
        with self._lock:
            slot = self._finish(ticket)
            if slot is None:
                return
            slot.answers += 1
            if latency is not None:
                previous = slot.latency
                slot.latency = (
                    latency
                    if previous is None
                    else previous + _LATENCY_SMOOTHING * (latency - previous)
                )
            closed = slot.breaker.answered(ticket.probe)
        if closed:
            logger.info("deployment %r is healthy again: circuit closed", ticket.deployment.name)

    def failed(
        self,
        ticket: Ticket,
        error: BaseException,
        rest: float | None,
        *,
        rate_limited: bool = False,
    ) -> None:
        """The deployment failed; ``rest`` is the wait it asked for (``Retry-After``),
        ``rate_limited`` whether the failure was a rate limit."""
        with self._lock:
            slot = self._finish(ticket)
            if slot is None:
                return
            slot.failures += 1
            slot.rate_limited = rate_limited
            opened = slot.breaker.failed(self.clock(), ticket.probe, rest)
            count = slot.breaker.failures
        if opened is None:
            return
        events.circuit_opened(
            ticket.deployment.group, ticket.deployment.name, opened, error, log=False
        )
        why = "it asked to wait (Retry-After)" if rest is not None else f"{count} failures in a row"
        # A rest the provider asked for is routine under load (a batch meets many): INFO;
        # failures in a row look like an outage: WARNING.
        logger.log(
            logging.INFO if rest is not None else logging.WARNING,
            "deployment %r circuit opened for %.2f s: %s (last: %s: %s)",
            ticket.deployment.name,
            opened,
            why,
            type(error).__name__,
            error,
        )

    def busy(self, ticket: Ticket) -> None:
        """The deployment refused the request for now (a 429 without ``Retry-After``): a
        failed attempt, but no verdict on its health (it is up), so its circuit is left as
        it is, and a probe's turn passes on."""
        with self._lock:
            slot = self._finish(ticket)
            if slot is None:
                return
            slot.failures += 1
            slot.rate_limited = True
            slot.breaker.released(ticket.probe)

    def released(self, ticket: Ticket) -> None:
        """The request ended without a verdict (cancelled, or refused before sending)."""
        with self._lock:
            if self._finish(ticket) is not None:
                self._slots[ticket.deployment.name].breaker.released(ticket.probe)

    def _finish(self, ticket: Ticket) -> _Slot | None:
        if ticket.finished:
            return None
        ticket.finished = True
        slot = self._slots[ticket.deployment.name]
        slot.in_flight -= 1
        return slot

    def _random(self) -> random.Random:
        if self._rng is None:
            import random  # loaded on first use: `import msgflux` stays light

            self._rng = random.Random()
        return self._rng

    def resting(self, names: Iterable[str]) -> dict[str, tuple[float, bool]]:
        """When each named deployment takes requests again, and whether a rate limit is why.

        Returns:
            ``{name: (seconds, rate-limited)}``: ``seconds`` is 0 for a closed circuit, the
            time left for an open one, and the expected time of its probe's answer (its
            latency) for a half-open one; ``rate-limited`` is whether a rate limit was its
            last failure and its circuit is not closed.
        """
        with self._lock:
            now = self.clock()
            return {name: _rest_of(self._slots[name], now) for name in names}

    # -- counters --------------------------------------------------------------------------------

    def count_call(self, answered: bool, attempts: int) -> None:
        """Count one finished call: answered or not, and how many attempts it took."""
        with self._lock:
            self.calls += 1
            self.failovers += max(0, attempts - 1)
            if answered:
                self.answered_calls += 1
            else:
                self.failed_calls += 1

    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters and of every deployment's health."""
        with self._lock:
            now = self.clock()
            deployments = {name: _slot_stats(slot, now) for name, slot in self._slots.items()}
            totals = {
                "calls": self.calls,
                "answered": self.answered_calls,
                "failed": self.failed_calls,
                "failovers": self.failovers,
            }
        open_circuits = [name for name, d in deployments.items() if d["state"] != "closed"]
        return {**totals, "open_circuits": open_circuits, "deployments": deployments}


def _rest_of(slot: _Slot, now: float) -> tuple[float, bool]:
    state = slot.breaker.state
    if state == CLOSED:
        return 0.0, False
    wait = slot.breaker.remaining(now) if state == OPEN else slot.latency or 0.0
    return wait, slot.rate_limited


def _breaker(config: GatewayConfig) -> CircuitBreaker:
    return CircuitBreaker(config.failure_threshold, config.cooldown)


def _slot_stats(slot: _Slot, now: float) -> dict[str, Any]:
    breaker = slot.breaker
    return {
        "group": slot.deployment.group,
        "model": slot.deployment.model_path,
        "state": breaker.state,
        "attempts": slot.attempts,
        "answers": slot.answers,
        "failures": slot.failures,
        "consecutive_failures": breaker.failures,
        "in_flight": slot.in_flight,
        "latency": slot.latency,
        "times_opened": breaker.times_opened,
        "open_for": breaker.remaining(now),
    }
