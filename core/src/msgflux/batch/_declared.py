"""What the servers behind a batch declare about their limits, added up over the servers.

A model is one server: the ``x-ratelimit-*`` headers of its latest answer say how many
calls are left and how many per second it takes. A gateway spreads the batch over several
deployments, each with limits of its own (``metadata.gateway.deployment`` says which one
answered): their capacities add up, and so do the calls they have left. Taking one
deployment's headers for the whole gateway would hold the batch to one replica's share.

A server that declares nothing makes the total unknown (``None``), so that the batch
learns the limits from 429s instead of trusting a part for the whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DeclaredLimits", "source_of"]

#: The latest ``(calls left, calls per second)`` a source declared (``None``: not said).
Declared = tuple[float | None, float | None]


def source_of(metadata: Any) -> str | None:
    """Which server answered: a gateway's deployment, or ``None`` for a model's one server."""
    gateway = metadata.get("gateway") if isinstance(metadata, Mapping) else None
    if isinstance(gateway, Mapping):
        deployment = gateway.get("deployment")
        return deployment if isinstance(deployment, str) else None
    return None


class DeclaredLimits:
    """The latest declaration of every server seen, and their sum."""

    __slots__ = ("_latest",)

    def __init__(self) -> None:
        self._latest: dict[str | None, Declared] = {}

    def update(
        self, source: str | None, remaining: float | None, ceiling: float | None
    ) -> Declared:
        """Record what ``source`` declared with its latest answer; return the totals.

        Args:
            source: Which server answered (``source_of``).
            remaining: Calls it says are left (``None``: not said).
            ceiling: Calls per second it says it takes (``None``: not said).

        Returns:
            ``(calls left, calls per second)`` over every server seen so far; each
            ``None`` unless every one of them declared it.
        """
        self._latest[source] = (remaining, ceiling)
        return (
            _total(left for left, _ in self._latest.values()),
            _total(rate for _, rate in self._latest.values()),
        )


def _total(values: Any) -> float | None:
    total = 0.0
    for value in values:
        if value is None:
            return None
        total += value
    return total
