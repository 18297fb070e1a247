"""``batch()``: the async runner for sync callers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from msgflux.batch._results import BatchResults
from msgflux.batch._runner import abatch

__all__ = ["batch"]


def batch(target: Any, inputs: Iterable[Any], **options: Any) -> BatchResults:
    """Run ``abatch`` to the end and return its results (same arguments).

    With no event loop running in this thread (a script), the batch runs on a new loop in
    this thread, and Ctrl-C cancels it cleanly. Called from code that runs inside a loop
    (a notebook cell, an async framework's sync handler), it runs on a private thread with
    its own loop and blocks the caller until done: use ``await abatch(...)`` there instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(abatch(target, inputs, **options))
    with ThreadPoolExecutor(1, thread_name_prefix="msgflux-batch-loop") as runner:
        return runner.submit(asyncio.run, abatch(target, inputs, **options)).result()
