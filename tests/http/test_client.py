"""The public surface of msgflux.http, error mapping, and the mock transport."""

from __future__ import annotations

import pytest

import msgflux.http
from msgflux.errors import (
    AuthenticationError,
    BadRequestError,
    ProviderError,
    RateLimitError,
)
from msgflux.http import Client, MockTransport, Request, Response, ServerSentEvent, Timeout
from msgflux.utils.retry import is_retryable

DOCUMENTED = [
    "DEFAULT_TIMEOUT",
    "AsyncEventStream",
    "Client",
    "EventStream",
    "MockTransport",
    "Request",
    "Response",
    "SSEReader",
    "ServerSentEvent",
    "Timeout",
    "error_from_payload",
    "error_from_response",
    "provider_message",
    "proxy_from_env",
]


def test_the_public_names_are_the_documented_ones():
    assert msgflux.http.__all__ == DOCUMENTED
    for name in DOCUMENTED:
        assert getattr(msgflux.http, name) is not None
    assert msgflux.Timeout is Timeout


def test_importing_msgflux_http_loads_no_socket_machinery():
    import subprocess
    import sys

    code = (
        "import sys, msgflux.http; "
        "print(sorted(m for m in ('msgflux.http._sync', 'msgflux.http._aio', 'ssl', 'httptools')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def anthropic_like(request: Request) -> Response:
    """A fake Messages API: named events for a stream, Anthropic's error shape for a 529."""
    if request.headers.get("x-api-key") != "k":
        return Response(
            401,
            {},
            b'{"type":"error","error":{"type":"authentication_error",'
            b'"message":"invalid x-api-key"}}',
        )
    if b'"overload"' in request.body:
        return Response(
            529,
            {"request-id": "req_9"},
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        )
    if request.headers.get("accept") == "text/event-stream":
        body = (
            b'event: message_start\ndata: {"type":"message_start"}\n\n'
            b'event: content_block_delta\ndata: {"delta":{"text":"Hi"}}\n\n'
            b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
        )
        return Response(200, {"Content-Type": "text/event-stream"}, body)
    return Response(200, {"content-type": "application/json"}, b'{"content":[{"text":"Hi"}]}')


def mock_client(key: str = "k") -> tuple[Client, MockTransport]:
    transport = MockTransport(anthropic_like)
    client = Client(
        "https://api.anthropic.com/v1",
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        timeout=Timeout(connect=5, read=30),
        provider="anthropic",
        transport=transport,
    )
    return client, transport


def test_a_non_openai_wire_format_over_the_mock_transport():
    client, transport = mock_client()
    status, _headers, body = client.request("POST", "/messages", b'{"max_tokens": 5}')
    assert (status, body) == (200, b'{"content":[{"text":"Hi"}]}')
    with client.stream("POST", "/messages", b"{}") as events:
        names = [event.event for event in events]
    assert names == ["message_start", "content_block_delta", "message_stop"]
    first = transport.requests[0]
    assert (first.method, first.path) == ("POST", "/v1/messages")
    assert first.headers["anthropic-version"] == "2023-06-01"
    assert first.headers["content-length"] == "17"
    assert first.timeout == Timeout(connect=5, read=30)


async def test_the_mock_transport_serves_async_calls_too():
    client, _ = mock_client()
    response = await client.arequest("POST", "/messages", b"{}")
    assert response.status == 200
    stream = await client.astream("POST", "/messages", b"{}")
    events = [event async for event in stream]
    assert events[1] == ServerSentEvent("content_block_delta", b'{"delta":{"text":"Hi"}}')

    async def handler(request: Request) -> Response:
        return Response(200, {}, b"async handler")

    aclient = Client("http://h/v1", transport=MockTransport(handler))
    assert (await aclient.arequest("GET", "/m")).body == b"async handler"
    with pytest.raises(TypeError, match="async"):
        aclient.request("GET", "/m")


def test_anthropic_errors_map_to_msgflux_errors():
    client, _ = mock_client(key="wrong")
    with pytest.raises(AuthenticationError, match="invalid x-api-key") as caught:
        client.request("POST", "/messages", b"{}")
    assert caught.value.provider == "anthropic" and caught.value.status == 401
    client, _ = mock_client()
    with pytest.raises(ProviderError, match="Overloaded") as caught:
        client.request("POST", "/messages", b'{"overload": 1}')
    assert caught.value.status == 529 and caught.value.request_id == "req_9"
    assert is_retryable(caught.value)  # Anthropic's 529 is worth another attempt
    with pytest.raises(ProviderError, match="Overloaded"):
        client.stream("POST", "/messages", b'{"overload": 1}')
    response = client.request("POST", "/messages", b'{"overload": 1}', check_status=False)
    assert response.status == 529


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (400, b'{"error": {"message": "bad field"}}', BadRequestError, "bad field"),
        (422, b'{"detail": [{"msg": "x"}]}', BadRequestError, '[{"msg":"x"}]'),
        (404, b'{"detail": "Not Found"}', BadRequestError, "Not Found"),
        (403, b"forbidden", AuthenticationError, "forbidden"),
        (429, b'{"error": {"message": "slow down"}}', RateLimitError, "slow down"),
        (503, b"", ProviderError, "Service Unavailable"),
        (599, b"", ProviderError, "HTTP 599"),
        (
            500,
            b'{"type":"error","error":{"type":"api_error","message":"boom"}}',
            ProviderError,
            "boom",
        ),
    ],
)
def test_statuses_and_message_shapes(status, body, cls, message):
    client = Client(
        "http://h/v1",
        transport=MockTransport(lambda r: Response(status, {"retry-after": "2"}, body)),
    )
    with pytest.raises(cls) as caught:
        client.request("POST", "/x", b"{}")
    assert type(caught.value) is cls
    assert caught.value.message == message
    if cls is RateLimitError:
        assert caught.value.retry_after == 2


def test_a_handler_must_return_a_response():
    client = Client("http://h/v1", transport=MockTransport(lambda r: (200, {}, b"")))
    with pytest.raises(TypeError, match="Response"):
        client.request("GET", "/x")
