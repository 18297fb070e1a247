"""Transport clients for OpenAI-compatible providers: which one a model gets.

``transport="auto"`` (the default) is msgflux's fast transport (``msgflux_openai.transport``,
on :mod:`msgflux.http`), also behind an ``http://`` proxy from the environment; the
``openai`` SDK (``msgflux_openai.sdk``) is used when asked for, for an injected ``openai``
client, or when the environment names a proxy the fast transport does not speak
(``https://``, ``socks5://``...: logged at INFO on ``msgflux.openai``). Both raise
``msgflux.errors`` and return OpenAI-shaped objects, so everything downstream is the same.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from msgflux.models.clients import ChatClients

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["TRANSPORTS", "build_clients"]

TRANSPORTS = ("auto", "fast", "sdk")

logger = logging.getLogger("msgflux.openai")


def _unsupported_proxy(base_url: str) -> str | None:
    """The environment's proxy for ``base_url`` when it is not an ``http://`` one."""
    from msgflux.http import proxy_from_env

    proxy = proxy_from_env(base_url)
    if proxy is None or proxy.lower().startswith("http://"):
        return None
    return proxy.split("://", 1)[0] + "://"


def build_clients(model: ChatCompletionModel) -> ChatClients:
    """The clients ``model`` asked for with its ``transport`` / ``client`` options.

    ``"auto"`` (the default) is msgflux's fast transport, unless an ``openai`` client was
    injected or the environment names a proxy that is not ``http://``; ``"fast"`` and
    ``"sdk"`` force one.
    """
    from msgflux_openai.transport import create_clients

    transport = model.options.get("transport", "auto")
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}; got {transport!r}")
    injected = (
        model.options.get("client") is not None or model.options.get("async_client") is not None
    )
    if transport == "fast" and injected:
        raise ValueError(
            "client= / async_client= are openai SDK clients: use transport='sdk' (or 'auto')"
        )
    use_sdk = transport == "sdk" or (transport == "auto" and injected)
    if transport == "auto" and not use_sdk:
        scheme = _unsupported_proxy(model.base_url)
        if scheme is not None:
            logger.info(
                "%s: using the openai SDK transport: the environment's proxy for %s is %s, "
                "and msgflux's own transport speaks to http:// proxies only",
                model.provider,
                model.base_url,
                scheme,
            )
            use_sdk = True
    if use_sdk:
        from msgflux_openai.sdk import sdk_clients

        return sdk_clients(model)
    return create_clients(
        base_url=model.base_url,
        api_key=model.api_key,
        timeout=model.timeout,
        provider=model.provider,
        verify=getattr(model, "verify", True),
        ssl_context=getattr(model, "ssl_context", None),
    )
