"""``MemoryCache``: a least-recently-used store in this process's memory (the default)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

__all__ = ["MemoryCache"]


class MemoryCache:
    """A thread-safe LRU map from keys to encoded answers, private to one process.

    Args:
        maxsize: How many entries to keep; the least recently used goes first.
        ttl: Default lifetime of an entry in seconds (``None``: until evicted).
    """

    process_local = True

    def __init__(self, maxsize: int = 128, *, ttl: float | None = None) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"cache_size must be a positive integer, got {maxsize!r}")
        self.maxsize = maxsize
        self.ttl = ttl
        # key -> (value, expiry on the monotonic clock or None)
        self._entries: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, expires = entry
            if expires is not None and expires <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        expires = None if ttl is None else time.monotonic() + ttl
        with self._lock:
            self._entries[key] = (value, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"maxsize": self.maxsize, "currsize": len(self._entries)}

    def keys(self) -> list[str]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"MemoryCache(maxsize={self.maxsize}, ttl={self.ttl})"
