"""Differential fuzzing of the response parser against h11, over real loopback sockets.

Hypothesis builds HTTP responses from valid pieces and mutations (framing, sizes, status
lines, headers, encodings) and splits them at random byte boundaries; a loopback server
sends the pieces as separate writes and closes. The same pieces go to h11, the reference.
For every case msgflux must:

- never hang: it ends well before its (generous) read timeout, since the server closes;
- never return an answer h11 rejects, and return the same status and body h11 reads
  (decompressed, for gzip/deflate);
- raise a msgflux error (``ProviderConnectionError`` or ``ResponseDecodeError``, the cause
  chained) for everything it rejects.

msgflux may be stricter than h11 (llhttp refuses a few things h11 lets through); it may
never be looser.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import zlib
from typing import Any

import h11
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from msgflux.errors import (
    MsgfluxError,
    ProviderConnectionError,
    RequestTimeoutError,
    ResponseDecodeError,
)
from msgflux.http import Client, Timeout

from .conftest import CLOSE

PAYLOAD = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'


def mostly(valid: list[Any], mutated: list[Any]) -> st.SearchStrategy[Any]:
    """A valid piece most of the time, a mutated one about one time in twelve (a case
    mutates a few of its ten or so pieces, so h11 accepts a fair share of them)."""
    return st.integers(0, 11).flatmap(lambda n: st.sampled_from(mutated if n == 11 else valid))


statuses = mostly(
    [b"200", b"201", b"204", b"304", b"404", b"500"],
    [b"+20", b"2_0", b" 200", b"20", b"2000", b"abc", b"0x1", b"-200"],
)
versions = mostly([b"HTTP/1.1", b"HTTP/1.0"], [b"HTTP/2.0", b"HTTP/1.", b"http/1.1", b"HTTP/1.1 "])
reasons = mostly([b"OK", b"", b"Some Reason", b"caf\xc3\xa9"], [b"\x00bad", b"a\rb", b"a\x7fb"])
lengths = mostly(
    [b"{n}"],
    [b"+{n}", b"0x{n}", b"{n}_0", b" {n} ", b"-{n}", b"{n}, {n}", b"{m}", b"0{n}", b"{n} {n}"],
)
chunk_sizes = mostly(
    [b"{x}", b"{X}", b"{x};ext=1", b"0{x}"],
    [b"+{x}", b"0x{x}", b"-{x}", b" {x}", b"{x} ", b"{x}_0", b"{x}\n", b"{x};"],
)
chunk_ends = mostly([b"\r\n"], [b"\n", b"", b"\r", b"xx"])
last_chunks = mostly([b"0\r\n\r\n", b"0\r\nX-Trailer: t\r\n\r\n"], [b"0\r\n", b"", b"0\r\n\n"])
codings = mostly(["", "gzip", "deflate", "raw-deflate", "identity"], ["br", "garbage-gzip"])
transfer = mostly(
    [b"chunked", b"Chunked"], [b"xchunked", b"gzip, chunked", b"chunked, gzip", b"identity"]
)
extra_headers = st.lists(
    mostly(
        [
            b"X-Request-Id: r1",
            b"Connection: close",
            b"Connection: keep-alive",
            b"X-Empty:",
            b"X-Tab: a\tb",
            b"X-Hi: caf\xc3\xa9",
        ],
        [
            b"X-Fold: a\r\n  b",
            b"X-Ctl: a\x01b",
            b"X-Nul: a\x00b",
            b"Bad Name: v",
            b"NoColon",
            b": empty-name",
            b"X-Sp : v",
            b"X-Cr: a\rb",
        ],
    ),
    max_size=3,
)
framings = mostly(["length", "chunked", "close"], ["both"])
interims = mostly(
    [b"", b"", b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"],
    [b"HTTP/1.1 100 Continue\r\nContent-Length: 2\r\n\r\nxx"],
)
tails = mostly([b""], [b"HTTP/1.1 200 OK\r\n", b"\r\n", b"garbage"])


def _encode(body: bytes, coding: str) -> tuple[bytes, bytes | None]:
    """(encoded body, Content-Encoding header value or None)."""
    if coding == "gzip":
        return gzip.compress(body), b"gzip"
    if coding == "deflate":
        return zlib.compress(body), b"deflate"
    if coding == "raw-deflate":
        return zlib.compress(body)[2:-4], b"deflate"
    if coding == "garbage-gzip":
        return b"\x1f\x8b\x08\x00" + body, b"gzip"
    if coding in ("br", "identity"):
        return body, coding.encode()
    return body, None


@st.composite
def responses(draw: Any) -> tuple[list[bytes], bool]:
    """(pieces, closes): the bytes of one response, split at random boundaries."""
    body, coding = _encode(PAYLOAD * draw(st.integers(0, 3)), draw(codings))
    head = [b"%s %s %s" % (draw(versions), draw(statuses), draw(reasons))]
    if coding is not None:
        head.append(b"Content-Encoding: " + coding)
    head += draw(extra_headers)
    framing = draw(framings)
    if framing in ("length", "both"):
        template = draw(lengths)
        n = str(len(body)).encode()
        m = str(max(len(body) + draw(st.integers(-3, 3)), 0)).encode()
        head.append(b"Content-Length: " + template.replace(b"{n}", n).replace(b"{m}", m))
        payload = body
    if framing in ("chunked", "both"):
        head.append(b"Transfer-Encoding: " + draw(transfer))
        pieces = []
        rest = body
        while rest:
            size = draw(st.integers(1, max(1, len(rest))))
            piece, rest = rest[:size], rest[size:]
            template = draw(chunk_sizes)
            line = template.replace(b"{x}", b"%x" % len(piece)).replace(b"{X}", b"%X" % len(piece))
            pieces.append(line + b"\r\n" + piece + draw(chunk_ends))
        pieces.append(draw(last_chunks))
        payload = b"".join(pieces)
    if framing == "close":
        payload = body
    data = draw(interims) + b"\r\n".join(head) + b"\r\n\r\n" + payload + draw(tails)
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=5))))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if data[a:b]], True


def h11_reads(pieces: list[bytes]) -> tuple[int, dict[str, str], bytes] | str:
    """What h11 makes of the pieces then EOF: (status, headers, body) or why it rejects."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(
        h11.Request(method="POST", target="/v1/x", headers=[("Host", "h"), ("Content-Length", "2")])
    )
    conn.send(h11.Data(data=b"{}"))
    conn.send(h11.EndOfMessage())
    status, headers, body = 0, {}, b""
    try:
        for piece in [*pieces, b""]:
            conn.receive_data(piece)
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    break
                if isinstance(event, h11.InformationalResponse):
                    continue
                if isinstance(event, h11.Response):
                    status = event.status_code
                    headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    return status, headers, body
                else:  # ConnectionClosed before the end, PAUSED (a protocol switch)
                    return f"h11 stopped at {event!r}"
    except h11.RemoteProtocolError as exc:
        return f"h11 rejects: {exc}"
    return "h11: incomplete"


