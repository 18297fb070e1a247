"""Routing strategies: in which order a group's available deployments are tried.

A strategy only orders the deployments of one group that can take a request right now
(circuit closed or ready for its probe, outside their time windows); the gateway tries
them in that order, then the fallback groups.

- ``"ordered"`` (default): as declared. For one primary and standbys: traffic stays on
  the first healthy deployment.
- ``"weighted"``: at random, in proportion to ``weight``. For replicas of unequal size,
  or a canary that takes a share of the traffic.
- ``"least_busy"``: fewest requests in flight first (ties at random). For replicas of
  equal size under concurrent load, especially with long or uneven answers.
- ``"lowest_latency"``: lowest observed latency first (untried ones first, to measure
  them). For replicas in different places or on different hardware.

Latency is a moving average of the time to the answer (to the first chunk, for streams),
from successful attempts only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

if TYPE_CHECKING:
    import random

__all__ = ["STRATEGIES", "Candidate", "order"]

STRATEGIES: Final = ("ordered", "weighted", "least_busy", "lowest_latency")


class Candidate(Protocol):
    """What a strategy reads of a deployment's routing state."""

    @property
    def index(self) -> int:
        """Position in the declared list."""

    @property
    def weight(self) -> float:
        """The deployment's ``weight``."""

    @property
    def in_flight(self) -> int:
        """Requests sent to it and not finished."""

    @property
    def latency(self) -> float | None:
        """Moving average of its answer time in seconds, ``None`` before its first answer."""


C = TypeVar("C", bound=Candidate)


def order(strategy: str, candidates: Sequence[C], rng: random.Random) -> list[C]:
    """``candidates`` in the order ``strategy`` tries them (see the module docstring)."""
    if strategy == "weighted":
        # Efraimidis-Spirakis: sorting by u ** (1 / w) draws without replacement with
        # probability proportional to w, in one pass (``sorted`` calls the key once each).
        return sorted(candidates, key=lambda c: rng.random() ** (1.0 / c.weight), reverse=True)
    if strategy == "least_busy":
        return sorted(candidates, key=lambda c: (c.in_flight, rng.random()))
    if strategy == "lowest_latency":
        return sorted(candidates, key=lambda c: (c.latency is not None, c.latency or 0.0, c.index))
    return sorted(candidates, key=lambda c: c.index)
