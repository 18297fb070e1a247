"""Starting a stream's producer: a thread for sync callers, a task for async ones.

Every stream msgflux hands out (a model's, a gateway's relay, an Agent's relay) has one shape:
a producer fills a ``ModelStreamResponse``; the call returns once the first chunk arrived,
and raises instead when the producer failed before delivering anything (so retries,
gateways and callers can act on it). Closing the response early cancels the producer.

A producer thread runs in a copy of the caller's context, as a task does, so the caller's
context variables (an OpenTelemetry span, for one) reach it.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from msgflux.models.response import ModelStreamResponse

__all__ = ["start_task", "start_thread"]


def start_thread(
    response: ModelStreamResponse,
    produce: Callable[[], None],
    *,
    cancel: Callable[[], None],
    delivered: Callable[[], bool],
    name: str,
) -> None:
    """Run ``produce`` on a daemon thread; return once ``response``'s first chunk arrived.

    Args:
        response: The stream ``produce`` fills (and finishes).
        produce: The producer.
        cancel: Stops the producer; ``response.close()`` calls it, from any thread.
        delivered: Whether anything reached ``response`` (a failure after that is the
            stream's error, not the call's).
        name: The thread's name.

    Raises:
        BaseException: The producer's error, when it failed before delivering anything.
    """
    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(produce,), name=name, daemon=True
    )
    response.bind_producer(thread, cancel)
    thread.start()
    response.first_chunk_event.wait()
    if response.done and response.error is not None and not delivered():
        thread.join()
        raise response.error


async def start_task(
    response: ModelStreamResponse,
    produce: Coroutine[Any, Any, None],
    *,
    cancel: Callable[[], None],
    delivered: Callable[[], bool],
) -> None:
    """Async ``start_thread``: ``produce`` runs as a task on this loop.

    ``cancel`` is called before the task is cancelled, from whichever thread closes the
    response (the task is cancelled on its own loop).
    """
    import asyncio  # loaded on first use: `import msgflux` stays light

    loop = asyncio.get_running_loop()
    task = loop.create_task(produce)
    loop_thread = threading.get_ident()

    def stop() -> None:
        cancel()
        if threading.get_ident() == loop_thread:
            task.cancel()
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the task is gone with it
            loop.call_soon_threadsafe(task.cancel)

    response.bind_producer(task, stop, loop)
    try:
        await response.first_chunk_event.wait_async()
    except asyncio.CancelledError:
        task.cancel()
        raise
    if response.done and response.error is not None and not delivered():
        await asyncio.gather(task, return_exceptions=True)
        raise response.error
