"""``ResponseCache``: a model's (or a gateway's) answers, kept in a backend.

It puts the pieces together: a backend stores bytes (``protocol``), the codec turns answers
into bytes and back (``codec``), identical calls in flight share one request
(``singleflight``), and a failing backend is logged once and bypassed (``failures``).

The entry point for anything that answers requests is ``fetch`` / ``afetch``:

```python
cache = ResponseCache(backend=SQLiteCache("answers.sqlite3"))
response = cache.fetch(key, lambda: send_and_decode(request), ttl=3600)
response = await cache.afetch(key, lambda: asend_and_decode(request))
```

They look ``key`` up; on a miss exactly one caller per key (in this process) runs
``compute``, the others wait for its answer; the answer is stored, an error is delivered to
every waiter and never stored. Every caller gets its own copy: mutating a response changes
neither the stored entry nor another caller's response.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from msgflux.cache import codec
from msgflux.cache.codec import RecordError, StreamRecord
from msgflux.cache.failures import FailureGuard
from msgflux.cache.memory import MemoryCache
from msgflux.cache.protocol import CacheBackend
from msgflux.cache.singleflight import Flight, SingleFlight
from msgflux.models.response import ModelResponse, ModelStreamResponse
from msgflux.telemetry import state as _telemetry

__all__ = ["ResponseCache"]

_BACKEND_METHODS = ("get", "set", "delete", "clear", "stats")


#: How telemetry names the built-in backends (a user's backend by its class name).
_KINDS = {"MemoryCache": "memory", "SQLiteCache": "disk", "RedisCache": "redis"}


class ResponseCache:
    """Answers by request key, in a backend, with single-flight and failure bypass.

    Args:
        maxsize: Entries of the in-memory LRU built when no ``backend`` is given.
        backend: Where entries live: ``MemoryCache``, ``SQLiteCache``, ``RedisCache`` or any
            object with ``get``, ``set``, ``delete``, ``clear`` and ``stats``
            (``msgflux.cache.CacheBackend``).
        retry_after: Seconds a backend that raised is left alone before it is tried again.
    """

    def __init__(
        self,
        maxsize: int = 128,
        *,
        backend: CacheBackend | None = None,
        retry_after: float = 30.0,
    ) -> None:
        if backend is None:
            backend = MemoryCache(maxsize)
        missing = [name for name in _BACKEND_METHODS if not callable(getattr(backend, name, None))]
        if missing:
            raise TypeError(
                f"a cache backend needs the methods {', '.join(_BACKEND_METHODS)}; "
                f"{type(backend).__name__} lacks {', '.join(missing)} "
                "(see msgflux.cache.CacheBackend)"
            )
        self.backend = backend
        #: Whether keys must be the same in every process (a store shared between processes).
        self.portable_keys = not getattr(backend, "process_local", False)
        self._guard = FailureGuard(repr(backend), retry_after, getattr(backend, "failure_hint", ""))
        self._kind = _KINDS.get(type(backend).__name__, type(backend).__name__)
        self._flights = SingleFlight()
        self._aget = getattr(backend, "aget", None)
        self._aset = getattr(backend, "aset", None)
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    # -- the entry point -----------------------------------------------------------------------

    def fetch(
        self, key: str, compute: Callable[[], ModelResponse], ttl: float | None = None
    ) -> ModelResponse:
        """The answer under ``key``; on a miss, ``compute()``'s, stored for ``ttl`` seconds.

        Identical calls at the same time (threads, or a mix of threads and tasks) run
        ``compute`` once; the others get a copy of its answer, or its exception.
        """
        response = self._response(self._read(key))
        if response is not None:  # a hit needs no flight
            self._count(hit=True)
            return response
        while True:
            flight, leader = self._flights.join(key)
            if leader:
                return self._lead(key, flight, compute, ttl)
            if _event_loop_running():
                # Blocking this thread could block the very loop the leader runs on.
                return self._lead(key, None, compute, ttl)
            flight.done.wait()
            if not flight.abandoned:
                shared = self._shared(flight)
                return shared if shared is not None else compute()

    async def afetch(
        self, key: str, compute: Callable[[], Awaitable[ModelResponse]], ttl: float | None = None
    ) -> ModelResponse:
        """Async ``fetch``: ``compute`` returns an awaitable; waiting never blocks the loop."""
        response = self._response(await self._aread(key))
        if response is not None:
            self._count(hit=True)
            return response
        while True:
            flight, leader = self._flights.join(key)
            if leader:
                return await self._alead(key, flight, compute, ttl)
            await flight.done.wait_async()
            if not flight.abandoned:
                shared = self._shared(flight)
                return shared if shared is not None else await compute()

    def _lead(
        self,
        key: str,
        flight: Flight | None,
        compute: Callable[[], ModelResponse],
        ttl: float | None,
    ) -> ModelResponse:
        try:
            # Read again: an identical call may have stored its answer since our miss.
            payload = self._read(key)
            response = self._response(payload)
            self._count(hit=response is not None)
            if response is None:
                response = compute()
                payload = self._encode(response)
                if payload is not None:
                    self._write(key, payload, ttl)
        except BaseException as exc:
            self._land_failed(key, flight, exc)
            raise
        if flight is not None:
            self._flights.land(key, flight, value=payload)
        return response

    async def _alead(
        self,
        key: str,
        flight: Flight,
        compute: Callable[[], Awaitable[ModelResponse]],
        ttl: float | None,
    ) -> ModelResponse:
        try:
            payload = await self._aread(key)
            response = self._response(payload)
            self._count(hit=response is not None)
            if response is None:
                response = await compute()
                payload = self._encode(response)
                if payload is not None:
                    await self._awrite(key, payload, ttl)
        except BaseException as exc:
            self._land_failed(key, flight, exc)
            raise
        self._flights.land(key, flight, value=payload)
        return response

    def _land_failed(self, key: str, flight: Flight | None, exc: BaseException) -> None:
        if flight is None:
            return
        if isinstance(exc, Exception):
            self._flights.land(key, flight, error=exc)
        else:  # cancelled or interrupted: no outcome, the followers start again
            self._flights.land(key, flight, abandoned=True)

    def _shared(self, flight: Flight) -> ModelResponse | None:
        """A follower's copy of the leader's answer (its error, raised); ``None`` when the
        answer could not be encoded: the follower then computes its own."""
        if flight.error is not None:
            raise flight.error
        response = self._response(flight.value)
        if response is not None:
            self._count(hit=True)
        return response

    # -- entries -------------------------------------------------------------------------------

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` on a hit, ``(False, None)`` on a miss; counted in the stats.

        ``value`` is a fresh ``ModelResponse``, or a ``StreamRecord`` for a stream's key.
        """
        value = self._decoded(self._read(key))
        self._count(hit=value is not None)
        return value is not None, value

    async def aget(self, key: str) -> tuple[bool, Any]:
        """Async ``get`` (a network backend's own async client, if it has one)."""
        value = self._decoded(await self._aread(key))
        self._count(hit=value is not None)
        return value is not None, value

    def set(
        self, key: str, value: ModelResponse | ModelStreamResponse, ttl: float | None = None
    ) -> None:
        """Store a copy of ``value`` (a response, or a stream that finished without error)."""
        payload = self._encode(value)
        if payload is not None:
            self._write(key, payload, ttl)

    async def aset(
        self, key: str, value: ModelResponse | ModelStreamResponse, ttl: float | None = None
    ) -> None:
        """Async ``set``."""
        payload = self._encode(value)
        if payload is not None:
            await self._awrite(key, payload, ttl)

    # -- statistics and maintenance --------------------------------------------------------------

    @property
    def maxsize(self) -> int | None:
        """The backend's bound on entries, if it has one."""
        return self._stats().get("maxsize")

    def cache_info(self) -> dict[str, Any]:
        """``{'hits', 'misses', 'maxsize', 'currsize'}``; hits and misses of this process.

        A call answered by another caller's identical request in flight counts as a hit.
        """
        stats = self._stats()
        with self._lock:
            hits, misses = self._hits, self._misses
        return {
            "hits": hits,
            "misses": misses,
            "maxsize": stats.get("maxsize"),
            "currsize": stats.get("currsize", 0),
        }

    def stats(self) -> dict[str, Any]:
        """``cache_info()`` plus the backend's own statistics and the failures seen."""
        return {
            **self._stats(),
            **self.cache_info(),
            "backend": self._guard.name,
            "in_flight": len(self._flights),
            "waiting": self._flights.waiting(),
            "failures": self._guard.failures,
        }

    def cache_clear(self) -> None:
        """Drop every entry (of a shared backend: for every process) and reset the stats."""
        self._call("clear", self.backend.clear)
        with self._lock:
            self._hits = self._misses = 0

    def close(self) -> None:
        """Release the backend's connections (for backends that hold some)."""
        close = getattr(self.backend, "close", None)
        if callable(close):
            self._call("close", close)

    def __len__(self) -> int:
        return int(self._stats().get("currsize", 0))

    def __repr__(self) -> str:
        info = self.cache_info()
        return (
            f"ResponseCache({self._guard.name}, currsize={info['currsize']}, "
            f"hits={info['hits']}, misses={info['misses']})"
        )

    # -- the backend, guarded ------------------------------------------------------------------

    def _count(self, *, hit: bool) -> None:
        with self._lock:
            if hit:
                self._hits += 1
            else:
                self._misses += 1
        if hit and _telemetry.observer is not None:  # msgflux.instrument(): a span event
            from msgflux.telemetry import events

            events.cache_hit(self._kind)

    def _call(self, kind: str, method: Callable[..., Any], *args: Any) -> Any:
        if not self._guard.available:
            return None
        try:
            result = method(*args)
        except Exception as exc:  # any backend failure: logged once, bypassed
            self._guard.outage(kind, exc)
            return None
        self._guard.recovered()
        return result

    async def _acall(self, kind: str, method: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        if not self._guard.available:
            return None
        try:
            result = await method(*args)
        except Exception as exc:
            self._guard.outage(kind, exc)
            return None
        self._guard.recovered()
        return result

    def _stats(self) -> dict[str, Any]:
        stats = self._call("stats", self.backend.stats)
        return stats if isinstance(stats, dict) else {}

    def _read(self, key: str) -> bytes | None:
        return self._call("get", self.backend.get, key)  # type: ignore[no-any-return]

    async def _aread(self, key: str) -> bytes | None:
        if self._aget is None:
            return self._read(key)
        return await self._acall("get", self._aget, key)  # type: ignore[no-any-return]

    def _write(self, key: str, payload: bytes, ttl: float | None) -> None:
        self._call("set", self.backend.set, key, payload, ttl)

    async def _awrite(self, key: str, payload: bytes, ttl: float | None) -> None:
        if self._aset is None:
            self._write(key, payload, ttl)
        else:
            await self._acall("set", self._aset, key, payload, ttl)

    # -- the codec, guarded --------------------------------------------------------------------

    def _decoded(self, payload: bytes | None) -> ModelResponse | StreamRecord | None:
        if payload is None:
            return None
        try:
            return codec.decode(payload)
        except RecordError as exc:
            self._guard.bad_value("decode", exc)
            return None

    def _response(self, payload: bytes | None) -> ModelResponse | None:
        value = self._decoded(payload)
        return value if isinstance(value, ModelResponse) else None

    def _encode(self, value: ModelResponse | ModelStreamResponse) -> bytes | None:
        try:
            if isinstance(value, ModelStreamResponse):
                return codec.encode_stream(value)
            return codec.encode(value)
        except RecordError as exc:
            self._guard.bad_value("encode", exc)
            return None


def _event_loop_running() -> bool:
    """Whether this thread runs an event loop (asyncio is not imported just to ask)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio._get_running_loop() is not None
