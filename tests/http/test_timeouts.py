"""One timeout model for sync, async and streams, driven by drip-feeding servers.

Each test bounds only the phase it tests: the other limits are generous (``LONG``), so a
busy machine cannot fail a test through a phase it does not test. A limit that does not
fire shows up as a RequestTimeoutError of another phase, or as the server's own end
(``LONG`` later), never as a silent pass.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from msgflux.errors import RequestTimeoutError
from msgflux.http import Client, Timeout

from .conftest import CLOSE, HOLD, Drip, ok

LONG = 60.0  # seconds: any limit a test does not test
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def sse_chunk(text: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(text), text)


async def call(client: Client, mode: str, timeout: Timeout | float | None) -> list[bytes] | bytes:
    if mode == "sync":
        return client.request("POST", "/x", b"{}", timeout=timeout).body
    if mode == "async":
        return (await client.arequest("POST", "/x", b"{}", timeout=timeout)).body
    if mode == "stream":
        with client.stream("POST", "/x", b"{}", timeout=timeout) as events:
            return [event.data for event in events]
    stream = await client.astream("POST", "/x", b"{}", timeout=timeout)
    try:
        return [event.data async for event in stream]
    finally:
        await stream.aclose()


MODES = ["sync", "async", "stream", "astream"]


@pytest.fixture
def client(raw_server) -> Iterator[Client]:
    with Client(raw_server.base_url, timeout=LONG, provider="test") as client:
        yield client


@pytest.fixture
def unreachable() -> Iterator[str]:
    """A loopback port whose accept queue is full: a connect there hangs until its timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}/v1"
    for filler in fillers:
        filler.close()
    listener.close()


@pytest.mark.parametrize("mode", MODES)
async def test_connect_timeout(unreachable, mode):
    with Client(unreachable) as client:
        with pytest.raises(RequestTimeoutError, match="connecting") as caught:
            await call(client, mode, Timeout(connect=0.3, read=LONG))
    assert caught.value.phase == "connect"


@pytest.mark.parametrize("mode", MODES)
async def test_read_timeout_is_a_gap_between_bytes(raw_server, client, mode):
    if mode in ("sync", "async"):
        raw_server.serve([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", HOLD])
    else:
        raw_server.serve([SSE_HEAD + sse_chunk(b"data: one\n\n"), HOLD])
    with pytest.raises(RequestTimeoutError) as caught:
        await call(client, mode, Timeout(connect=LONG, read=0.3))
    assert caught.value.phase == "read"
    assert "0.3s" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
async def test_a_trickle_within_the_read_timeout_is_not_cut_off(raw_server, client, mode):
    # No hidden total deadline, sync or async: each gap (0.05 s) is well under the read
    # limit (2 s), and the whole answer may take longer than 2 s on a busy machine.
    body = b"data: drip\n\n"
    raw_server.serve(
        [
            SSE_HEAD.replace(b"Transfer-Encoding: chunked", b"Content-Length: %d" % len(body)),
            Drip(body, 0.05),
            HOLD,
        ]
    )
    got = await call(client, mode, 2.0)
    assert got == (body if mode in ("sync", "async") else [b"drip"])


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_first_token_bounds_a_stream_that_only_sends_keep_alives(raw_server, client, mode):
    keep_alives = [step for _ in range(200) for step in (sse_chunk(b": ping\n\n"), 0.05)]
    raw_server.serve([SSE_HEAD, *keep_alives, HOLD])
    with pytest.raises(RequestTimeoutError, match="first stream event") as caught:
        await call(client, mode, Timeout(connect=LONG, read=LONG, first_token=0.5))
    assert caught.value.phase == "first_token"


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_first_token_stops_counting_at_the_first_event(raw_server, client, mode):
    events = [step for i in range(8) for step in (0.1, sse_chunk(b"data: %d\n\n" % i))]
    raw_server.serve([SSE_HEAD, *events, b"0\r\n\r\n", HOLD])
    got = await call(client, mode, Timeout(connect=LONG, read=LONG, first_token=LONG / 2))
    assert got == [b"%d" % i for i in range(8)]


@pytest.mark.parametrize("mode", MODES)
async def test_total_deadline_bounds_a_server_that_drips_forever(raw_server, client, mode):
    body = b"data: x\n\n" * 1000
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n"
        % len(body)
    )
    # One byte every 50 ms: the read limit never fires, the answer would take minutes.
    raw_server.serve([head, Drip(b": " + b"." * 5000, 0.05), HOLD])
    with pytest.raises(RequestTimeoutError, match="total deadline") as caught:
        await call(client, mode, Timeout(connect=LONG, read=LONG, total=0.6))
    assert caught.value.phase == "total"


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_total_does_not_cut_an_established_stream(raw_server, client, mode):
    events = [step for i in range(6) for step in (sse_chunk(b"data: %d\n\n" % i), 0.1)]
    raw_server.serve([SSE_HEAD, *events, b"0\r\n\r\n", HOLD])
    # The stream is established at its first event; then only the read gap applies.
    got = await call(client, mode, Timeout(connect=LONG, read=LONG, total=0.05 + LONG / 4))
    assert got == [b"%d" % i for i in range(6)]


async def test_a_timeout_given_as_seconds_means_connect_and_read(raw_server, client):
    assert Timeout.of(2) == Timeout(connect=2.0, read=2.0)
    assert Timeout.of(None) == Timeout()
    raw_server.serve([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", HOLD])
    with pytest.raises(RequestTimeoutError) as caught:
        await client.arequest("POST", "/x", b"{}", timeout=0.3)
    assert caught.value.phase == "read"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_clients_default_timeout_and_a_requests_own(raw_server, mode):
    raw_server.serve([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", HOLD], [ok(b"fine")])
    with Client(raw_server.base_url, timeout=Timeout(connect=LONG, read=0.3)) as client:
        with pytest.raises(RequestTimeoutError):
            await call(client, mode, client.timeout)
        assert await call(client, mode, LONG) == b"fine"


@pytest.mark.parametrize("bad", [0, -1, "10", True, float("nan"), {"connect": 0}, {"conect": 1}])
def test_invalid_timeouts_are_refused(bad):
    with pytest.raises(ValueError, match="timeout"):
        Timeout.of(bad)


def test_a_timeout_round_trips_as_a_mapping():
    import msgspec

    timeout = Timeout(connect=5, read=30, first_token=10, total=120)
    assert Timeout.of(msgspec.json.decode(msgspec.json.encode(timeout))) == timeout


async def test_close_ends_a_connection_the_server_holds(raw_server, client):
    raw_server.serve([SSE_HEAD + sse_chunk(b"data: one\n\n"), HOLD])
    stream = client.stream("POST", "/x", b"{}", timeout=LONG)
    assert next(stream).data == b"one"
    stream.close()
    raw_server.serve([ok(b"after"), CLOSE])
    assert client.request("POST", "/x", b"{}").body == b"after"
