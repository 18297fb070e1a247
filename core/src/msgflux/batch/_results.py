"""What a batch returns: one ``BatchItem`` per input, in input order, and the totals."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

__all__ = ["BatchItem", "BatchResults", "BatchStats"]


@dataclass(slots=True)
class BatchItem:
    """The outcome of one input.

    Attributes:
        index: The input's position.
        input: The input as given.
        response: The model's response (``ModelResponse``), or ``None`` when it failed.
        error: The exception of a failed item, or ``None``.
        attempts: Calls made for it (429s the batch retried included; the model's own
            retries of other errors happen inside one call).
        rate_limited: How many of those calls got a 429.
    """

    index: int
    input: Any
    response: Any = None
    error: BaseException | None = None
    attempts: int = 0
    rate_limited: int = 0

    @property
    def ok(self) -> bool:
        """Whether the item has a response."""
        return self.error is None

    def result(self) -> Any:
        """The response, or raise the item's error."""
        if self.error is not None:
            raise self.error
        return self.response

    @property
    def usage(self) -> dict[str, Any]:
        """The response's token usage (empty when unknown or failed)."""
        metadata = getattr(self.response, "metadata", None) or {}
        usage = metadata.get("usage") if hasattr(metadata, "get") else None
        return dict(usage) if isinstance(usage, dict) else {}


@dataclass(slots=True)
class BatchStats:
    """Totals of a batch.

    Attributes:
        total: Inputs.
        succeeded: Items with a response.
        failed: Items with an error.
        rate_limited: 429 answers received (each was retried, unless the item ran out of
            retries).
        requests: Calls made.
        prompt_tokens: Prompt tokens of the answered items (as the provider reported).
        completion_tokens: Completion tokens of the answered items.
        elapsed: Seconds from start to end.
        limit_cuts: How many times the adaptive limits were cut.
        final_window: Calls allowed in flight at the end.
        final_rate: Starts per second at the end, or ``None`` when never paced.
    """

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    rate_limited: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed: float = 0.0
    limit_cuts: int = 0
    final_window: float = 0.0
    final_rate: float | None = None

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class BatchResults(Sequence[BatchItem]):
    """The items of a batch, in input order, and its ``stats``.

    ``results[i]`` is the ``BatchItem`` of input ``i``; ``responses`` lists the responses
    (``None`` for failed items) and ``errors`` the failed items.
    """

    items: list[BatchItem]
    stats: BatchStats = field(default_factory=BatchStats)

    @overload
    def __getitem__(self, index: int) -> BatchItem: ...

    @overload
    def __getitem__(self, index: slice) -> list[BatchItem]: ...

    def __getitem__(self, index: int | slice) -> BatchItem | list[BatchItem]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[BatchItem]:
        return iter(self.items)

    @property
    def responses(self) -> list[Any]:
        """Each item's response, ``None`` where it failed."""
        return [item.response for item in self.items]

    @property
    def errors(self) -> list[BatchItem]:
        """The failed items."""
        return [item for item in self.items if item.error is not None]

    @property
    def ok(self) -> bool:
        """Whether every item has a response."""
        return all(item.error is None for item in self.items)

    def __repr__(self) -> str:
        stats = self.stats
        return (
            f"BatchResults({stats.total} items: {stats.succeeded} succeeded, {stats.failed} "
            f"failed, {stats.rate_limited} rate-limited retries, {stats.elapsed:.1f}s)"
        )
