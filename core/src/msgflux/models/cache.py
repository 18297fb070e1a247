"""In-process LRU cache of model responses (``enable_cache=True``)."""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["ResponseCache", "request_cache_key"]


class ResponseCache:
    """A thread-safe LRU map from request keys to responses.

    A hit returns a deep copy, so a caller that mutates its response (``data``,
    ``metadata``, a tool-call aggregator it fills with results) cannot change what the
    next hit returns. Errors are never stored: only completed responses are.
    """

    def __init__(self, maxsize: int = 128) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"cache_size must be a positive integer, got {maxsize!r}")
        self.maxsize = maxsize
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, copy_of_response)`` on a hit, ``(False, None)`` on a miss."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self._hits += 1
                value = self._entries[key]
            else:
                self._misses += 1
                return False, None
        return True, copy.deepcopy(value)

    def set(self, key: str, value: Any) -> None:
        """Store a copy of ``value`` (the caller keeps its own object)."""
        stored = copy.deepcopy(value)
        with self._lock:
            self._entries[key] = stored
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def cache_info(self) -> dict[str, int]:
        """``{'hits', 'misses', 'maxsize', 'currsize'}``."""
        with self._lock:
            return {
                "hits": self._hits,
                "misses": self._misses,
                "maxsize": self.maxsize,
                "currsize": len(self._entries),
            }

    def cache_clear(self) -> None:
        """Drop every entry and reset the statistics."""
        with self._lock:
            self._entries.clear()
            self._hits = 0
            self._misses = 0


def _canonical(value: Any) -> Any:
    """A JSON-safe, order-stable stand-in for anything that changes an answer."""
    if isinstance(value, Mapping):
        return {
            str(key): _canonical(item)
            for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))
        }
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, type):
        # Schema identity, not just its name: two classes called "Answer" differ.
        return f"{value.__module__}.{value.__qualname__}#{id(value)}"
    if hasattr(value, "cache_key") and callable(value.cache_key):
        return _canonical(value.cache_key())
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"


def request_cache_key(**parts: Any) -> str:
    """A digest of every part of a request that changes the answer (never the API key)."""
    encoded = msgspec.json.encode(_canonical(parts))
    return hashlib.blake2b(encoded, digest_size=20).hexdigest()
