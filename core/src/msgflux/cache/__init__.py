"""Response caches: in memory, on disk (SQLite), in Redis, or in a store of your own.

A model caches with ``cache=`` (``"memory"``, ``"disk"``, a path, ``"redis://..."``, a
backend object; see ``msgflux.cache.spec``) or the older ``enable_cache=True`` (memory).
Everything is built from small pieces, one per module:

- ``protocol``: ``CacheBackend``, the byte store a backend implements;
- ``memory``, ``sqlite``, ``redis``: the built-in backends;
- ``codec``: answers and finished streams <-> versioned msgspec records (never pickle);
- ``keys``: ``request_cache_key``, what makes two requests the same;
- ``singleflight``: identical requests in flight share one computation;
- ``failures``: a failing backend is logged once and bypassed;
- ``response_cache``: ``ResponseCache``, which puts them together (``fetch`` / ``afetch``);
- ``spec``: ``open_cache``, the ``cache=`` option.

``SQLiteCache`` and ``RedisCache`` load on first use (``sqlite3`` and ``redis`` are never
imported by ``import msgflux``).
"""

from __future__ import annotations

import importlib
from typing import Any

from msgflux.cache.codec import RecordError, StreamRecord
from msgflux.cache.keys import FORMAT_VERSION, request_cache_key
from msgflux.cache.memory import MemoryCache
from msgflux.cache.protocol import CacheBackend
from msgflux.cache.response_cache import ResponseCache
from msgflux.cache.spec import open_cache

__all__ = [
    "FORMAT_VERSION",
    "CacheBackend",
    "MemoryCache",
    "RecordError",
    "RedisCache",
    "ResponseCache",
    "SQLiteCache",
    "StreamRecord",
    "open_cache",
    "request_cache_key",
]

_LAZY = {"SQLiteCache": "msgflux.cache.sqlite", "RedisCache": "msgflux.cache.redis"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
