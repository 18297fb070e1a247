"""Response framing over real loopback sockets: what a broken or hostile server sends.

Every case runs as a plain request (sync and async) and as a stream (sync and async).
Nothing here waits for a timeout: the client's limits are generous (30 s) and a server
that would keep the connection open after its bad bytes does (``HOLD``), so an error must
come from the bytes themselves, never from an end of input or a timer.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import pytest

from msgflux.errors import MsgfluxError, ProviderConnectionError, ResponseDecodeError
from msgflux.http import Client, Timeout

from .conftest import CLOSE, HOLD, ok

MODES = ["sync", "async", "stream", "astream"]
GENEROUS = Timeout(connect=30, read=30)
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"


async def run(client: Client, mode: str) -> Any:
    """One call in ``mode``: the body (plain requests) or the events' data (streams)."""
    if mode == "sync":
        return client.request("POST", "/x", b"{}", check_status=False).body
    if mode == "async":
        return (await client.arequest("POST", "/x", b"{}", check_status=False)).body
    if mode == "stream":
        with client.stream("POST", "/x", b"{}") as events:
            return [event.data for event in events]
    stream = await client.astream("POST", "/x", b"{}")
    try:
        return [event.data async for event in stream]
    finally:
        await stream.aclose()


@pytest.fixture
def client(raw_server):
    with Client(raw_server.base_url, timeout=GENEROUS, provider="test") as client:
        yield client


def chunked(*lines: bytes) -> bytes:
    return SSE_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(lines)


@pytest.mark.parametrize("mode", MODES)
async def test_a_negative_chunk_size_is_an_error_not_an_endless_loop(raw_server, client, mode):
    raw_server.serve([chunked(b"1\r\n{\r\n-6\r\n0\r\n\r\n"), HOLD])
    with pytest.raises(ProviderConnectionError, match="chunk size"):
        await run(client, mode)


@pytest.mark.parametrize("mode", MODES)
async def test_a_negative_chunk_size_split_across_segments(raw_server, client, mode):
    # The old parser returned bytes the server sent as framing as the answer here.
    raw_server.serve([chunked(b"1\r\n{\r\n"), 0.05, b"-6\r\n0\r\n\r\n", HOLD])
    with pytest.raises(ProviderConnectionError, match="chunk size"):
        await run(client, mode)


@pytest.mark.parametrize("size", [b"+5", b"0x5", b"1_0", b" 5 ", b"5 ", b"-0"])
@pytest.mark.parametrize("mode", MODES)
async def test_chunk_sizes_are_hex_digits_only(raw_server, client, mode, size):
    raw_server.serve([chunked(size + b"\r\ndata:\r\n0\r\n\r\n"), HOLD])
    with pytest.raises(ProviderConnectionError):
        await run(client, mode)


@pytest.mark.parametrize("length", [b"+5", b"0x5", b"1_0", b"-5", b"5, 6", b"5 5"])
@pytest.mark.parametrize("mode", MODES)
async def test_content_length_is_digits_only(raw_server, client, mode, length):
    raw_server.serve([SSE_HEAD + b"Content-Length: " + length + b"\r\n\r\nhello", HOLD])
    with pytest.raises(ProviderConnectionError, match="Content-Length|invalid HTTP"):
        await run(client, mode)


@pytest.mark.parametrize("status", [b"+20", b"2_0", b"0x1", b" 200", b"20", b"2000"])
@pytest.mark.parametrize("mode", MODES)
async def test_status_codes_are_three_digits(raw_server, client, mode, status):
    raw_server.serve([b"HTTP/1.1 " + status + b" OK\r\nContent-Length: 0\r\n\r\n", HOLD])
    with pytest.raises(ProviderConnectionError, match="invalid HTTP"):
        await run(client, mode)


@pytest.mark.parametrize("coding", [b"xchunked", b"chunkedx", b"gzip", b"gzip, chunked"])
@pytest.mark.parametrize("mode", MODES)
async def test_transfer_encoding_is_matched_exactly(raw_server, client, mode, coding):
    raw_server.serve([SSE_HEAD + b"Transfer-Encoding: " + coding + b"\r\n\r\n5\r\nhello", HOLD])
    with pytest.raises(ProviderConnectionError, match="Transfer-Encoding"):
        await run(client, mode)


@pytest.mark.parametrize("mode", MODES)
async def test_content_length_beside_transfer_encoding_is_refused(raw_server, client, mode):
    raw_server.serve(
        [chunked(b"0\r\n\r\n").replace(b"\r\n\r\n", b"\r\nContent-Length: 3\r\n\r\n", 1), HOLD]
    )
    with pytest.raises(ProviderConnectionError):
        await run(client, mode)


@pytest.mark.parametrize("mode", MODES)
async def test_a_broken_gzip_body_is_a_decode_error(raw_server, client, mode):
    body = b"\x1f\x8b\x08\x00garbage that is not deflate data"
    raw_server.serve(
        [
            SSE_HEAD
            + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
            HOLD,
        ]
    )
    with pytest.raises(ResponseDecodeError, match="compressed") as caught:
        await run(client, mode)
    assert isinstance(caught.value, MsgfluxError) and caught.value.__cause__ is not None


