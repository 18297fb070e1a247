"""Proxies: which one the environment asks for, and how the fast path speaks to it.

The environment is read with the standard library's own rules
(``urllib.request.getproxies_environment`` / ``proxy_bypass_environment``): the
``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` variables in either case (lowercase wins;
``HTTP_PROXY`` is ignored in a CGI request), and ``NO_PROXY`` entries matching a host, a
domain suffix, a ``host:port`` or ``*``, as in urllib and httpx.

Only ``http://`` proxies are spoken to: an ``https://`` target is tunnelled with
``CONNECT`` (TLS then runs end to end with the server), a plain ``http://`` target is sent
to the proxy with an absolute request target. Credentials in the proxy URL become a
``Proxy-Authorization: Basic`` header, sent to the proxy only.
"""

from __future__ import annotations

import os
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from msgflux.http._url import Endpoint

__all__ = ["Proxy", "parse_proxy", "proxy_from_env"]


class Proxy(NamedTuple):
    """An ``http://`` proxy.

    Attributes:
        host: Proxy host.
        port: Proxy port.
        headers: Headers for the proxy (``Proxy-Authorization``), possibly empty.
        url: The proxy URL without its credentials (safe to log).
    """

    host: str
    port: int
    headers: dict[str, str]
    url: str


def proxy_from_env(url: str) -> str | None:
    """The proxy URL the environment asks for when talking to ``url``.

    Args:
        url: The target URL (a client's base URL).

    Returns:
        The proxy URL (any scheme, as configured), or ``None`` when no variable applies or
        ``NO_PROXY`` exempts the target.
    """
    if not any(name[-6:].lower() == "_proxy" for name in os.environ):
        return None  # what getproxies_environment reads; skip importing urllib.request
    from urllib.request import (  # type: ignore[attr-defined]  # not in typeshed
        getproxies_environment,
        proxy_bypass_environment,
    )

    parts = urlsplit(url)
    scheme = (parts.scheme or "http").lower()
    proxies = getproxies_environment()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy:
        return None
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = None
    # "host:port" lets a NO_PROXY entry with a port match, as urllib documents.
    target = f"{host}:{port}" if port else host
    if proxy_bypass_environment(target, proxies):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy  # "proxy.corp:3128" means an HTTP proxy (curl, urllib)
    return proxy


def parse_proxy(url: str) -> Proxy:
    """Parse an ``http://[user:password@]host[:port]`` proxy URL.

    Raises:
        ValueError: Another scheme (``https://``, ``socks5://``...) or no host. The message
            never repeats credentials.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    safe = f"{scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    if scheme != "http":
        raise ValueError(
            f"msgflux's HTTP client speaks to http:// proxies only, not {safe!r}; use an "
            "http:// proxy URL or the provider's SDK transport"
        )
    if not parts.hostname:
        raise ValueError(f"the proxy URL has no host: {safe!r}")
    headers: dict[str, str] = {}
    if parts.username is not None:
        import base64

        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(credentials.encode("utf-8")).decode("ascii")
        headers["Proxy-Authorization"] = f"Basic {token}"
    return Proxy(parts.hostname, parts.port or 80, headers, safe)


def connect_request(endpoint: Endpoint, proxy: Proxy) -> bytes:
    """The ``CONNECT`` request that opens a tunnel to ``endpoint`` through ``proxy``."""
    authority = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    authority = f"{authority}:{endpoint.port}"
    lines = [f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in proxy.headers.items())
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")
