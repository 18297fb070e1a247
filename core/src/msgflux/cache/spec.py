"""The ``cache=`` option of a model: from what a user writes to a ``ResponseCache``.

| ``cache=`` | backend |
|---|---|
| ``None`` (default) | ``enable_cache=True`` -> memory, else no cache |
| ``False`` | no cache |
| ``True``, ``"memory"`` | ``MemoryCache(cache_size)``: this model's own LRU |
| ``"disk"`` | ``SQLiteCache()`` in ``$XDG_CACHE_HOME/msgflux`` (``~/.cache/msgflux``) |
| ``"disk:PATH"``, ``"sqlite:///PATH"``, a ``Path``, ``"/..."``, ``"./..."``, ``"~/..."`` | file |
| ``"redis://..."``, ``"rediss://..."``, ``"unix://..."`` | ``RedisCache(url)`` |
| a backend object (``get``, ``set``, ``delete``, ``clear``, ``stats``) | that backend |
| a ``ResponseCache`` | that cache (shared with whoever else uses it) |

``sqlite:///`` follows SQLAlchemy: ``sqlite:///answers.db`` is relative, ``sqlite:////tmp/a.db``
absolute. Models of one process that name the same disk file or Redis URL share one
``ResponseCache`` (one connection, one set of statistics, single-flight across them).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from msgflux.cache.response_cache import ResponseCache

if TYPE_CHECKING:  # pathlib loads when a disk cache is asked for: `import msgflux` stays light
    from pathlib import Path

__all__ = ["open_cache"]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_PATH_PREFIXES = ("/", "./", "../", "~")

_shared: weakref.WeakValueDictionary[tuple[Any, ...], ResponseCache] = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def open_cache(
    cache: Any, *, enable_cache: bool = False, cache_size: int = 128, size_given: bool = False
) -> ResponseCache | None:
    """The ``ResponseCache`` a model's ``cache=`` / ``enable_cache=`` options ask for.

    Args:
        cache: The ``cache=`` option (see the module docstring).
        enable_cache: The older switch: ``True`` alone means the in-memory cache.
        cache_size: Entries of the memory cache; of a disk cache when ``size_given``.
        size_given: Whether the user set ``cache_size`` (a disk cache is bounded in bytes
            otherwise).

    Raises:
        ValueError: An unknown spelling, or options that contradict each other.
    """
    if cache is None:
        cache = enable_cache
    elif cache is False and enable_cache:
        raise ValueError("`enable_cache=True` contradicts `cache=False`: drop one of them")
    if cache is False:
        return None
    if cache is True or cache == "memory":
        return ResponseCache(cache_size)
    if isinstance(cache, ResponseCache):
        return cache
    if isinstance(cache, str | os.PathLike):
        return _from_text(cache, cache_size if size_given else None)
    if all(
        callable(getattr(cache, name, None)) for name in ("get", "set", "delete", "clear", "stats")
    ):
        return ResponseCache(backend=cache)
    raise ValueError(_USAGE.format(got=repr(cache)))


_USAGE = (
    "`cache` must be True or 'memory' (in-process), 'disk' or 'disk:PATH' or "
    "'sqlite:///PATH' or a path (SQLite file), 'redis://HOST:PORT/DB' (Redis), or an object "
    "with get/set/delete/clear/stats (see msgflux.cache.CacheBackend); got {got}"
)


def _from_text(cache: str | os.PathLike[str], max_entries: int | None) -> ResponseCache:
    text = os.fspath(cache)
    if text.startswith(_REDIS_SCHEMES):
        if max_entries is not None:
            raise ValueError(
                "`cache_size` does not apply to a Redis cache: Redis bounds its memory itself "
                "(maxmemory, with maxmemory-policy allkeys-lru)"
            )
        return _shared_cache(("redis", text), lambda: _redis(text))
    path = _sqlite_path(cache, text)
    if path is None:
        raise ValueError(_USAGE.format(got=repr(cache)))
    key = ("disk", str(path.expanduser().absolute()), max_entries)
    return _shared_cache(key, lambda: _sqlite(path, max_entries))


def _sqlite_path(cache: str | os.PathLike[str], text: str) -> Path | None:
    """The SQLite file ``cache`` names; ``None`` if it names none."""
    from pathlib import Path

    if text == "disk":
        from msgflux.cache.sqlite import default_cache_path

        return default_cache_path()
    for prefix in ("disk:", "sqlite:///"):
        if text.startswith(prefix) and len(text) > len(prefix):
            return Path(text[len(prefix) :])
    if not isinstance(cache, str) or text.startswith(_PATH_PREFIXES):
        return Path(text)
    return None


def _shared_cache(key: tuple[Any, ...], build: Any) -> ResponseCache:
    with _shared_lock:
        cache = _shared.get(key)
        if cache is None:
            cache = _shared[key] = build()
        return cache


def _sqlite(path: Path, max_entries: int | None) -> ResponseCache:
    from msgflux.cache.sqlite import SQLiteCache

    return ResponseCache(backend=SQLiteCache(path, max_entries=max_entries))


def _redis(url: str) -> ResponseCache:
    from msgflux.cache.redis import RedisCache

    return ResponseCache(backend=RedisCache(url))