@pytest.mark.parametrize("mode", MODES)
async def test_a_truncated_gzip_body_is_a_decode_error(raw_server, client, mode):
    body = gzip.compress(b"data: hello\n\n" * 40)[:-12]
    raw_server.serve(
        [
            SSE_HEAD
            + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
            HOLD,
        ]
    )
    with pytest.raises(ResponseDecodeError, match="ends early"):
        await run(client, mode)


@pytest.mark.parametrize("mode", MODES)
async def test_an_unsupported_content_encoding_says_what_is_supported(raw_server, client, mode):
    raw_server.serve([SSE_HEAD + b"Content-Encoding: br\r\nContent-Length: 2\r\n\r\nxx", HOLD])
    with pytest.raises(ResponseDecodeError, match="gzip and deflate"):
        await run(client, mode)


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        (b"gzip", gzip.compress),
        (b"deflate", zlib.compress),
        (b"deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some send
    ],
)
@pytest.mark.parametrize("mode", MODES)
async def test_compressed_bodies_are_decoded(raw_server, client, mode, coding, compress):
    body = compress(b"data: hello\n\n" * 50)
    raw_server.serve(
        [
            SSE_HEAD + b"Content-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (coding, len(body)),
            body[:7],
            0.01,
            body[7:],
            HOLD,
        ]
    )
    got = await run(client, mode)
    expected = b"data: hello\n\n" * 50
    assert got == expected if mode in ("sync", "async") else got == [b"hello"] * 50


@pytest.mark.parametrize("mode", MODES)
async def test_interim_responses_are_skipped(raw_server, client, mode):
    raw_server.serve(
        [
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
            chunked(b"d\r\ndata: hello\n\n\r\n0\r\n\r\n"),
            HOLD,
        ]
    )
    got = await run(client, mode)
    assert got == (b"data: hello\n\n" if mode in ("sync", "async") else [b"hello"])


@pytest.mark.parametrize("mode", MODES)
async def test_a_body_without_length_ends_when_the_server_closes(raw_server, client, mode):
    raw_server.serve([SSE_HEAD + b"\r\ndata: one\n\n", 0.02, b"data: two\n\n", CLOSE])
    got = await run(client, mode)
    assert got == (b"data: one\n\ndata: two\n\n" if mode in ("sync", "async") else [b"one", b"two"])


@pytest.mark.parametrize("mode", MODES)
async def test_a_truncated_body_is_an_error(raw_server, client, mode):
    raw_server.serve([SSE_HEAD + b"Content-Length: 100\r\n\r\ndata: one\n\n", CLOSE])
    with pytest.raises(ProviderConnectionError, match="before the response body was complete"):
        await run(client, mode)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_huge_headers_are_refused(raw_server, client, mode):
    raw_server.serve([b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (300 * 1024), HOLD])
    with pytest.raises(ProviderConnectionError, match="KiB"):
        await run(client, mode)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_bytes_after_a_response_retire_the_connection(raw_server, client, mode):
    raw_server.serve([ok(b"first") + b"HTTP/1.1 200 OK\r\nunasked"], [ok(b"second")])
    assert await run(client, mode) == b"first"
    assert await run(client, mode) == b"second"
    assert raw_server.connections == 2  # the first connection was not reused


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_keep_alive_connections_are_reused(raw_server, client, mode):
    raw_server.serve([ok(b"first")], [ok(b"second")])
    assert await run(client, mode) == b"first"
    assert await run(client, mode) == b"second"
    assert raw_server.connections == 1


@pytest.mark.parametrize("mode", MODES)
async def test_not_http_at_all(raw_server, client, mode):
    raw_server.serve([b"SSH-2.0-OpenSSH_9.6\r\n\r\n", HOLD])
    with pytest.raises(ProviderConnectionError, match="invalid HTTP response"):
        await run(client, mode)


@pytest.mark.parametrize("mode", MODES)
async def test_an_unrequested_protocol_switch_is_refused(raw_server, client, mode):
    raw_server.serve(
        [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", HOLD]
    )
    with pytest.raises(ProviderConnectionError, match="switched protocols"):
        await run(client, mode)


@pytest.mark.parametrize("kind", ["call", "acall", "stream", "astream"])
async def test_a_model_gets_the_error_too(raw_server, kind):
    pytest.importorskip("msgflux_openai")
    import msgflux as mf

    raw_server.serve([chunked(b"1\r\n{\r\n"), 0.05, b"-6\r\n0\r\n\r\n", HOLD])
    model = mf.Model.chat_completion(
        "openai/m", base_url=raw_server.base_url, api_key="k", retry=False, timeout=GENEROUS
    )
    try:
        with pytest.raises(ProviderConnectionError, match="chunk size"):
            if kind == "call":
                model("hi")
            elif kind == "acall":
                await model.acall("hi")
            elif kind == "stream":
                model("hi", stream=True)
            else:
                await model.acall("hi", stream=True)
        assert len(raw_server.requests) == 1
    finally:
        await model.aclose()
