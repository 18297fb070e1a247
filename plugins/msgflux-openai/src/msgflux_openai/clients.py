"""Transport clients for OpenAI-compatible providers: which one a model gets.

``transport="auto"`` (the default) is msgflux's fast transport (``msgflux_openai.transport``);
the ``openai`` SDK (``msgflux_openai.sdk``) is used when asked for, behind an HTTP proxy, or
for an injected ``openai`` client. Both raise ``msgflux.errors`` and return OpenAI-shaped
objects, so everything downstream is the same.
"""

from __future__ import annotations

from typing import Any

from msgflux.models.clients import ChatClients

__all__ = ["TRANSPORTS", "build_clients"]

TRANSPORTS = ("auto", "fast", "sdk")


def build_clients(model: Any) -> ChatClients:
    """The clients ``model`` asked for with its ``transport`` / ``client`` options.

    ``"auto"`` (the default) is msgflux's fast transport, unless the environment routes the
    URL through an HTTP proxy (which only the SDK speaks) or an ``openai`` client was
    injected; ``"fast"`` and ``"sdk"`` force one.
    """
    from msgflux_openai.transport import create_clients, proxy_configured

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
    if transport == "sdk" or (
        transport == "auto" and (injected or proxy_configured(model.base_url))
    ):
        from msgflux_openai.sdk import sdk_clients

        return sdk_clients(model)
    return create_clients(
        base_url=model.base_url,
        api_key=model.api_key,
        timeout=model.timeout,
        provider=model.provider,
    )
