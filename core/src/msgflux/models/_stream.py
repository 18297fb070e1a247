"""Producer-to-consumer hand-off for streams: events and chunk channels.

A stream's producer (a thread for sync calls, a task for async ones) appends chunks to a
``Channel``; any number of consumers read it with their own cursor, synchronously or from
any event loop. Appending costs a list append and one attribute test; a consumer is woken
only when it has caught up and is waiting, so a fast producer hands over chunks in batches
rather than one loop wake-up per chunk.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # asyncio loads on first async use: `import msgflux` stays light
    import asyncio

__all__ = ["Channel", "Signal"]


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _waker(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> Callable[[], None]:
    loop_thread = threading.get_ident()

    def wake() -> None:
        if threading.get_ident() == loop_thread:
            _resolve(future)  # producer runs on the consumer's own loop: no self-pipe write
        else:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # the consumer's loop is closed: nobody left to wake
                pass

    return wake


class Signal(threading.Event):
    """A ``threading.Event`` that an event loop can also await (``await signal.wait_async()``)."""

    def __init__(self) -> None:
        super().__init__()
        self._async_waiters: list[Callable[[], None]] = []
        self._waiters_lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._waiters_lock:
            waiters, self._async_waiters = self._async_waiters, []
        for wake in waiters:
            wake()

    async def wait_async(self) -> None:
        """Wait without blocking the running event loop."""
        if self.is_set():
            return
        import asyncio

        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._waiters_lock:
            self._async_waiters.append(_waker(loop, future))
        if self.is_set():
            return
        await future


class Channel:
    """An append-only chunk list that consumers follow, sync or async, each at its own pace."""

    __slots__ = ("_lock", "_waiters", "closed", "items")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.closed = False
        self._waiters: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def put(self, item: Any) -> None:
        self.items.append(item)
        if self._waiters:
            self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()

    # The waiter is registered before the re-check, and the producer appends before it
    # looks at the waiters, so a wake-up can never fall between the two.

    def _wait_sync(self, cursor: int) -> None:
        event = threading.Event()
        with self._lock:
            self._waiters.append(event.set)
        if len(self.items) > cursor or self.closed:
            return
        event.wait()

    async def _wait_async(self, cursor: int) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._waiters.append(_waker(loop, future))
        if len(self.items) > cursor or self.closed:
            return
        await future

    def follow(self) -> Iterator[Any]:
        """Yield every item from the start, blocking the calling thread while waiting."""
        cursor = 0
        items = self.items
        while True:
            end = len(items)
            while cursor < end:
                yield items[cursor]
                cursor += 1
            if self.closed and cursor >= len(items):
                return
            self._wait_sync(cursor)

    async def afollow(self) -> AsyncIterator[Any]:
        """Yield every item from the start, awaiting (never blocking the loop) while waiting."""
        cursor = 0
        items = self.items
        while True:
            end = len(items)
            while cursor < end:
                yield items[cursor]
                cursor += 1
            if self.closed and cursor >= len(items):
                return
            await self._wait_async(cursor)
