"""A request that was written is never sent again by the HTTP layer.

The server counts the requests it read in full. A connection that fails after the request
went out is an error for the caller (whose retry policy decides); the only replacement the
client makes is of an idle pooled connection found closed *before* anything was written.
"""

from __future__ import annotations

import pytest

from msgflux.errors import ProviderConnectionError
from msgflux.http import Client, Timeout

from .conftest import CLOSE, HOLD, ok, wait_until

MODES = ["sync", "async", "stream", "astream"]


async def call(client: Client, mode: str) -> object:
    if mode == "sync":
        return client.request("POST", "/x", b'{"n": 1}').body
    if mode == "async":
        return (await client.arequest("POST", "/x", b'{"n": 1}')).body
    if mode == "stream":
        with client.stream("POST", "/x", b'{"n": 1}') as events:
            return [event.data for event in events]
    stream = await client.astream("POST", "/x", b'{"n": 1}')
    try:
        return [event.data async for event in stream]
    finally:
        await stream.aclose()


@pytest.fixture
def client(raw_server):
    with Client(raw_server.base_url, timeout=Timeout(connect=30, read=30)) as client:
        yield client


@pytest.mark.parametrize("mode", MODES)
async def test_a_server_that_reads_and_closes_sees_one_request(raw_server, client, mode):
    raw_server.serve([CLOSE])
    with pytest.raises(ProviderConnectionError, match="closed the connection"):
        await call(client, mode)
    assert len(raw_server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_a_reused_connection_closed_after_the_request_is_not_resent(raw_server, client, mode):
    # The first answer keeps the connection alive; the second request goes out on it and
    # the server drops it unanswered: the old client sent the POST again here.
    raw_server.serve([ok(b"data: first\n\n")], [CLOSE])
    await call(client, "sync" if mode in ("sync", "stream") else "async")
    with pytest.raises(ProviderConnectionError):
        await call(client, mode)
    assert len(raw_server.requests) == 2
    assert raw_server.connections == 1


@pytest.mark.parametrize("mode", MODES)
async def test_an_idle_connection_closed_by_the_server_is_replaced_before_use(
    raw_server, client, mode
):
    raw_server.serve([ok(b"data: first\n\n"), CLOSE], [ok(b"data: second\n\n")])
    await call(client, "sync" if mode in ("sync", "stream") else "async")
    assert wait_until(lambda: raw_server.closed == 1)
    second = await call(client, mode)
    assert second in (b"data: second\n\n", [b"second"])
    assert len(raw_server.requests) == 2  # nothing was sent twice
    assert raw_server.connections == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_server_that_answers_then_resets_is_still_one_request(raw_server, client, mode):
    raw_server.serve([b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\npartial", CLOSE])
    with pytest.raises(ProviderConnectionError, match="before the response body was complete"):
        await call(client, mode)
    assert len(raw_server.requests) == 1


async def test_a_stream_dropped_midway_is_not_resent(raw_server, client):
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    raw_server.serve([head + b"d\r\ndata: one\n\n\r\n", CLOSE])
    got = []
    with pytest.raises(ProviderConnectionError):
        with client.stream("POST", "/x", b"{}") as events:
            for event in events:
                got.append(event.data)
    assert got == [b"one"]
    assert len(raw_server.requests) == 1
    raw_server.serve([ok(b"after"), HOLD])
    assert client.request("POST", "/x", b"{}").body == b"after"
