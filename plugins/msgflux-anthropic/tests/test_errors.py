"""Anthropic's errors, over HTTP and inside streams, as msgflux.errors; 529 retried."""

from __future__ import annotations

import pytest

import msgflux as mf
from msgflux.testing.anthropic_server import event_frame
from msgflux.testing.server import Reply


@pytest.mark.parametrize(
    ("status", "kind", "error_type"),
    [
        (400, "invalid_request_error", mf.BadRequestError),
        (401, "authentication_error", mf.AuthenticationError),
        (403, "permission_error", mf.AuthenticationError),
        (404, "not_found_error", mf.BadRequestError),
        (413, "request_too_large", mf.BadRequestError),
        (429, "rate_limit_error", mf.RateLimitError),
        (500, "api_error", mf.ProviderError),
        (529, "overloaded_error", mf.ProviderError),
    ],
)
def test_http_errors(server, make, status, kind, error_type):
    server.enqueue(Reply.error(status, "the API says no", type=kind))

    with pytest.raises(error_type) as caught:
        make(retry=False)("q")

    error = caught.value
    assert (error.status, error.provider, error.message) == (status, "anthropic", "the API says no")
    assert error.body["error"]["type"] == kind
    assert error.request_id == "req_loopback_1"


def test_overloaded_529_is_retried_like_a_503(server, make):
    server.enqueue(Reply.error(529, "Overloaded"), Reply.text("made it"))

    assert make()("q").consume() == "made it"
    assert len(server.requests) == 2


def test_retry_after_is_honoured(server, make):
    server.enqueue(
        Reply.error(429, "slow down", headers={"retry-after": "0"}), Reply.text("after the wait")
    )

    assert make()("q").consume() == "after the wait"
    assert len(server.requests) == 2


def _error_event(kind: str, message: str) -> bytes:
    return event_frame({"type": "error", "error": {"type": kind, "message": message}})


def _start() -> bytes:
    return event_frame(
        {
            "type": "message_start",
            "message": {
                "id": "m",
                "type": "message",
                "role": "assistant",
                "model": "c",
                "content": [],
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        }
    )


def test_an_overloaded_event_before_any_content_is_retried(server, make):
    server.enqueue(
        Reply.raw_events(
            [
                _start(),
                event_frame({"type": "ping"}),
                _error_event("overloaded_error", "Overloaded"),
            ]
        ),
        Reply.text("second try"),
    )

    response = make()("q", stream=True)

    assert "".join(response) == "second try"
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("kind", "error_type", "status"),
    [
        ("overloaded_error", mf.ProviderError, 529),
        ("rate_limit_error", mf.RateLimitError, 429),
        ("invalid_request_error", mf.BadRequestError, 400),
        ("api_error", mf.ProviderError, 500),
    ],
)
async def test_an_error_event_before_content_raises_at_the_call(
    server, make, kind, error_type, status
):
    server.enqueue(Reply.raw_events([_start(), _error_event(kind, "stream says no")]))

    with pytest.raises(error_type) as caught:
        await make(retry=False).acall("q", stream=True)

    assert (caught.value.status, caught.value.message) == (status, "stream says no")
    assert len(server.requests) == 1


def test_an_error_event_after_content_reaches_the_reader_with_its_type(server, make):
    text_start = event_frame(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    )
    delta = event_frame(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Half"}}
    )
    server.enqueue(
        Reply.raw_events(
            [_start(), text_start, delta, _error_event("overloaded_error", "Overloaded")]
        )
    )

    response = make()("q", stream=True)

    chunks = []
    with pytest.raises(mf.ProviderError) as caught:
        for chunk in response:
            chunks.append(chunk)
    assert chunks == ["Half"] and caught.value.status == 529
    assert len(server.requests) == 1  # content was delivered: never sent again


def test_an_error_body_sent_with_200_is_an_error(server, make):
    server.enqueue(
        Reply.raw(200, b'{"type":"error","error":{"type":"overloaded_error","message":"busy"}}')
    )
    server.enqueue(Reply.text("fine"))

    assert make()("q").consume() == "fine"  # raised as a 529, so retried
    assert len(server.requests) == 2


def test_an_undecodable_answer_keeps_the_raw_text(server, make):
    server.enqueue(Reply.raw(200, b"<html>oops</html>"))

    with pytest.raises(mf.ResponseDecodeError) as caught:
        make()("q")

    assert caught.value.raw_text == "<html>oops</html>"
