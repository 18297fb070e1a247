"""HTTP and network failures become msgflux.errors, with everything a caller needs."""

from __future__ import annotations

import pickle
import socket
from email.utils import formatdate

import pytest

from msgflux.errors import (
    AuthenticationError,
    BadRequestError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ResponseDecodeError,
)
from msgflux.testing.server import Reply
from msgflux_openai.transport import create_clients

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, BadRequestError),
        (408, ProviderError),
        (409, ProviderError),
        (413, BadRequestError),
        (422, BadRequestError),
        (429, RateLimitError),
        (500, ProviderError),
        (502, ProviderError),
        (503, ProviderError),
        (418, ProviderError),
    ],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_status_mapping(server, client, aclient, status, cls, mode):
    server.enqueue(Reply.error(status, f"failure {status}", headers={"x-request-id": "req_7"}))
    with pytest.raises(cls) as info:
        if mode == "sync":
            client.chat.completions.create(model="m", messages=MESSAGES)
        else:
            await aclient.chat.completions.create(model="m", messages=MESSAGES)
    error = info.value
    assert type(error) is cls
    assert error.status == status
    assert error.message == f"failure {status}"
    assert error.request_id == "req_7"
    assert error.provider == "openai"
    assert error.body["error"]["message"] == f"failure {status}"
    assert error.headers["x-request-id"] == "req_7"
    assert f"HTTP {status}" in str(error)
    assert "sk-test" not in str(error) and "sk-test" not in repr(error.headers)


def test_retry_after_seconds(server, client):
    server.enqueue(Reply.error(429, "slow down", headers={"Retry-After": "7"}))
    with pytest.raises(RateLimitError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.retry_after == 7.0


def test_retry_after_ms_wins(server, client):
    server.enqueue(
        Reply.error(429, "slow down", headers={"Retry-After": "7", "retry-after-ms": "1500"})
    )
    with pytest.raises(RateLimitError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.retry_after == 1.5


def test_retry_after_http_date(server, client):
    import time

    server.enqueue(
        Reply.error(
            429, "slow down", headers={"Retry-After": formatdate(time.time() + 60, usegmt=True)}
        )
    )
    with pytest.raises(RateLimitError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert 50 < info.value.retry_after <= 60


def test_no_retry_after(server, client):
    server.enqueue(Reply.error(429, "slow down"))
    with pytest.raises(RateLimitError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.retry_after is None


def test_request_id_header_variant():
    # The loopback server always sends x-request-id; the fallback is checked directly.
    from msgflux.http import error_from_response

    error = error_from_response(500, {"request-id": "alt_1"}, b"boom", provider="p")
    assert (error.request_id, error.message) == ("alt_1", "boom")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"upstream exploded", "upstream exploded"),
        (b'{"detail": "Not Found"}', "Not Found"),
        (b'{"error": "plain string error"}', "plain string error"),
        (b'{"message": "top-level message"}', "top-level message"),
        (b"", "Bad Gateway"),
    ],
)
def test_error_message_shapes(server, client, body, message):
    server.enqueue(Reply.raw(502, body, content_type="text/plain"))
    with pytest.raises(ProviderError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.message == message
    assert info.value.status == 502


def test_provider_name_in_errors(server):
    clients = create_clients(base_url=server.base_url, api_key="k", provider="groq")
    try:
        server.enqueue(Reply.error(401, "bad key"))
        with pytest.raises(AuthenticationError) as info:
            clients.client.chat.completions.create(model="m", messages=MESSAGES)
        assert info.value.provider == "groq"
        assert str(info.value).startswith("groq ")
    finally:
        clients.close()


def test_errors_pickle(server, client):
    server.enqueue(Reply.error(400, "bad", headers={"x-request-id": "r"}))
    with pytest.raises(BadRequestError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.status, copy.message, copy.request_id) == (400, "bad", "r")


# -- network failures --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_connection_refused(mode):
    clients = create_clients(base_url=f"http://127.0.0.1:{_free_port()}/v1", api_key="k")
    try:
        with pytest.raises(ProviderConnectionError, match="Connection refused|connect"):
            if mode == "sync":
                clients.client.chat.completions.create(model="m", messages=MESSAGES)
            else:
                await clients.aclient.chat.completions.create(model="m", messages=MESSAGES)
    finally:
        clients.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_response_timeout(server, mode):
    clients = create_clients(base_url=server.base_url, api_key="k", timeout=0.2)
    server.enqueue(Reply.text("late", delay=2))
    try:
        with pytest.raises(RequestTimeoutError) as info:
            if mode == "sync":
                clients.client.chat.completions.create(model="m", messages=MESSAGES)
            else:
                await clients.aclient.chat.completions.create(model="m", messages=MESSAGES)
        assert isinstance(info.value, TimeoutError)
        assert info.value.status is None
    finally:
        clients.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_body_stalls(server, mode):
    clients = create_clients(base_url=server.base_url, api_key="k", timeout=0.2)
    server.enqueue(Reply.text("a long enough answer", stall_after=20))
    try:
        with pytest.raises(RequestTimeoutError):
            if mode == "sync":
                clients.client.chat.completions.create(model="m", messages=MESSAGES)
            else:
                await clients.aclient.chat.completions.create(model="m", messages=MESSAGES)
    finally:
        clients.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "reply",
    [
        Reply.text("a complete answer", close_after=30),  # body shorter than Content-Length
        Reply.text("a complete answer", reset_after=30),  # RST in the middle of the body
        Reply.text("x", reset_before=True),  # closed without any response
    ],
    ids=["truncated", "reset", "no-response"],
)
async def test_broken_responses(server, mode, reply):
    clients = create_clients(base_url=server.base_url, api_key="k")
    server.enqueue(reply)
    try:
        with pytest.raises(ProviderConnectionError):
            if mode == "sync":
                clients.client.chat.completions.create(model="m", messages=MESSAGES)
            else:
                await clients.aclient.chat.completions.create(model="m", messages=MESSAGES)
    finally:
        clients.close()


def test_not_an_http_server():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        clients = create_clients(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", timeout=2)
        import threading

        def speak_garbage() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

        thread = threading.Thread(target=speak_garbage)
        thread.start()
        try:
            with pytest.raises(ProviderConnectionError, match="invalid HTTP response"):
                clients.client.chat.completions.create(model="m", messages=MESSAGES)
        finally:
            thread.join(5)
            clients.close()


def test_unresolvable_host():
    clients = create_clients(base_url="http://nonexistent.invalid/v1", api_key="k", timeout=5)
    try:
        with pytest.raises(ProviderConnectionError, match="resolve"):
            clients.client.chat.completions.create(model="m", messages=MESSAGES)
    finally:
        clients.close()


def test_decode_error_keeps_raw_text(server, client):
    server.enqueue(Reply.raw(200, b'{"choices": [ {"message": '))
    with pytest.raises(ResponseDecodeError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.raw_text == '{"choices": [ {"message": '


def test_redirect_is_an_error(server, client):
    server.enqueue(Reply.raw(307, b"", headers={"Location": "http://elsewhere/"}))
    with pytest.raises(ProviderError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.status == 307
