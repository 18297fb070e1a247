"""The SSE parser and the HTTP response parser, fed byte streams in every possible split."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msgflux.errors import ResponseDecodeError
from msgflux_openai.transport._http11 import HTTPProtocolError, ResponseParser
from msgflux_openai.transport._sse import SSEParser


def _feed_in_pieces(parser: SSEParser, data: bytes, cuts: list[int]) -> list[bytes]:
    out: list[bytes] = []
    start = 0
    for cut in sorted(set(cuts)):
        out += parser.feed(data[start:cut])
        start = cut
    out += parser.feed(data[start:])
    return out


STREAM = (
    b"\xef\xbb\xbf: keep-alive comment\r\n\r\n"
    b'data: {"a":1}\r\n\r\n'
    b'event: message\nid: 7\nretry: 100\ndata: {"b":\ndata: 2}\n\n'
    b"data:no-space\r\r"
    b"event: ping\ndata: ignored\n\n"
    b"\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [b'{"a":1}', b'{"b":\n2}', b"no-space", b"[DONE]"]


def test_fields_comments_multiline_and_line_ends():
    assert SSEParser().feed(STREAM) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_gives_the_same_events(cuts):
    assert _feed_in_pieces(SSEParser(), STREAM, cuts) == EXPECTED


def test_every_single_byte_split():
    parser = SSEParser()
    out = []
    for i in range(len(STREAM)):
        out += parser.feed(STREAM[i : i + 1])
    assert out == EXPECTED


def test_malformed_line_stops_after_the_valid_events():
    parser = SSEParser()
    out = parser.feed(b'data: {"ok":1}\n\n{"raw":"json"}\n\ndata: {"late":1}\n\n')
    assert out == [b'{"ok":1}']
    assert isinstance(parser.failure, ResponseDecodeError)
    assert parser.failure.raw_text == '{"raw":"json"}'
    assert parser.feed(b'data: {"more":1}\n\n') == []


def test_error_event():
    parser = SSEParser()
    out = parser.feed(b'data: {"a":1}\n\nevent: error\ndata: {"error":{"message":"x"}}\n\n')
    assert out == [b'{"a":1}']
    assert parser.error == b'{"error":{"message":"x"}}'


def test_finish_returns_a_last_event_without_blank_line():
    parser = SSEParser()
    assert parser.feed(b'data: {"a":1}\n\ndata: {"b":2}') == [b'{"a":1}']
    assert parser.finish() == [b'{"b":2}']
    assert SSEParser().finish() == []


# -- HTTP/1.1 response parsing -----------------------------------------------------------------


def _chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-T: 1\r\n\r\n"


RESPONSE = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Multi: a\r\nx-multi: b\r\n\r\n"
    + _chunked(b"hello ", b"world")
)


@given(st.lists(st.integers(min_value=0, max_value=len(RESPONSE)), max_size=10))
def test_chunked_response_in_any_split(cuts):
    parser = ResponseParser()
    start = 0
    body = b""
    for cut in [*sorted(set(cuts)), len(RESPONSE)]:
        parser.feed(RESPONSE[start:cut])
        body += parser.take_body()
        start = cut
    assert parser.done and parser.keep_alive
    assert parser.status == 200
    assert parser.headers["x-multi"] == "a, b"
    assert body == b"hello world"


def test_content_length_and_connection_close():
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nab")
    assert not parser.done
    parser.feed(b"cde")
    assert parser.done and not parser.keep_alive
    assert parser.take_body() == b"abcde"


def test_body_until_eof_and_http10():
    parser = ResponseParser()
    parser.feed(b"HTTP/1.0 200 OK\r\n\r\npart")
    assert not parser.done
    parser.feed_eof()
    assert parser.done and not parser.keep_alive and parser.take_body() == b"part"


def test_truncated_bodies_raise():
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(HTTPProtocolError, match="before the response body was complete"):
        parser.feed_eof()
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
    with pytest.raises(HTTPProtocolError):
        parser.feed_eof()
    with pytest.raises(HTTPProtocolError, match="before sending a response"):
        ResponseParser().feed_eof()


@pytest.mark.parametrize(
    "data",
    [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nbad\r\n\r\n"],
)
def test_not_http(data):
    with pytest.raises(HTTPProtocolError):
        ResponseParser().feed(data)


def test_invalid_chunk_size():
    parser = ResponseParser()
    with pytest.raises(HTTPProtocolError, match="chunk size"):
        parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda d: zlib.compress(d)[2:-4]),  # raw deflate, as some servers send
    ],
)
def test_compressed_bodies(coding, compress):
    body = compress(b'{"hello": "world"}' * 50)
    parser = ResponseParser()
    parser.feed(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
        % (coding.encode(), len(body))
    )
    out = b""
    for i in range(0, len(body), 7):
        parser.feed(body[i : i + 7])
        out += parser.take_body()
    assert parser.done
    assert out == b'{"hello": "world"}' * 50


def test_unknown_content_encoding():
    with pytest.raises(HTTPProtocolError, match="br"):
        ResponseParser().feed(b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n")
