"""Telling the caller how a batch goes: a tqdm bar on a terminal, a callback for programs."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Progress", "check_progress"]


def check_progress(progress: bool | None) -> bool:
    """Whether to draw a bar: ``None`` means when stderr is a terminal."""
    if progress is None:
        stream = sys.stderr
        return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (auto), got {progress!r}")
    return progress


class Progress:
    """A bar (tqdm, imported only when drawn) and the ``on_result`` callback.

    Args:
        total: Items in the batch.
        bar: Draw a bar on stderr.
        on_result: Called with each item once it is final (sync or async function).
        description: The bar's label.
    """

    def __init__(
        self,
        total: int,
        *,
        bar: bool,
        on_result: Callable[[Any], Any] | None,
        description: str = "batch",
    ) -> None:
        self._on_result = on_result
        self._bar: Any = None
        if bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=description, unit="item", file=sys.stderr)

    async def finished(self, item: Any, rate_limited: int, window: float) -> None:
        """One item is final: move the bar, then tell the callback."""
        if self._bar is not None:
            self._bar.set_postfix({"429s": rate_limited, "window": int(window)}, refresh=False)
            self._bar.update(1)
        if self._on_result is not None:
            outcome = self._on_result(item)
            if inspect.isawaitable(outcome):
                await outcome

    def close(self) -> None:
        """Leave the bar as it ended."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
