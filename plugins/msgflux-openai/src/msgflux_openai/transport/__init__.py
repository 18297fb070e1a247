"""msgflux's fast transport for OpenAI-compatible chat completion servers.

A drop-in for the ``openai`` SDK's clients as far as msgflux needs them
(``chat.completions.create(**params)``, sync and async, plain and streamed), built for
client-side speed on :mod:`msgflux.http` (keep-alive pools over plain sockets and asyncio
protocols, llhttp framing): request bodies encoded and responses and stream events decoded
with msgspec into OpenAI-shaped structs (:mod:`msgflux_openai.transport.structs`).

Errors (all from :mod:`msgflux.errors`, with ``status``, the provider's ``message``,
``body``, ``headers``, ``request_id`` and ``provider``):

| failure | exception |
|---|---|
| HTTP 401, 403 | ``AuthenticationError`` |
| HTTP 400, 404, 413, 422 | ``BadRequestError`` |
| HTTP 429 | ``RateLimitError`` (``retry_after`` from ``retry-after-ms`` / ``Retry-After``) |
| other HTTP statuses (408, 409, 5xx...) | ``ProviderError`` |
| refused, reset, DNS, TLS, truncated or invalid HTTP | ``ProviderConnectionError`` |
| a phase of the timeout ran out (``error.phase``) | ``RequestTimeoutError`` |
| an undecodable 200 body or event, a malformed SSE line or gzip body | ``ResponseDecodeError`` |
| an error object in a 200 body or in a stream | by its ``code``, else ``ProviderError`` |

The transport never resends a request; msgflux's retry policy, in the model layer, decides.

Proxies: an ``http://`` proxy from the environment is used (CONNECT tunnel for
``https://``). Not supported (the ``openai`` SDK transport is chosen for these by
``transport="auto"``): other proxy schemes, an injected ``openai`` client. Never: HTTP/2,
redirects, the SDK's own retries.

Importing this package is cheap: the HTTP and decoding modules load on first
:func:`create_clients`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    from msgflux.models.clients import ChatClients

__all__ = ["DEFAULT_MAX_CONNECTIONS", "create_clients"]

DEFAULT_MAX_CONNECTIONS = 1000  # the openai SDK's default pool limit


def create_clients(
    *,
    base_url: str,
    api_key: str | None,
    timeout: Any = 600.0,
    default_headers: Mapping[str, str] | None = None,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    provider: str = "openai",
    ssl_context: ssl.SSLContext | None = None,
    verify: bool | str = True,
    proxy: str | None = None,
    trust_env: bool = True,
    transport: Any = None,
) -> ChatClients:
    """Build the sync and async fast clients for one OpenAI-compatible endpoint.

    Args:
        base_url: The API root, e.g. ``"https://api.openai.com/v1"``; requests go to
            ``{base_url}/chat/completions``. A query string in it is kept on every request.
        api_key: Sent as ``Authorization: Bearer <key>``; ``None`` or ``""`` sends no such
            header (local servers need none).
        timeout: A :class:`msgflux.Timeout`, or seconds for connecting and for each read
            (so also between two stream chunks); ``None`` waits forever. A call's
            ``timeout=`` overrides it.
        default_headers: Headers sent with every request (they override the defaults,
            names compared case-insensitively).
        max_connections: Cap on open connections per client (per event loop for the
            async client); a request finding none free waits up to the connect timeout.
        provider: The msgflux provider name reported in errors.
        ssl_context: TLS settings for ``https://`` (client certificate...), used as given.
        verify: ``True``, ``False`` or a CA bundle path (ignored with ``ssl_context``).
        proxy: An ``http://`` proxy URL; by default the environment's (``trust_env``).
        trust_env: Read the proxy from ``HTTPS_PROXY`` / ``NO_PROXY``... variables.
        transport: A :class:`msgflux.http.MockTransport` (tests) instead of sockets.

    Returns:
        ``ChatClients(client=SyncClient, aclient=AsyncClient, close=..., aclose=...)``:
        ``close()`` closes both clients' connections from anywhere; ``await aclose()`` does
        the same from async code and returns once this loop's sockets are closed.

    Raises:
        ValueError: Invalid ``base_url``, header values, proxy or limits.
    """
    from msgflux.http import Client
    from msgflux.models.clients import ChatClients
    from msgflux_openai.transport._aio import AsyncClient
    from msgflux_openai.transport._sync import SyncClient

    headers: dict[str, Any] = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    if default_headers:
        lower = {name.lower(): name for name in headers}
        for name, value in default_headers.items():
            old = lower.get(name.lower())
            if old is not None:
                del headers[old]
            headers[name] = value
    http = Client(
        base_url,
        headers=headers,
        timeout=timeout,
        provider=provider,
        verify=verify,
        ssl_context=ssl_context,
        proxy=proxy,
        trust_env=trust_env,
        max_connections=max_connections,
        transport=transport,
    )
    client = SyncClient(http)
    aclient = AsyncClient(http)
    return ChatClients(client=client, aclient=aclient, close=http.close, aclose=http.aclose)


_LAZY = {
    "AsyncClient": "_aio",
    "AsyncStream": "_aio",
    "SyncClient": "_sync",
    "SyncStream": "_sync",
    "ChatCompletion": "structs",
    "ChatCompletionAudio": "structs",
    "ChatCompletionChunk": "structs",
    "ChatCompletionMessage": "structs",
    "Choice": "structs",
    "ChoiceDelta": "structs",
    "ChoiceDeltaToolCall": "structs",
    "ChoiceDeltaToolCallFunction": "structs",
    "ChunkChoice": "structs",
    "CompletionUsage": "structs",
    "Function": "structs",
    "ToolCall": "structs",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*__all__, *_LAZY])
