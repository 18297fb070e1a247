"""Endpoints and request bytes: where a client sends requests, and the validated head.

A client is built for one base URL (``https://api.anthropic.com/v1``); each request names
a path under it (``/messages``). Everything a caller supplies is checked before a byte is
written: the URL (http or https, a host, no credentials, an IDN host encoded with IDNA),
header names (RFC 9110 tokens) and values (no control characters of any kind), and the
headers msgflux owns (``Host``, ``Content-Length``, ``Transfer-Encoding``) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode, urlsplit

__all__ = ["Endpoint", "RequestBuilder", "check_header", "parse_url"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# C0 controls except HTAB, DEL and C1 controls: never legal in a header value.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_OWNED = {
    "host": "it is taken from the base URL",
    "content-length": "msgflux sets it from the body",
    "transfer-encoding": "msgflux sends bodies with Content-Length",
}
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Characters kept as they are in a request path; everything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


class Endpoint(NamedTuple):
    """Where requests go, parsed once from the base URL.

    Attributes:
        tls: ``https``.
        host: The host to connect to (ASCII, IDNA-encoded, IPv6 without brackets).
        port: The TCP port.
        path: The base path without a trailing slash (``/v1``).
        query: The base URL's query string, sent with every request (Azure's
            ``api-version``), or ``""``.
        host_header: The ``Host`` header value (``host[:port]``).
        origin: ``scheme://host_header``, for messages and proxy request targets.
    """

    tls: bool
    host: str
    port: int
    path: str
    query: str
    host_header: str
    origin: str


def _ascii_host(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"the host name {host!r} is not a valid internationalized name") from exc


def parse_url(url: str, *, what: str = "base_url") -> Endpoint:
    """Parse an ``http://`` or ``https://`` URL into an :class:`Endpoint`.

    Args:
        url: The URL.
        what: The argument's name, for error messages.

    Returns:
        The endpoint.

    Raises:
        ValueError: Not an http(s) URL with a host, a bad port, a host that is not valid
            IDNA, or credentials in the URL (the message never repeats them).
    """
    if not isinstance(url, str):
        raise ValueError(f"{what} must be a string URL, got {type(url).__name__}")
    parts = urlsplit(url.strip())
    if "@" in parts.netloc:
        raise ValueError(
            f"{what} must not contain credentials (user:password@host): pass an API key "
            "with api_key= or a header instead"
        )
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host, got {url!r}")
    if _CONTROL.search(url) or " " in url.strip():
        raise ValueError(f"{what} must not contain spaces or control characters: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{what} has an invalid port: {url!r}") from None
    tls = scheme == "https"
    default_port = 443 if tls else 80
    port = port or default_port
    host = _ascii_host(parts.hostname)
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default_port else f"{shown}:{port}"
    path = quote(parts.path, safe=_PATH_SAFE).rstrip("/")
    return Endpoint(tls, host, port, path, parts.query, host_header, f"{scheme}://{host_header}")


def check_header(name: Any, value: Any) -> tuple[str, str]:
    """Validate one request header; return it as ``(name, value)`` strings.

    Raises:
        ValueError: A name that is not an HTTP token, a value with a control character,
            or a header msgflux sets itself.
    """
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise ValueError(f"invalid HTTP header name {name!r}: use letters, digits and -")
    owned = _OWNED.get(name.lower())
    if owned is not None:
        raise ValueError(f"the {name} header cannot be set: {owned}")
    text = value if isinstance(value, str) else str(value)
    if _CONTROL.search(text):
        raise ValueError(
            f"the value of the HTTP header {name!r} contains a control character "
            "(line breaks, NUL...); header values must be one line of text"
        )
    return name, text.strip(" \t")


def _header_line(name: str, value: str) -> bytes:
    try:
        return f"{name}: {value}\r\n".encode("latin-1")
    except UnicodeEncodeError:
        return f"{name}: ".encode("latin-1") + value.encode("utf-8") + b"\r\n"


class RequestBuilder:
    """Turns (method, path, headers, body) into the bytes of one HTTP/1.1 request.

    The head of a request without per-request headers or query is built once per
    ``(method, path, accept)`` and reused; such a request then costs two concatenations.

    Args:
        endpoint: The server (or origin, behind a proxy).
        headers: Default headers, already validated; a per-request header with the same
            name (case-insensitive) replaces one, ``None`` removes it.
        absolute_form: Send absolute request targets (``http://host/path``), as a plain
            HTTP proxy needs.
        proxy_headers: Headers for the proxy (``Proxy-Authorization``) in absolute form.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        headers: Mapping[str, str],
        *,
        absolute_form: bool = False,
        proxy_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._headers = {name.lower(): (name, value) for name, value in headers.items()}
        for name, value in (proxy_headers or {}).items():
            self._headers[name.lower()] = (name, value)
        self._absolute = absolute_form
        self._cache: dict[tuple[str, str, str | None], bytes] = {}

    def target(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        """The request target for ``path`` (and extra query parameters)."""
        endpoint = self._endpoint
        if not isinstance(path, str) or (path and not path.startswith("/")):
            raise ValueError(f"a request path must start with '/', got {path!r}")
        if _CONTROL.search(path) or " " in path or "#" in path:
            raise ValueError(f"a request path must not contain spaces, '#' or controls: {path!r}")
        path, _, path_query = path.partition("?")
        target = endpoint.path + quote(path, safe=_PATH_SAFE) if path else endpoint.path or "/"
        queries = [q for q in (endpoint.query, path_query) if q]
        if query:
            queries.append(urlencode(query, doseq=True))
        if queries:
            target += "?" + "&".join(queries)
        if self._absolute:
            target = endpoint.origin + target
        return target

    def build(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        headers: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        accept: str | None = None,
    ) -> bytes:
        """Return the full request: head and body.

        Args:
            method: ``POST``, ``GET``...
            path: The path under the base URL, ``"/messages"``; may carry a query.
            body: The body bytes, or ``None`` for none.
            headers: Per-request headers over the defaults; a ``None`` value removes one.
            query: Query parameters appended to the URL.
            accept: An ``Accept`` value over the defaults (a per-request ``Accept`` wins).

        Raises:
            ValueError: An invalid method, path or header.
        """
        prefix: bytes | None
        if headers or query:
            prefix = self._prefix(method, path, accept, headers, query)
        else:
            key = (method, path, accept)
            prefix = self._cache.get(key)
            if prefix is None:
                prefix = self._prefix(method, path, accept, None, None)
                if len(self._cache) < 64:
                    self._cache[key] = prefix
        if body is None:
            if method in ("POST", "PUT", "PATCH"):
                return prefix + b"Content-Length: 0\r\n\r\n"
            return prefix + b"\r\n"
        return b"%sContent-Length: %d\r\n\r\n%s" % (prefix, len(body), body)

    def _prefix(
        self,
        method: str,
        path: str,
        accept: str | None,
        headers: Mapping[str, Any] | None,
        query: Mapping[str, Any] | None,
    ) -> bytes:
        if method not in _METHODS:
            raise ValueError(
                f"unsupported HTTP method {method!r}; use one of {', '.join(sorted(_METHODS))}"
            )
        merged = dict(self._headers)
        if accept is not None:
            merged["accept"] = ("Accept", accept)
        if headers:
            for name, value in headers.items():
                if value is None:
                    if not isinstance(name, str):
                        raise ValueError(f"invalid HTTP header name {name!r}")
                    merged.pop(name.lower(), None)
                else:
                    checked = check_header(name, value)
                    merged[checked[0].lower()] = checked
        lines = [
            f"{method} {self.target(path, query)} HTTP/1.1\r\n".encode("latin-1"),
            _header_line("Host", self._endpoint.host_header),
        ]
        lines.extend(_header_line(name, value) for name, value in merged.values())
        return b"".join(lines)
