"""Rate-limit headers of an answer reach ``response.metadata.rate_limit`` on every transport."""

from __future__ import annotations

import pytest

from msgflux.testing.server import Reply
from msgflux.utils.rate_limits import RateLimit, parse_duration

HEADERS = {
    "X-RateLimit-Limit-Requests": "500",
    "X-RateLimit-Remaining-Requests": "7",
    "X-RateLimit-Reset-Requests": "1m30.5s",
    "x-ratelimit-remaining-tokens": "1200",
    "x-ratelimit-reset-tokens": "250ms",
    "X-Request-Id": "req-1",  # not a rate-limit header: left out
}
EXPECTED = {
    "x-ratelimit-limit-requests": "500",
    "x-ratelimit-remaining-requests": "7",
    "x-ratelimit-reset-requests": "1m30.5s",
    "x-ratelimit-remaining-tokens": "1200",
    "x-ratelimit-reset-tokens": "250ms",
}


def test_a_whole_answer_carries_them(loopback_server, make_model):
    loopback_server.enqueue(Reply.text("hi", headers=HEADERS))

    response = make_model()("x")

    assert response.metadata.rate_limit == EXPECTED


async def test_an_async_answer_carries_them(loopback_server, make_model):
    loopback_server.enqueue(Reply.text("hi", headers=HEADERS))

    response = await make_model().acall("x")

    assert response.metadata.rate_limit == EXPECTED


def test_a_sync_stream_carries_them(loopback_server, make_model):
    loopback_server.enqueue(Reply.text("one two", headers=HEADERS))

    response = make_model()("x", stream=True)
    assert "".join(response) == "one two"

    assert response.metadata.rate_limit == EXPECTED


async def test_an_async_stream_carries_them(loopback_server, make_model):
    loopback_server.enqueue(Reply.text("one two", headers=HEADERS))

    response = await make_model().acall("x", stream=True)
    await response.aresult()

    assert response.metadata.rate_limit == EXPECTED


def test_an_answer_without_them_has_none(make_model):
    response = make_model()("x")

    assert "rate_limit" not in response.metadata


def test_they_read_as_numbers():
    limits = RateLimit.of(EXPECTED)

    assert limits.remaining_requests == 7
    assert limits.limit_requests == 500
    assert limits.reset_requests == pytest.approx(90.5)
    assert limits.remaining_tokens == 1200
    assert limits.reset_tokens == pytest.approx(0.25)
    assert RateLimit.of({}) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3s", 3723.0), ("2.5", 2.5)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "-"])
def test_unreadable_durations(text):
    assert parse_duration(text) is None
