"""A gateway's response cache: one entry per request, whichever deployment answered it.

The key covers what changes the answer (the messages with the system prompt and prefilling,
the generation options, tools, the schema, which group the call starts with) and the
gateway's deployments, never a key or a timeout. A whole answer goes through the cache's
``fetch`` (lookup, single-flight, store); a stream replays a recorded one, and is recorded
once it ended cleanly (read to its end, no error), with its ``metadata.gateway``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from msgflux.models.response import ModelResponse, ModelStreamResponse

if TYPE_CHECKING:
    from msgflux.cache import ResponseCache

__all__ = ["GatewayCache"]

# Call options that change how the call is made, not what the answer is.
_TRANSPORT_OPTIONS = frozenset({"timeout", "extra_headers"})


class GatewayCache:
    """The cache of one gateway (``ModelGateway(cache=..., cache_ttl=...)``).

    Args:
        cache: The ``ResponseCache`` ``msgflux.cache.open_cache`` built from ``cache=``.
        ttl: Seconds an answer stays (``None``: the backend's default).
        identity: What names the gateway in the key (its deployments and groups).
    """

    def __init__(self, cache: ResponseCache, ttl: float | None, identity: Any) -> None:
        self.cache = cache
        self.ttl = ttl  # the gateway's; a call's cache_ttl= wins
        self._identity = identity

    def key(self, messages: Any, options: Mapping[str, Any], preference: str | None) -> str:
        """The entry of a call (``options`` as given to the gateway)."""
        from msgflux.cache import request_cache_key
        from msgflux.models.request import build_messages

        sent = {
            name: value.to_request() if name == "tool_definitions" else value
            for name, value in options.items()
            if name not in _TRANSPORT_OPTIONS
            and name not in ("generation_schema", "system_prompt", "prefilling", "cache_ttl")
        }
        sent["messages"] = build_messages(
            messages, options.get("system_prompt"), options.get("prefilling")
        )
        return request_cache_key(
            params=sent,
            portable=self.cache.portable_keys,
            schema=options.get("generation_schema"),
            gateway=self._identity,
            preference=preference,
        )

    def fetch(
        self, key: str, answer: Callable[[], ModelResponse], ttl: float | None = None
    ) -> ModelResponse:
        """The cached answer, or ``answer()`` (one call for identical requests in flight)."""
        response: ModelResponse = self.cache.fetch(key, answer, ttl or self.ttl)
        return response

    async def afetch(
        self, key: str, answer: Callable[[], Awaitable[ModelResponse]], ttl: float | None = None
    ) -> ModelResponse:
        """Async ``fetch``."""
        response: ModelResponse = await self.cache.afetch(key, answer, ttl or self.ttl)
        return response

    def replay(self, key: str, mode: str) -> ModelStreamResponse | None:
        """A recorded stream for ``key``, replayed; ``None`` on a miss."""
        from msgflux.cache import StreamRecord

        _, record = self.cache.get(key)
        if not isinstance(record, StreamRecord):
            return None
        replayed: ModelStreamResponse = record.replay(
            mode, keep_reasoning=True, reasoning_in_tool_call=False
        )
        return replayed

    def record(
        self, key: str, stream: ModelStreamResponse, ttl: float | None = None
    ) -> ModelStreamResponse:
        """Store ``stream`` once it has ended cleanly; return it."""

        def store(ended: ModelStreamResponse) -> None:
            if ended.error is None and not ended.closed_early:
                self.cache.set(key, ended, ttl or self.ttl)

        stream.add_done_callback(store)
        return stream
