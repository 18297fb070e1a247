"""The transport client protocol the pipeline talks to.

A provider's ``initialize_client`` hook returns ``ChatClients``: a sync and an async client.
A client speaks one of two protocols:

- **the neutral one** (``ChatTransport`` / ``AsyncChatTransport``), for any wire format:
  ``send(params)`` returns the provider's whole answer and ``stream(params)`` its stream,
  where ``params`` is exactly what the provider's ``adapt_params`` produced (the plugin
  chose its shape). The answer and the stream's chunks go, as they are, to the provider's
  ``process_output``. ``msgflux-anthropic`` is built this way.
- **OpenAI's**, ``chat.completions.create(**params)`` (``SyncChatClient`` /
  ``AsyncChatClient``): the ``openai`` SDK's ``OpenAI`` / ``AsyncOpenAI`` and msgflux's own
  fast transport for OpenAI-compatible servers; also what a ``@register_model`` class builds
  in its own ``_initialize`` (docs/plugins.md, "A custom in-process provider", stage 3).
  ``params`` are the SDK's keyword arguments (``stream=True`` asks for a stream).

A client with ``send`` is called through the neutral protocol; any other through OpenAI's.
A stream is an iterable of chunks with ``close()`` (sync), or an async iterable with an
awaitable ``aclose()`` or ``close()`` (async). The pipeline always closes a stream it opened,
also when the consumer stops early.

Rate limits: a transport that has the response headers may keep the provider's rate-limit
headers (``msgflux.utils.rate_limits.rate_limit_headers``) as ``_msgflux_rate_limit`` on the
answer it returns, and as ``rate_limit`` on a stream; the pipeline puts them in
``response.metadata.rate_limit``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

__all__ = [
    "AsyncChatClient",
    "AsyncChatTransport",
    "ChatClients",
    "ChatTransport",
    "SyncChatClient",
]


class _Completions(Protocol):
    def create(self, **params: Any) -> Any: ...


class _Chat(Protocol):
    @property
    def completions(self) -> _Completions: ...


class SyncChatClient(Protocol):
    """Anything with ``chat.completions.create(**params)`` returning a completion or a stream."""

    @property
    def chat(self) -> _Chat: ...


class AsyncChatClient(Protocol):
    """Anything with ``await chat.completions.create(**params)``."""

    @property
    def chat(self) -> _Chat: ...


class ChatTransport(Protocol):
    """The neutral sync client: ``send(params)`` and ``stream(params)``, any wire format."""

    def send(self, params: dict[str, Any]) -> Any:
        """Send ``params`` and return the whole answer (``process_output`` decodes it)."""
        ...

    def stream(self, params: dict[str, Any]) -> Any:
        """Send ``params`` and return the stream: an iterable of chunks with ``close()``."""
        ...


class AsyncChatTransport(Protocol):
    """The neutral async client: ``await send(params)`` and ``await stream(params)``."""

    async def send(self, params: dict[str, Any]) -> Any:
        """Send ``params`` and return the whole answer."""
        ...

    async def stream(self, params: dict[str, Any]) -> Any:
        """Send ``params`` and return an async iterable of chunks with ``aclose()``."""
        ...


class ChatClients(NamedTuple):
    """The pair of clients one model instance uses.

    Attributes:
        client: Used by ``model(...)`` (sync calls and the sync stream thread).
        aclient: Used by ``await model.acall(...)`` (async calls and stream tasks).
        close: Optional callable releasing both (connection pools); called by
            ``model.close()``.
        aclose: Optional coroutine function doing the same from async code (clients bound
            to an event loop close there); called by ``await model.aclose()``.
    """

    client: ChatTransport | SyncChatClient | None
    aclient: AsyncChatTransport | AsyncChatClient | None
    close: Any = None
    aclose: Any = None