def reference_verdict(reference: Any) -> str:
    return "h11 rejects too" if isinstance(reference, str) else "h11 accepts"


def decoded(body: bytes, headers: dict[str, str]) -> bytes | None:
    coding = headers.get("content-encoding", "").strip().lower()
    if not body and coding in ("gzip", "deflate"):
        return b""  # no compressed stream at all (a 204, an empty body): nothing to decode
    try:
        if coding == "gzip":
            return gzip.decompress(body)
        if coding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except (OSError, EOFError, zlib.error):
        return None
    if coding not in ("", "identity"):
        return None
    return body


async def _arequest(client: Client) -> Any:
    try:
        return await client.arequest("POST", "/x", b"{}", check_status=False)
    finally:
        await client.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_msgflux_never_accepts_what_h11_rejects(raw_server, mode):
    @settings(
        max_examples=300,
        deadline=None,  # real sockets on a busy machine: no per-example clock
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(responses())
    def check(case: tuple[list[bytes], bool]) -> None:
        pieces, _ = case
        script: list[Any] = []
        for piece in pieces:
            script += [piece, 0.002]  # separate writes, so the client reads them apart
        raw_server.serve([*script, CLOSE])
        reference = h11_reads(pieces)
        client = Client(raw_server.base_url, timeout=Timeout(connect=30, read=30), trust_env=False)
        try:
            if mode == "sync":
                response = client.request("POST", "/x", b"{}", check_status=False)
            else:
                response = asyncio.run(_arequest(client))
        except RequestTimeoutError:
            pytest.fail(f"msgflux waited for a timeout on {pieces!r}")  # the server closed
        except MsgfluxError as exc:
            event(f"msgflux rejects ({type(exc).__name__}); {reference_verdict(reference)}")
            assert isinstance(exc, ProviderConnectionError | ResponseDecodeError)
            assert exc.__cause__ is not None or isinstance(exc, ResponseDecodeError)
            return
        finally:
            client.close()
        event("msgflux accepts")
        assert not isinstance(reference, str), f"msgflux accepted what {reference}: {pieces!r}"
        status, headers, body = reference
        assert response.status == status
        assert response.body == decoded(body, headers), pieces

    check()
