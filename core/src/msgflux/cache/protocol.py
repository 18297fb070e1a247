"""The cache backend protocol: where encoded answers are kept.

A backend is a small byte store. msgflux encodes every answer itself (``msgflux.cache.codec``,
msgspec, never pickle) and hands the backend opaque ``bytes`` under a 40-character hex key, so
a backend needs no knowledge of responses. Plug your own by passing any object with these
methods as ``cache=`` (or to ``ResponseCache(backend=...)``):

```python
class DictCache:
    def __init__(self):
        self.entries = {}

    def get(self, key):
        return self.entries.get(key)

    def set(self, key, value, ttl=None):
        self.entries[key] = value

    def delete(self, key):
        self.entries.pop(key, None)

    def clear(self):
        self.entries.clear()

    def stats(self):
        return {"currsize": len(self.entries)}
```

Rules a backend follows:

- Methods may be called from many threads at once.
- ``get`` returns ``None`` for a missing or expired entry. Any exception (a server down, a
  full disk) is the backend failing: msgflux logs it once and answers without the cache for
  a while; it never reaches the caller.
- ``ttl`` is in seconds; ``None`` means the backend's own default (``None``: no expiry).
- ``stats()`` returns at least ``currsize`` (entries held), and ``maxsize`` if bounded.

Optional members: ``aget(key)`` / ``aset(key, value, ttl)`` coroutines, used by async calls
instead of the blocking methods (a network backend should have them); ``close()``;
``failure_hint``, a sentence the failure warning ends with (what the user can check); and
``process_local = True`` for a store that lives in one process's memory, where keys may
name classes by identity (see ``msgflux.cache.keys``).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["CacheBackend"]


@runtime_checkable
class CacheBackend(Protocol):
    """What ``cache=`` accepts as a custom store (see the module docstring)."""

    def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or ``None``."""
        ...

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (``None``: the default)."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when it is absent)."""
        ...

    def clear(self) -> None:
        """Remove every entry this backend holds for msgflux."""
        ...

    def stats(self) -> dict[str, Any]:
        """At least ``{"currsize": entries}``; ``maxsize`` when bounded."""
        ...
