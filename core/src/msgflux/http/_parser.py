"""HTTP/1.1 response framing, parsed by llhttp (``httptools``) in its strict mode.

llhttp reads the status line, the headers, ``Content-Length`` and chunked bodies, and
rejects what the RFC forbids (negative or signed sizes, ``Content-Length`` beside
``Transfer-Encoding``, bad tokens...). This wrapper adds only what llhttp leaves to its
caller:

- a cap on the size of the header block (llhttp buffers a header of any length);
- skipping 1xx interim responses (``100 Continue``, ``103 Early Hints``);
- bodies read until the connection closes (no ``Content-Length``, not chunked): llhttp has
  no end-of-input call in ``httptools``, so the end of such a body is ours to see;
- refusing a ``Transfer-Encoding`` other than ``chunked`` (llhttp would read such a body
  until close; no LLM server sends one, and h11 refuses it too);
- ``Content-Encoding``: ``gzip`` and ``deflate`` are decoded, anything else is an error;
- noticing bytes after a complete response, so that connection is never reused;
- refusing control bytes in the reason phrase, which llhttp lets through (found by the
  differential fuzz test against h11).

Feed received bytes with :meth:`ResponseParser.feed` and the end of input with
:meth:`ResponseParser.feed_eof`. Failures raise :class:`HTTPProtocolError` (the bytes are
not HTTP as we accept it) or :class:`ContentDecodingError` (the compressed body is
broken); the clients turn both into :mod:`msgflux.errors`.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from httptools import HttpParserCallbackError, HttpParserError, HttpParserUpgrade
from httptools import HttpResponseParser as _LLHTTP

__all__ = ["MAX_HEAD", "ContentDecodingError", "HTTPProtocolError", "ResponseParser"]

#: Bytes of status line and headers accepted before the response is refused.
MAX_HEAD = 256 * 1024


_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


class HTTPProtocolError(Exception):
    """The server's bytes are not a valid HTTP/1.1 response, or they end too early."""


class ContentDecodingError(Exception):
    """The body's ``Content-Encoding`` is unsupported or its compressed data is broken."""


class _Stop(Exception):
    """Raised from a callback to stop llhttp at the end of the response we wanted."""


