"""The HTTP/1.1 pieces shared by the sync and async clients: endpoint, request, response.

Only what an OpenAI-compatible chat endpoint needs: ``POST`` with a ``Content-Length``
body; responses framed by ``Content-Length``, ``Transfer-Encoding: chunked`` or the end of
the connection; ``gzip``/``deflate`` content coding; ``1xx`` interim responses skipped;
keep-alive unless either side said ``Connection: close`` (or the server is HTTP/1.0).
No proxies, no HTTP/2, no redirects (an API endpoint that redirects a POST is a
misconfiguration, reported as an error with the status).

The response parser is incremental and does no I/O: the sync client feeds it from
``socket.recv`` and the async protocol from ``data_received``.
"""

from __future__ import annotations

import zlib
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

__all__ = [
    "Endpoint",
    "HTTPProtocolError",
    "RequestBuilder",
    "ResponseParser",
    "parse_base_url",
]

_MAX_HEAD = 256 * 1024  # bytes of status line + headers we accept before giving up
_MAX_LINE = 4096  # bytes of a chunk-size line


class HTTPProtocolError(Exception):
    """The server's bytes are not a valid HTTP/1.1 response (or end too early)."""


class Endpoint(NamedTuple):
    """Where requests go, parsed once from the base URL."""

    tls: bool
    host: str  # without brackets, for connecting and TLS server name
    port: int
    target: str  # request target: path of .../chat/completions plus fixed query
    host_header: str


def parse_base_url(base_url: str) -> Endpoint:
    """Parse an OpenAI-style base URL (``https://api.openai.com/v1``).

    A query string in the base URL (Azure's ``?api-version=``) is sent with every request.

    Args:
        base_url: ``http://`` or ``https://`` URL of the API root.

    Returns:
        The parsed endpoint.

    Raises:
        ValueError: The URL is not an http(s) URL with a host.
    """
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"base_url must be an http:// or https:// URL with a host, got {base_url!r}"
        )
    tls = scheme == "https"
    default_port = 443 if tls else 80
    port = parts.port or default_port
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default_port else f"{shown}:{port}"
    target = parts.path.rstrip("/") + "/chat/completions"
    if parts.query:
        target += "?" + parts.query
    return Endpoint(tls, host, port, target, host_header)


def _header_bytes(name: str, value: str) -> bytes:
    if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
        raise ValueError(f"invalid characters in HTTP header {name!r}")
    try:
        return f"{name}: {value}\r\n".encode("latin-1")
    except UnicodeEncodeError:
        return f"{name}: ".encode("latin-1") + value.encode("utf-8") + b"\r\n"


class RequestBuilder:
    """Turns ``create(**params)`` keyword arguments into the bytes of one HTTP request.

    The header block for the usual case (no ``extra_headers``/``extra_query``) is built
    once; a request then costs one JSON encode and two concatenations.
    """

    def __init__(self, endpoint: Endpoint, headers: dict[str, str]) -> None:
        self._endpoint = endpoint
        # Names are matched case-insensitively; the last spelling given is sent.
        self._headers = {name.lower(): (name, value) for name, value in headers.items()}
        self._prefix = self._build_prefix(self._headers, stream=False, query=None)
        self._prefix_stream = self._build_prefix(self._headers, stream=True, query=None)

    def _build_prefix(
        self,
        headers: dict[str, tuple[str, str]],
        *,
        stream: bool,
        query: dict[str, Any] | None,
    ) -> bytes:
        target = self._endpoint.target
        if query:
            target += ("&" if "?" in target else "?") + urlencode(query, doseq=True)
        lines = [f"POST {target} HTTP/1.1\r\n".encode("latin-1")]
        merged = dict(headers)
        if "accept" not in merged or merged["accept"][1] in (
            "application/json",
            "text/event-stream",
        ):
            merged["accept"] = ("Accept", "text/event-stream" if stream else "application/json")
        merged.pop("content-length", None)
        merged.pop("host", None)
        lines.append(_header_bytes("Host", self._endpoint.host_header))
        for name, value in merged.values():
            lines.append(_header_bytes(name, value))
        lines.append(b"Content-Length: ")
        return b"".join(lines)

    def build(self, body: bytes, *, stream: bool, extra_headers: Any, extra_query: Any) -> bytes:
        """Return the full request: head and body.

        Args:
            body: The encoded JSON body.
            stream: Whether the caller asked for an event stream (sets ``Accept``).
            extra_headers: Headers merged over the defaults; a ``None`` value removes one.
            extra_query: Query parameters appended to the URL.

        Returns:
            The bytes to write on the connection.
        """
        if extra_headers or extra_query:
            headers = self._headers
            if extra_headers:
                headers = dict(headers)
                for name, value in extra_headers.items():
                    if value is None:
                        headers.pop(name.lower(), None)
                    else:
                        headers[name.lower()] = (name, str(value))
            prefix = self._build_prefix(headers, stream=stream, query=extra_query or None)
        else:
            prefix = self._prefix_stream if stream else self._prefix
        return b"%s%d\r\n\r\n%s" % (prefix, len(body), body)


