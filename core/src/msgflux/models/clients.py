"""The transport client protocol the pipeline talks to.

A provider's ``initialize_client`` hook returns ``ChatClients``: a sync and an async object
that expose ``chat.completions.create(**params)``. The ``openai`` SDK's ``OpenAI`` /
``AsyncOpenAI`` satisfy it, and so does msgflux's own fast transport; so must the clients a
``@register_model`` class builds in its own ``_initialize`` (docs/plugins.md, "A custom
in-process provider", stage 3). Results are read by
attribute in OpenAI's shape (``.choices[0].message.content``, ``.usage``...).

Rate limits: a transport that has the response headers may keep the provider's rate-limit
headers (``msgflux.utils.rate_limits.rate_limit_headers``) as ``_msgflux_rate_limit`` on the
completion it returns, and as ``rate_limit`` on a stream; the pipeline puts them in
``response.metadata.rate_limit``.

With ``stream=True`` the sync ``create`` returns an iterable of chunks with ``close()``; the
async one returns an async iterable with an awaitable ``close()``. The pipeline always
closes a stream it opened, also when the consumer stops early.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

__all__ = ["AsyncChatClient", "ChatClients", "SyncChatClient"]


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

    client: SyncChatClient | None
    aclient: AsyncChatClient | None
    close: Any = None
    aclose: Any = None
