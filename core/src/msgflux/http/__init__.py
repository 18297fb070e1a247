"""msgflux's HTTP layer: one client for every wire format.

A provider plugin builds a :class:`Client` for its API's base URL, with its own
authentication headers, and sends requests with it; the wire format (request bodies,
response structs) stays in the plugin::

    from msgflux.http import Client, Timeout

    client = Client(
        "https://api.anthropic.com/v1",
        headers={"x-api-key": key, "anthropic-version": "2023-06-01",
                 "content-type": "application/json"},
        timeout=Timeout(connect=10, read=60),
        provider="anthropic",
    )
    status, headers, body = client.request("POST", "/messages", body_bytes)
    with client.stream("POST", "/messages", body_bytes) as events:
        for event in events:          # ServerSentEvent(event="content_block_delta", data=b"{...}")
            ...

What it is made of:

- HTTP/1.1 over keep-alive pools of plain sockets (sync, thread-safe) and
  ``asyncio.Protocol`` connections (async, one pool per event loop); TLS through ``ssl``;
  ``http://`` proxies from the environment (CONNECT tunnels for ``https://``);
- responses framed by llhttp (``httptools``, strict mode), bodies decompressed (gzip,
  deflate), event streams read by :class:`SSEReader`;
- one :class:`Timeout` model (connect, read gap, first token, total deadline) for sync,
  async and streams;
- errors from :mod:`msgflux.errors` only, the cause chained: non-2xx statuses by
  :func:`error_from_response`, a timeout as ``RequestTimeoutError`` naming its phase, a
  broken connection or invalid HTTP as ``ProviderConnectionError``, a broken body as
  ``ResponseDecodeError``;
- a request is written once: the client never resends it (a pooled connection found
  closed *before* use is replaced; nothing else). Retrying is the caller's retry policy;
- :class:`MockTransport` beside it, for unit tests without sockets.

Importing this package is cheap: the socket and asyncio modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux.http._timeout import Timeout

# What type checkers see for the names loaded on first use (below): the real classes and
# functions, so that a plugin built on this layer is checked against their signatures.
if TYPE_CHECKING:
    from msgflux.http._aio import AsyncEventStream
    from msgflux.http._client import DEFAULT_TIMEOUT, Client
    from msgflux.http._mock import MockTransport, Request
    from msgflux.http._proxy import proxy_from_env
    from msgflux.http._response import Response
    from msgflux.http._sse import ServerSentEvent, SSEReader
    from msgflux.http._status import error_from_payload, error_from_response, provider_message
    from msgflux.http._sync import EventStream

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncEventStream",
    "Client",
    "EventStream",
    "MockTransport",
    "Request",
    "Response",
    "SSEReader",
    "ServerSentEvent",
    "Timeout",
    "error_from_payload",
    "error_from_response",
    "provider_message",
    "proxy_from_env",
]

_LAZY = {
    "DEFAULT_TIMEOUT": "_client",
    "Client": "_client",
    "EventStream": "_sync",
    "AsyncEventStream": "_aio",
    "MockTransport": "_mock",
    "Request": "_mock",
    "Response": "_response",
    "SSEReader": "_sse",
    "ServerSentEvent": "_sse",
    "error_from_payload": "_status",
    "error_from_response": "_status",
    "provider_message": "_status",
    "proxy_from_env": "_proxy",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
