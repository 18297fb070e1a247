"""One call's walk over the deployments: the routing loop's decisions, shared by every way
of calling (sync, async, streamed).

The loop itself is a few lines in each caller::

    route = gateway._route(model_preference)
    while (ticket := route.next()) is not None:
        try:
            answer = ticket.caller(messages, **route.options(ticket, options))
        except Exception as error:
            route.failed(ticket, error)  # raises when the error is not failed over
            continue
        return route.answered(ticket, answer)
    raise route.exhausted()

``next()`` picks the deployment (the groups in order, the strategy within a group,
skipping open circuits and time windows); ``failed()`` classifies the error
(``_classify``), updates the deployment's breaker and either lets the loop go on (fail
over, or jump to the context-length fallbacks) or raises; ``answered()`` records the
answer and its accounting.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgflux.gateway._accounting import AttemptLog
from msgflux.gateway._classify import (
    AUTH,
    CALLER,
    CONTEXT_LENGTH,
    RATE_LIMITED,
    UNAVAILABLE,
    classify,
)
from msgflux.gateway._windows import UTCClock, restricted

if TYPE_CHECKING:
    import datetime

    from msgflux.errors import ModelRouterError
    from msgflux.gateway._deployments import Deployment, GatewayConfig
    from msgflux.gateway._state import RoutingState, Ticket

__all__ = ["Route"]

from msgflux.telemetry import events  # span events when msgflux.instrument() is on

logger = logging.getLogger("msgflux.gateway")


class Route:
    """The state of one gateway call (not shared: one per call).

    Args:
        config: The gateway's settings.
        state: The gateway's shared routing state.
        groups: The groups this call may use, in order.
        preferred: A deployment to try first (``model_preference`` naming a deployment).
        utc_clock: The clock of time constraints.
    """

    def __init__(
        self,
        config: GatewayConfig,
        state: RoutingState,
        groups: list[str],
        preferred: str | None,
        utc_clock: UTCClock,
    ) -> None:
        self.config = config
        self.groups = groups
        self.log = AttemptLog()
        self._state = state
        self._pending = deque(groups)
        self._preferred = preferred
        self._utc_clock = utc_clock
        self._tried: set[str] = set()
        self._unavailable: dict[str, str] = {}
        self._off_hours: set[str] = set()  # skipped for their time_constraints

    # -- choosing -----------------------------------------------------------------------------

    def next(self) -> Ticket | None:
        """The next attempt's ticket, or ``None`` when there is nothing left to try."""
        limit = self.config.max_attempts
        if limit is not None and len(self.log) >= limit:
            return None
        now: datetime.datetime | None = None
        while self._pending:
            candidates = []
            for deployment in self.config.groups[self._pending[0]]:
                if deployment.name in self._tried:
                    continue
                if deployment.time_constraints:
                    now = now or self._utc_clock()
                    if restricted(deployment.time_constraints, now):
                        self._tried.add(deployment.name)
                        self._off_hours.add(deployment.name)
                        self._unavailable[deployment.name] = "outside its time_constraints"
                        continue
                candidates.append(deployment)
            ticket = self._state.acquire(candidates, self._preferred, self._unavailable)
            if ticket is not None:
                self._preferred = None
                self._tried.add(ticket.deployment.name)
                return ticket
            self._pending.popleft()
        return None

    def options(self, ticket: Ticket, options: Mapping[str, Any]) -> Mapping[str, Any]:
        """The call's options for ``ticket``'s deployment: its timeout unless the call set one."""
        timeout = ticket.deployment.timeout
        if timeout is None:
            timeout = self.config.timeout
        if timeout is None or "timeout" in options:
            return options
        return {**options, "timeout": timeout}

    # -- outcomes -----------------------------------------------------------------------------

    def elapsed(self, ticket: Ticket) -> float:
        """Seconds since ``ticket``'s attempt started."""
        return self._state.clock() - ticket.started

    def answered(self, ticket: Ticket, latency: float | None = None) -> None:
        """``ticket``'s deployment answered; ``latency`` defaults to the time since it started."""
        if latency is None:
            latency = self.elapsed(ticket)
        self.log.add(ticket.deployment, None)
        self._state.answered(ticket, latency)
        self._state.count_call(True, len(self.log))

    def metadata(self, ticket: Ticket) -> Any:
        """``metadata.gateway`` of the answer from ``ticket``'s deployment."""
        return self.log.metadata(ticket.deployment)

    def failed(self, ticket: Ticket, error: BaseException) -> None:
        """Record a failed attempt; return to fail over, raise ``error`` otherwise."""
        kind = classify(error)
        deployment = ticket.deployment
        self.log.add(deployment, error)
        failover = kind in self.config.failover_on
        rest = _rest(error)
        if kind == RATE_LIMITED and rest is None and _busy(error):
            self._state.busy(ticket)
        elif kind in (UNAVAILABLE, RATE_LIMITED) or (kind == AUTH and failover):
            self._state.failed(ticket, error, rest, rate_limited=kind == RATE_LIMITED)
        elif kind == CALLER:
            self._state.released(ticket)
        else:  # it answered, with a refusal of this request
            self._state.answered(ticket)
        if kind == CONTEXT_LENGTH:
            failover = self._to_larger_context(deployment)
        elif failover:
            logger.info(
                "deployment %r failed (%s: %s); failing over",
                deployment.name,
                type(error).__name__,
                error,
            )
            events.gateway_failover(deployment.group, deployment.name, error, None, log=False)
        if not failover:
            self._state.count_call(False, len(self.log))
            raise self.log.annotate(error)

    def interrupted(self, ticket: Ticket, error: BaseException) -> None:
        """A stream failed after chunks were delivered: recorded, never failed over."""
        kind = classify(error)
        self.log.add(ticket.deployment, error)
        if kind in (UNAVAILABLE, RATE_LIMITED):
            self._state.failed(ticket, error, _rest(error), rate_limited=kind == RATE_LIMITED)
        else:
            self._state.answered(ticket)
        self._state.count_call(False, len(self.log))
        logger.warning(
            "deployment %r: its stream broke after chunks were delivered (%s: %s)",
            ticket.deployment.name,
            type(error).__name__,
            error,
        )

    def released(self, ticket: Ticket) -> None:
        """The attempt was cancelled (or interrupted): no verdict on the deployment."""
        self._state.released(ticket)

    def exhausted(self) -> ModelRouterError:
        """The error of a call that no deployment answered (``rate_limited`` when only rate
        limits stood in the way, with ``retry_after``: see ``ModelRouterError``)."""
        self._state.count_call(False, len(self.log))
        retry_after = self._rate_limited_for()
        return self.log.router_error(
            self.groups,
            self._unavailable,
            rate_limited=retry_after is not None,
            retry_after=retry_after,
        )

    def _rate_limited_for(self) -> float | None:
        """Seconds until the soonest deployment takes requests again, when rate limits alone
        stood in the way of this call; ``None`` when something else did."""
        from msgflux.utils.retry import is_rate_limit

        failures = self.log.failures()
        if not all(is_rate_limit(error) for _, error in failures):
            return None  # a deployment failed otherwise: not a matter of waiting
        names = [d.name for d, _ in failures]
        names += [name for name in self._unavailable if name not in self._off_hours]
        rests = self._state.resting(names)
        if not failures and not any(limited for _, limited in rests.values()):
            return None  # resting for outages (or nothing to try): no rate limit met
        return min((wait for wait, _ in rests.values()), default=None)

    def _to_larger_context(self, deployment: Deployment) -> bool:
        """Send the rest of the call to the group's context-length fallbacks, if declared."""
        targets = self.config.context_length_fallbacks.get(deployment.group)
        if not targets:
            return False
        logger.info(
            "deployment %r: the request exceeds its context window; trying group(s) %s",
            deployment.name,
            ", ".join(map(repr, targets)),
        )
        self._pending = deque(targets)
        self.groups = [*self.groups, *(g for g in targets if g not in self.groups)]
        return True


def _busy(error: BaseException) -> bool:
    """A 429 that waiting cures (not a used-up quota): the deployment is up, only busy."""
    from msgflux.utils.retry import is_rate_limit

    return is_rate_limit(error)


def _rest(error: BaseException) -> float | None:
    """Seconds the provider asked us to wait before the next request (``Retry-After``)."""
    value = getattr(error, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None