class ResponseParser:
    """One HTTP/1.1 response, fed incrementally.

    Once ``head_done`` is true, ``status``, ``reason`` and ``headers`` (lower-case names,
    repeated headers joined with ``", "``) are set; decoded body bytes wait in the parser
    until :meth:`take_body`; ``done`` turns true when the body ended as its framing says.
    ``keep_alive`` says whether the connection may serve another request afterwards.

    Args:
        max_head: Cap on the bytes of the header block.
    """

    __slots__ = (
        "_compressed",
        "_decoder",
        "_head_bytes",
        "_llhttp",
        "_max_head",
        "_parts",
        "_raw_headers",
        "_until_close",
        "done",
        "head_done",
        "headers",
        "keep_alive",
        "reason",
        "status",
    )

    def __init__(self, *, max_head: int = MAX_HEAD) -> None:
        self._llhttp: Any = _LLHTTP(self)
        self._max_head = max_head
        self._head_bytes = 0
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._parts: list[bytes] = []
        self._decoder: Any = None
        self._compressed = False  # compressed bytes arrived (an empty body is no stream)
        self._until_close = False
        self.head_done = False
        self.done = False
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.keep_alive = True

    # -- llhttp callbacks (called from inside feed_data) -------------------------------------

    def on_message_begin(self) -> None:
        if self.done:
            # A second message after the one we asked for: the server is out of step.
            raise _Stop

    def on_status(self, reason: bytes) -> None:
        # llhttp lets control bytes through in the reason phrase; RFC 9112 does not.
        if _CONTROL.search(reason):
            raise HTTPProtocolError("invalid HTTP response: a control character in the status line")
        self.reason = reason.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:  # trailers (after a chunked body) are not kept
            self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._llhttp.get_status_code()
        raw, self._raw_headers = self._raw_headers, []
        if 100 <= status < 200:
            return  # interim response: llhttp completes it and parses the next one
        headers: dict[str, str] = {}
        for raw_name, raw_value in raw:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1").strip(" \t")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self.status = status
        self.headers = headers
        self.head_done = True
        transfer = headers.get("transfer-encoding")
        if transfer is not None and transfer.strip().lower() != "chunked":
            raise HTTPProtocolError(f"unsupported Transfer-Encoding {transfer[:60]!r}")
        self._until_close = (
            transfer is None and "content-length" not in headers and status not in (204, 304)
        )
        coding = headers.get("content-encoding", "").strip().lower()
        if coding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._decoder = _Deflate()
        elif coding not in ("", "identity"):
            raise ContentDecodingError(
                f"unsupported Content-Encoding {coding[:60]!r} (msgflux decodes gzip and "
                "deflate; do not ask the server for other encodings in Accept-Encoding)"
            )

    def on_body(self, body: bytes) -> None:
        self._parts.append(body)

    def on_message_complete(self) -> None:
        if not self.head_done:
            return  # the end of a 1xx interim response
        self.done = True
        llhttp = self._llhttp
        if not llhttp.should_keep_alive():
            self.keep_alive = False
        # llhttp holds our bound methods and we hold llhttp: a reference cycle that only the
        # cyclic GC would free. Dropping our side here frees it by reference counting once
        # feed_data returns (it keeps llhttp alive until then), which saves GC work on
        # every response.
        self._llhttp = None

    # -- feeding -----------------------------------------------------------------------------

    @property
    def has_body(self) -> bool:
        """Whether body bytes are waiting to be taken."""
        return bool(self._parts)

    def feed(self, data: bytes) -> None:
        """Consume bytes received from the server.

        Raises:
            HTTPProtocolError: The bytes are not a valid response.
            ContentDecodingError: The ``Content-Encoding`` is not supported.
        """
        if self.done:
            if data:
                self.keep_alive = False  # bytes after the response: never reuse
            return
        if not self.head_done:
            self._head_bytes += len(data)
        try:
            self._llhttp.feed_data(data)
        except HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Stop):
                self.keep_alive = False
                return
            if isinstance(cause, HTTPProtocolError | ContentDecodingError):
                raise cause from None
            raise HTTPProtocolError(f"invalid HTTP response: {exc}") from exc
        except HttpParserUpgrade:
            raise HTTPProtocolError(
                "the server switched protocols (HTTP 101) although none was requested"
            ) from None
        except HttpParserError as exc:
            if self.done:  # garbage after a complete response: ours is intact
                self.keep_alive = False
                return
            raise HTTPProtocolError(f"invalid HTTP response: {exc}") from exc
        if not self.head_done and self._head_bytes > self._max_head:
            raise HTTPProtocolError(
                f"the response headers exceed {self._max_head // 1024} KiB; refusing them"
            )

    def feed_eof(self) -> None:
        """The server closed the connection (or its write side).

        Raises:
            HTTPProtocolError: The response was not complete.
        """
        self.keep_alive = False
        if self.done:
            return
        if not self.head_done:
            raise HTTPProtocolError(
                "the server closed the connection before sending a response"
                if not self._head_bytes
                else "the server closed the connection in the middle of the response headers"
            )
        if self._until_close:
            self.done = True
            return
        raise HTTPProtocolError(
            "the server closed the connection before the response body was complete"
        )

    def take_body(self) -> bytes:
        """Return (and forget) the body bytes received so far, decompressed.

        Raises:
            ContentDecodingError: The compressed body is broken or ends early.
        """
        parts = self._parts
        if not parts:
            data = b""
        else:
            self._parts = []
            data = parts[0] if len(parts) == 1 else b"".join(parts)
        decoder = self._decoder
        if decoder is None:
            return data
        if data:
            self._compressed = True
            try:
                out: bytes = decoder.decompress(data)
            except zlib.error as exc:
                raise ContentDecodingError(
                    f"the compressed response body is broken: {exc}"
                ) from exc
        else:
            out = b""
        if decoder.unused_data:
            raise ContentDecodingError("the response body goes on after its compressed data")
        if self.done and self._compressed and not decoder.eof:
            raise ContentDecodingError("the compressed response body ends early")
        return out


class _Deflate:
    """``Content-Encoding: deflate``: zlib-wrapped in theory, raw deflate in practice."""

    __slots__ = ("_first", "_inner")

    def __init__(self) -> None:
        self._inner: Any = None
        self._first = b""

    @property
    def eof(self) -> bool:
        return self._inner is not None and self._inner.eof

    @property
    def unused_data(self) -> bytes:
        return b"" if self._inner is None else self._inner.unused_data

    def decompress(self, data: bytes) -> bytes:
        if self._inner is None:
            data = self._first + data
            if len(data) < 2:
                self._first = data
                return b""
            is_zlib = (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS)
        out: bytes = self._inner.decompress(data)
        return out
