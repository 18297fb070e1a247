"""``RedisCache``: answers in a Redis server, shared by every process and machine using it.

Needs the ``redis`` client (``pip install 'msgflux[redis]'``), imported when a ``RedisCache``
is made, never by ``import msgflux``. Entries are plain Redis strings under a key prefix,
with a Redis expiry when a TTL applies; Redis's own ``maxmemory`` policy bounds the size
(``allkeys-lru`` makes it an LRU). ``clear()`` removes only keys under the prefix.

Timeouts are short (0.25 s by default) and the client does not retry: a Redis that is down
costs one short wait, after which ``ResponseCache`` leaves it alone for a while and answers
without it. Async calls run the blocking client on the event loop's default executor, so
they never block the loop and work on any loop.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["RedisCache", "redact_url"]


def redact_url(url: str) -> str:
    """``url`` without its password (for logs, ``repr`` and ``serialize()``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{user}@{host}" if user else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisCache:
    """Encoded answers in Redis (``cache="redis://host:6379/0"``).

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for TLS, or
            ``unix:///path/to/socket``.
        prefix: Prepended to every key; ``clear()`` removes only keys under it.
        ttl: Default lifetime of an entry in seconds (``None``: no expiry).
        timeout: Seconds to connect and to wait for each reply.
        client: A ready ``redis.Redis`` to use instead of one built from ``url``.
    """

    process_local = False

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "msgflux:cache:",
        ttl: float | None = None,
        timeout: float = 0.25,
        client: Any = None,
    ) -> None:
        if client is None:
            client = _client(url, timeout)
        self.url = redact_url(url)
        self.failure_hint = f"is the Redis server at {self.url} up?"
        self.prefix = prefix
        self.ttl = ttl
        self.timeout = timeout
        self._client = client

    def get(self, key: str) -> bytes | None:
        value = self._client.get(self.prefix + key)
        return bytes(value) if value is not None else None

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        milliseconds = max(1, round(ttl * 1000)) if ttl is not None else None
        self._client.set(self.prefix + key, value, px=milliseconds)

    def delete(self, key: str) -> None:
        self._client.delete(self.prefix + key)

    def clear(self) -> None:
        batch: list[bytes] = []
        for name in self._client.scan_iter(match=self._pattern(), count=500):
            batch.append(name)
            if len(batch) >= 500:
                self._client.unlink(*batch)
                batch.clear()
        if batch:
            self._client.unlink(*batch)

    def stats(self) -> dict[str, Any]:
        count = sum(1 for _ in self._client.scan_iter(match=self._pattern(), count=500))
        return {"maxsize": None, "currsize": count, "url": self.url, "prefix": self.prefix}

    async def aget(self, key: str) -> bytes | None:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.get, key)

    async def aset(self, key: str, value: bytes, ttl: float | None = None) -> None:
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self.set, key, value, ttl)

    def close(self) -> None:
        """Close the client's connections (it reconnects on the next call)."""
        self._client.close()

    def _pattern(self) -> str:
        # Glob characters in the prefix match themselves.
        return "".join(f"[{c}]" if c in "*?[]\\" else c for c in self.prefix) + "*"

    def __repr__(self) -> str:
        return f"RedisCache({self.url!r}, prefix={self.prefix!r})"


def _client(url: str, timeout: float) -> Any:
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError:
        raise ImportError(
            "a Redis cache needs the redis client: pip install 'msgflux[redis]'"
        ) from None
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),  # fail fast: ResponseCache bypasses and retries later
    )
