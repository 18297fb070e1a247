"""msgflux's fast transport for OpenAI-compatible chat completion servers.

A drop-in for the ``openai`` SDK's clients as far as msgflux needs them
(``chat.completions.create(**params)``, sync and async, plain and streamed), built for
client-side speed: a small HTTP/1.1 client over plain sockets (sync) and asyncio protocols
(async), with keep-alive pooling and TLS through the standard ``ssl`` module; request
bodies encoded and responses and SSE events decoded with msgspec into OpenAI-shaped
structs (:mod:`msgflux_openai.transport.structs`). Errors are :mod:`msgflux.errors`.

Errors (all from :mod:`msgflux.errors`, with ``status``, the provider's ``message``,
``body``, ``headers``, ``request_id`` and ``provider``):

| failure | exception |
|---|---|
| HTTP 401, 403 | ``AuthenticationError`` |
| HTTP 400, 404, 413, 422 | ``BadRequestError`` |
| HTTP 429 | ``RateLimitError`` (``retry_after`` from ``retry-after-ms`` / ``Retry-After``) |
| other HTTP statuses (408, 409, 5xx...) | ``ProviderError`` |
| refused, reset, DNS, TLS, truncated or non-HTTP answer | ``ProviderConnectionError`` |
| no bytes within ``timeout`` (also between stream chunks) | ``RequestTimeoutError`` |
| an undecodable 200 body or stream event, a malformed SSE line | ``ResponseDecodeError`` |
| an error object in a 200 body or in a stream | by its ``code``, else ``ProviderError`` |

The transport never retries a request (msgflux's model layer does). The one exception is
connection reuse hygiene: a pooled keep-alive connection that turns out closed before any
byte of the response is replaced by a new one and the request sent there.

Not supported (use the ``openai`` SDK transport for these): HTTP proxies (the
``HTTP(S)_PROXY`` variables are not read), HTTP/2, redirects, client certificates
(unless given through ``ssl_context``), the SDK's retries (msgflux retries in the model
layer).

Importing this package is cheap: the HTTP and decoding modules load on first
:func:`create_clients`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    from msgflux.models.clients import ChatClients

__all__ = ["DEFAULT_MAX_CONNECTIONS", "create_clients", "proxy_configured"]

DEFAULT_MAX_CONNECTIONS = 1000  # the openai SDK's default pool limit

_USER_AGENT: str | None = None


def _user_agent() -> str:
    global _USER_AGENT
    if _USER_AGENT is None:
        import msgflux

        version = getattr(msgflux, "__version__", None)
        if not version:
            try:
                from importlib.metadata import version as dist_version

                version = dist_version("msgflux")
            except Exception:
                version = "unknown"
        _USER_AGENT = f"msgflux/{version}"
    return _USER_AGENT


def create_clients(
    *,
    base_url: str,
    api_key: str | None,
    timeout: float | None = 600.0,
    default_headers: Mapping[str, str] | None = None,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    provider: str = "openai",
    ssl_context: ssl.SSLContext | None = None,
) -> ChatClients:
    """Build the sync and async fast clients for one OpenAI-compatible endpoint.

    Args:
        base_url: The API root, e.g. ``"https://api.openai.com/v1"``; requests go to
            ``{base_url}/chat/completions``. A query string in it is kept on every request.
        api_key: Sent as ``Authorization: Bearer <key>``; ``None`` or ``""`` sends no such
            header (local servers need none).
        timeout: Seconds allowed for connecting and for each read (so also between two
            stream chunks); ``None`` waits forever. A call's ``timeout=`` overrides it.
        default_headers: Headers sent with every request (they override the defaults,
            names compared case-insensitively).
        max_connections: Cap on open connections per client (per event loop for the
            async client); a request finding none free waits up to ``timeout``.
        provider: The msgflux provider name reported in errors.
        ssl_context: TLS settings for ``https://`` (custom CA, client certificate...);
            by default the system's trust store with hostname verification.

    Returns:
        ``ChatClients(client=SyncClient, aclient=AsyncClient, close=..., aclose=...)``:
        ``close()`` closes both clients' connections from anywhere; ``await aclose()`` does
        the same from async code and returns once this loop's sockets are closed.

    Raises:
        ValueError: Invalid ``base_url``, header values or limits.
    """
    from msgflux.models.clients import ChatClients
    from msgflux_openai.transport._aio import AsyncClient
    from msgflux_openai.transport._base import Config
    from msgflux_openai.transport._http11 import parse_base_url
    from msgflux_openai.transport._sync import SyncClient

    if max_connections < 1:
        raise ValueError(f"max_connections must be at least 1, got {max_connections}")
    headers: dict[str, str] = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Accept-Encoding": "gzip, deflate",
        "User-Agent": _user_agent(),
    }
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    if default_headers:
        lower = {name.lower(): name for name in headers}
        for name, value in default_headers.items():
            old = lower.get(name.lower())
            if old is not None:
                del headers[old]
            if value is not None:
                headers[name] = str(value)
    config = Config(
        endpoint=parse_base_url(base_url),
        headers=headers,
        timeout=timeout,
        provider=provider,
        ssl_context=ssl_context,
        max_connections=max_connections,
    )
    client = SyncClient(config)
    aclient = AsyncClient(config)

    def close() -> None:
        client.close()
        aclient.close()

    async def aclose() -> None:
        client.close()
        await aclient.aclose()

    return ChatClients(client=client, aclient=aclient, close=close, aclose=aclose)


def proxy_configured(base_url: str) -> bool:
    """Whether the environment asks for an HTTP proxy for ``base_url``.

    The fast transport does not speak to proxies; a caller choosing a transport
    automatically should pick the ``openai`` SDK when this is true.

    Args:
        base_url: The API root the client would use.

    Returns:
        True when an ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` variable (any case)
        applies to the URL's host and ``NO_PROXY`` does not exempt it.
    """
    import os
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    env = {
        key.lower(): value for key, value in os.environ.items() if key.lower().endswith("_proxy")
    }
    scheme = (parts.scheme or "http").lower()
    if not (env.get(f"{scheme}_proxy") or env.get("all_proxy")):
        return False
    host = (parts.hostname or "").lower()
    for entry in env.get("no_proxy", "").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return False
        entry = entry.split(":")[0].lstrip(".")
        if host == entry or host.endswith("." + entry):
            return False
    return True


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