# Parser states.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS, _UNTIL_EOF, _DONE = range(8)


class ResponseParser:
    """Incremental HTTP/1.1 response parser.

    Feed it bytes with :meth:`feed` (and :meth:`feed_eof` when the peer closes). Once
    ``head_done`` is true, ``status``, ``reason`` and ``headers`` (lower-case names) are
    set; decoded body bytes accumulate until taken with :meth:`take_body`; ``done`` turns
    true when the body ended as its framing says.

    Raises:
        HTTPProtocolError: From :meth:`feed` / :meth:`feed_eof` on invalid or truncated input.
    """

    __slots__ = (
        "_buf",
        "_decoder",
        "_left",
        "_parts",
        "_state",
        "done",
        "head_done",
        "headers",
        "keep_alive",
        "reason",
        "status",
    )

    def __init__(self) -> None:
        self._buf = b""
        self._state = _HEAD
        self._parts: list[bytes] = []
        self._left = 0
        self._decoder: Any = None
        self.head_done = False
        self.done = False
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.keep_alive = True

    @property
    def has_body(self) -> bool:
        """Whether decoded body bytes are waiting to be taken."""
        return bool(self._parts)

    def take_body(self) -> bytes:
        """Return (and forget) the body bytes decoded so far."""
        parts = self._parts
        if not parts:
            return b""
        self._parts = []
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data)
            except zlib.error as exc:
                raise HTTPProtocolError(f"invalid compressed body: {exc}") from None
        return data

    def feed(self, data: bytes) -> None:
        """Consume bytes received from the server."""
        if self._buf:
            data = self._buf + data
            self._buf = b""
        state = self._state
        if state == _HEAD:
            data = self._parse_head(data)
            state = self._state
            if state == _HEAD or not data:
                return
        if state == _LENGTH:
            left = self._left
            if len(data) >= left:
                if left:
                    self._parts.append(data[:left] if len(data) > left else data)
                self._left = 0
                self._state = _DONE
                self.done = True
                if len(data) > left:
                    # Bytes after a complete response: the server is not speaking HTTP as
                    # we understood it; never reuse this connection.
                    self.keep_alive = False
            else:
                self._parts.append(data)
                self._left = left - len(data)
        elif state == _UNTIL_EOF:
            self._parts.append(data)
        elif state == _DONE:
            if data:
                self.keep_alive = False
        else:
            self._feed_chunked(data)

    def feed_eof(self) -> None:
        """The server closed the connection (or its write side)."""
        self.keep_alive = False
        if self._state == _UNTIL_EOF:
            self._state = _DONE
            self.done = True
        elif self._state == _HEAD:
            raise HTTPProtocolError(
                "server closed the connection before sending a response"
                if not self._buf
                else "server closed the connection in the middle of the response headers"
            )
        elif self._state != _DONE:
            raise HTTPProtocolError(
                "server closed the connection before the response body was complete"
            )

    def _parse_head(self, data: bytes) -> bytes:
        while True:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > _MAX_HEAD:
                    raise HTTPProtocolError("response headers too large")
                self._buf = data
                return b""
            head = data[:end].decode("latin-1")
            data = data[end + 4 :]
            lines = head.split("\r\n")
            status_line = lines[0].split(" ", 2)
            if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
                raise HTTPProtocolError(f"invalid HTTP status line {lines[0][:100]!r}")
            try:
                status = int(status_line[1])
            except ValueError:
                raise HTTPProtocolError(f"invalid HTTP status line {lines[0][:100]!r}") from None
            if 100 <= status < 200 and status != 101:
                continue  # interim response (100 Continue, 103 Early Hints): skip it
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    raise HTTPProtocolError(f"invalid HTTP header line {line[:100]!r}")
                name = name.strip().lower()
                value = value.strip()
                if name in headers:
                    headers[name] += ", " + value
                else:
                    headers[name] = value
            self.status = status
            self.reason = status_line[2] if len(status_line) > 2 else ""
            self.headers = headers
            self.head_done = True
            connection = headers.get("connection", "").lower()
            if status_line[0] == "HTTP/1.0":
                self.keep_alive = "keep-alive" in connection
            elif "close" in connection:
                self.keep_alive = False
            self._start_body(status, headers)
            return data

    def _start_body(self, status: int, headers: dict[str, str]) -> None:
        coding = headers.get("content-encoding", "").strip().lower()
        if coding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._decoder = _Deflate()
        elif coding not in ("", "identity"):
            raise HTTPProtocolError(f"unsupported content encoding {coding!r}")
        if status in (204, 304):
            self._state = _DONE
            self.done = True
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = _CHUNK_SIZE
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise HTTPProtocolError("invalid Content-Length") from None
            if length < 0:
                raise HTTPProtocolError("invalid Content-Length")
            self._left = length
            self._state = _LENGTH
            if length == 0:
                self._state = _DONE
                self.done = True
        else:
            self._state = _UNTIL_EOF
            self.keep_alive = False

    def _feed_chunked(self, data: bytes) -> None:
        parts = self._parts
        state = self._state
        left = self._left
        pos = 0
        size_of = len(data)
        while pos < size_of:
            if state == _CHUNK_SIZE:
                end = data.find(b"\r\n", pos)
                if end < 0:
                    if size_of - pos > _MAX_LINE:
                        raise HTTPProtocolError("invalid chunk size line")
                    break
                line = data[pos:end]
                semi = line.find(b";")
                if semi >= 0:
                    line = line[:semi]
                try:
                    left = int(line, 16)
                except ValueError:
                    raise HTTPProtocolError(f"invalid chunk size {line[:40]!r}") from None
                pos = end + 2
                state = _CHUNK_DATA if left else _TRAILERS
            elif state == _CHUNK_DATA:
                end = pos + left
                if end <= size_of:
                    parts.append(data[pos:end])
                    pos = end
                    left = 0
                    state = _CHUNK_CRLF
                else:
                    parts.append(data[pos:])
                    left -= size_of - pos
                    pos = size_of
            elif state == _CHUNK_CRLF:
                if size_of - pos < 2:
                    break
                if data[pos : pos + 2] != b"\r\n":
                    raise HTTPProtocolError("missing CRLF after a chunk")
                pos += 2
                state = _CHUNK_SIZE
            elif state == _TRAILERS:
                end = data.find(b"\r\n", pos)
                if end < 0:
                    if size_of - pos > _MAX_HEAD:
                        raise HTTPProtocolError("trailers too large")
                    break
                if end == pos:  # the empty line that ends the message
                    pos += 2
                    state = _DONE
                    self.done = True
                    if pos < size_of:
                        self.keep_alive = False
                    pos = size_of
                else:
                    pos = end + 2
            else:  # _DONE: bytes after the end of the message
                self.keep_alive = False
                pos = size_of
        self._state = state
        self._left = left
        if pos < size_of:
            self._buf = data[pos:]


class _Deflate:
    """``Content-Encoding: deflate``: zlib-wrapped in theory, raw deflate in practice."""

    def __init__(self) -> None:
        self._inner: Any = None
        self._first = b""

    def decompress(self, data: bytes) -> bytes:
        if self._inner is None:
            data = self._first + data
            if len(data) < 2:
                self._first = data
                return b""
            is_zlib = (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS)
        return self._inner.decompress(data)
