"""The retry policy: what is retried, how long it waits, its bounds, and how to replace it.

Counting requests at the loopback server is what proves the behaviour: the ``openai`` SDK
would retry 429/5xx twice on its own, so an exact count also proves its retries are off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import tenacity

import msgflux as mf
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
from msgflux.utils.retry import (
    DEFAULT_RETRY,
    build_retrying,
    check_retry_policy,
    is_retryable,
    parse_retry_after,
)


def retry_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "msgflux.retry"]


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


# -- the policy on its own -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ProviderConnectionError("refused"), True),
        (RequestTimeoutError("slow"), True),
        (ConnectionResetError("reset by a custom client"), True),
        (TimeoutError("a custom client's timeout"), True),
        (ProviderError("timeout", status=408), True),
        (ProviderError("conflict", status=409), True),
        (RateLimitError("slow down", status=429), True),
        (ProviderError("boom", status=500), True),
        (ProviderError("bad gateway", status=502), True),
        (ProviderError("busy", status=503), True),
        (ProviderError("gateway timeout", status=504), True),
        (ProviderError("cloudflare", status=520), True),
        (BadRequestError("invalid", status=400), False),
        (AuthenticationError("bad key", status=401), False),
        (AuthenticationError("forbidden", status=403), False),
        (BadRequestError("no such model", status=404), False),
        (BadRequestError("unprocessable", status=422), False),
        (
            RateLimitError("quota", status=429, body={"error": {"code": "insufficient_quota"}}),
            False,
        ),
        (ProviderError("error event in a stream"), False),
        (ResponseDecodeError("not json", raw_text="{"), False),
        (ValueError("a bug"), False),
    ],
)
def test_what_is_retried(error, expected):
    assert is_retryable(error) is expected


def _wait_after(retrying: tenacity.BaseRetrying, attempt: int, error: BaseException) -> float:
    state = tenacity.RetryCallState(retrying, fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return retrying.wait(state)


def test_backoff_is_exponential_jittered_and_capped():
    retrying = build_retrying(
        {"initial_backoff": 1.0, "max_backoff": 4.0, "jitter": 0.25, "max_attempts": 10}
    )
    error = ProviderError("busy", status=503)
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0), (9, 4.0)]:
        waits = [_wait_after(retrying, attempt, error) for _ in range(50)]
        assert all(0.75 * full <= wait <= full for wait in waits), (attempt, waits)
        assert len(set(waits)) > 1, "no jitter"


def test_retry_after_replaces_the_backoff():
    retrying = build_retrying({"initial_backoff": 5.0, "max_backoff": 5.0})
    error = ProviderError("busy", status=503, headers={"Retry-After": "1.5"})
    assert error.retry_after == 1.5
    assert _wait_after(retrying, 1, error) == 1.5
    assert _wait_after(retrying, 1, RateLimitError("slow", status=429, retry_after=0)) == 0


def test_retry_after_parsing():
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after": " 0.5 "}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    assert 100 < parse_retry_after({"Retry-After": http_date(120)}) <= 121
    assert parse_retry_after({"Retry-After": http_date(-60)}) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "nan"}) is None
    assert parse_retry_after({}) is None


def test_policy_settings_are_validated():
    assert check_retry_policy(None) == dict(DEFAULT_RETRY)
    assert check_retry_policy({"max_attempts": 5})["max_attempts"] == 5
    assert check_retry_policy(False) is None
    with pytest.raises(ValueError, match="max_attemps"):
        check_retry_policy({"max_attemps": 5})
    with pytest.raises(ValueError, match="max_attempts"):
        check_retry_policy({"max_attempts": 0})
    with pytest.raises(ValueError, match="initial_backoff"):
        check_retry_policy({"initial_backoff": -1})
    with pytest.raises(TypeError, match="tenacity"):
        check_retry_policy(3)


# -- on the wire: what is retried ------------------------------------------------------------


def test_the_default_policy_retries_a_sync_call(loopback_server, transport, support):
    # No retry= at all: the earlier system's default made one attempt and sync calls
    # bypassed it. A bare 503 waits the default backoff (under half a second).
    model = mf.Model.chat_completion(
        "openai/m", base_url=loopback_server.base_url, api_key="k", transport=transport
    )
    loopback_server.enqueue(Reply.error(503, "warming up"))
    assert model("hello").data == "echo: hello"
    assert support.chat_requests(loopback_server) == 2
    model.close()


async def test_the_default_policy_retries_acall(loopback_server, transport, support):
    model = mf.Model.chat_completion(
        "openai/m", base_url=loopback_server.base_url, api_key="k", transport=transport
    )
    loopback_server.enqueue(Reply.error(503, "busy", headers={"Retry-After": "0"}))
    assert (await model.acall("hello")).data == "echo: hello"
    assert support.chat_requests(loopback_server) == 2
    model.close()


def test_the_default_policy_retries_opening_a_stream(loopback_server, transport, support):
    model = mf.Model.chat_completion(
        "openai/m", base_url=loopback_server.base_url, api_key="k", transport=transport
    )
    loopback_server.enqueue(
        Reply.error(503, "busy", headers={"Retry-After": "0"}),
        Reply.text("streamed after a retry", reset_before=True),
    )
    response = model("hello", stream=True)
    assert "".join(response) == "echo: hello"
    assert support.chat_requests(loopback_server) == 3
    model.close()


async def test_the_default_policy_retries_opening_an_async_stream(
    loopback_server, transport, support
):
    model = mf.Model.chat_completion(
        "openai/m", base_url=loopback_server.base_url, api_key="k", transport=transport
    )
    loopback_server.enqueue(Reply.error(502, "bad gateway", headers={"Retry-After": "0"}))
    response = await model.acall("hello", stream=True)
    assert "".join([chunk async for chunk in response.consume()]) == "echo: hello"
    assert support.chat_requests(loopback_server) == 2
    model.close()


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_then_success(make_model, loopback_server, status, support, caplog):
    caplog.set_level(logging.INFO, logger="msgflux.retry")
    model = make_model()
    loopback_server.enqueue(Reply.error(status, "transient"), Reply.error(status, "transient"))
    assert model("hello").data == "echo: hello"
    assert support.chat_requests(loopback_server) == 3
    assert len(retry_logs(caplog)) == 2
    assert f"HTTP {status}" in retry_logs(caplog)[0].getMessage()


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        (Reply.error(400, "bad request"), BadRequestError),
        (Reply.error(401, "bad key"), AuthenticationError),
        (Reply.error(404, "no such model"), BadRequestError),
        (Reply.error(422, "unprocessable"), BadRequestError),
        (Reply.error(429, "quota used up", code="insufficient_quota"), RateLimitError),
    ],
)
async def test_errors_that_no_retry_cures_are_raised_at_once(
    make_model, loopback_server, reply, error_type, support
):
    model = make_model()
    loopback_server.enqueue(reply)
    with pytest.raises(error_type):
        await model.acall("hello")
    assert support.chat_requests(loopback_server) == 1


def test_attempts_are_bounded(make_model, loopback_server, support, caplog):
    caplog.set_level(logging.INFO, logger="msgflux.retry")
    model = make_model(retry={**support.FAST_RETRY, "max_attempts": 4})
    loopback_server.set_handler(lambda request: Reply.error(503, "down for good"))
    with pytest.raises(ProviderError) as caught:
        model("hello")
    assert caught.value.status == 503
    assert "down for good" in str(caught.value)
    # Exactly the policy's attempts: the SDK's own retries would have tripled them.
    assert support.chat_requests(loopback_server) == 4
    assert len(retry_logs(caplog)) == 3


def test_retry_after_seconds_is_honoured(make_model, loopback_server, support):
    arrivals: list[float] = []

    def handler(request):
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return Reply.error(429, "slow down", headers={"Retry-After": "1"})
        return None  # echo

    loopback_server.set_handler(handler)
    model = make_model()  # its own backoff is milliseconds: only Retry-After waits a second
    assert model("hello").data == "echo: hello"
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 0.95


async def test_retry_after_http_date_is_honoured(make_model, loopback_server, support):
    model = make_model()
    # A date already past: retry now.
    loopback_server.enqueue(Reply.error(429, "slow down", headers={"Retry-After": http_date(-5)}))
    assert (await model.acall("hello")).data == "echo: hello"
    assert support.chat_requests(loopback_server) == 2
    # A date an hour away: beyond the cap, so the call fails at once and says when.
    loopback_server.enqueue(Reply.error(429, "slow down", headers={"Retry-After": http_date(3600)}))
    with pytest.raises(RateLimitError) as caught:
        await model.acall("hello")
    assert 3500 < caught.value.retry_after <= 3600
    assert support.chat_requests(loopback_server) == 3


def test_retry_after_beyond_the_cap_is_not_waited_for(make_model, loopback_server, support):
    model = make_model(retry={**support.FAST_RETRY, "max_retry_after": 5})
    loopback_server.enqueue(Reply.error(503, "maintenance", headers={"Retry-After": "120"}))
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        model("hello")
    assert caught.value.retry_after == 120
    assert support.chat_requests(loopback_server) == 1
    assert time.monotonic() - started < 60  # it certainly did not wait the two minutes


def test_retry_after_ms_is_honoured(make_model, loopback_server, support):
    model = make_model()
    loopback_server.enqueue(Reply.error(429, "slow down", headers={"retry-after-ms": "20"}))
    assert model("hello").data == "echo: hello"
    assert support.chat_requests(loopback_server) == 2


def test_total_time_is_bounded(make_model, loopback_server, support):
    # Retry-After 1 s is within the cap, but waiting it would end past max_delay.
    model = make_model(retry={**support.FAST_RETRY, "max_delay": 0.3})
    loopback_server.enqueue(Reply.error(429, "slow down", headers={"Retry-After": "1"}))
    with pytest.raises(RateLimitError):
        model("hello")
    assert support.chat_requests(loopback_server) == 1


# -- choosing the policy ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_retry_false_sends_exactly_once(make_model, loopback_server, status, support):
    model = make_model(retry=False)
    loopback_server.enqueue(Reply.error(status, "no"))
    with pytest.raises(ProviderError):
        await model.acall("hello")
    loopback_server.enqueue(Reply.error(status, "no"))
    with pytest.raises(ProviderError):
        model("hello")
    assert support.chat_requests(loopback_server) == 2  # no SDK retries either


def test_retry_false_for_connection_resets(make_model, loopback_server, support):
    model = make_model(retry=False)
    loopback_server.enqueue(Reply.text("x", reset_before=True))
    with pytest.raises(ProviderConnectionError):
        model("hello")
    assert support.chat_requests(loopback_server) == 1


def test_a_settings_dict_replaces_some_defaults(make_model, loopback_server, support):
    model = make_model(retry={**support.FAST_RETRY, "max_attempts": 2})
    loopback_server.set_handler(lambda request: Reply.error(500, "broken"))
    with pytest.raises(ProviderError):
        model("hello")
    assert support.chat_requests(loopback_server) == 2


def test_a_tenacity_object_replaces_the_policy(make_model, loopback_server, support):
    seen: list[int] = []
    policy = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(5),
        wait=tenacity.wait_none(),
        retry=tenacity.retry_if_exception_type(BadRequestError),  # the caller's choice
        after=lambda state: seen.append(state.attempt_number),
        reraise=True,
    )
    model = make_model(retry=policy)
    loopback_server.enqueue(Reply.error(400, "flaky validator"), Reply.error(400, "again"))
    assert model("hello").data == "echo: hello"
    assert support.chat_requests(loopback_server) == 3
    assert seen == [1, 2]
    # A 503 is not in this policy's conditions: raised at once.
    loopback_server.enqueue(Reply.error(503, "busy"))
    with pytest.raises(ProviderError):
        model("hello")
    assert support.chat_requests(loopback_server) == 4


async def test_a_sync_tenacity_object_drives_acall_too(make_model, loopback_server, support):
    policy = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_none(), reraise=True
    )
    model = make_model(retry=policy)
    loopback_server.enqueue(Reply.error(500, "a"), Reply.error(500, "b"), Reply.error(500, "c"))
    with pytest.raises(ProviderError, match="c"):
        await model.acall("hello")
    assert support.chat_requests(loopback_server) == 3


async def test_an_async_tenacity_object(make_model, loopback_server, support):
    policy = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(2), wait=tenacity.wait_none(), reraise=True
    )
    model = make_model(retry=policy)
    loopback_server.enqueue(Reply.error(503, "busy"))
    assert (await model.acall("hello")).data == "echo: hello"
    loopback_server.enqueue(Reply.error(503, "busy"))
    response = await model.acall("hello", stream=True)
    assert "".join([chunk async for chunk in response.consume()]) == "echo: hello"
    assert support.chat_requests(loopback_server) == 4
    # ...and the same object drives sync calls (from a thread: this one runs the loop).
    loopback_server.enqueue(Reply.error(503, "busy"))
    answer = await asyncio.to_thread(model, "hello")
    assert answer.data == "echo: hello"
    assert support.chat_requests(loopback_server) == 6


# -- connection failures -----------------------------------------------------------------------


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("stream", [False, True])
def test_connection_refused_is_retried_then_raised(transport, support, caplog, stream):
    caplog.set_level(logging.INFO, logger="msgflux.retry")
    model = mf.Model.chat_completion(
        "openai/m",
        base_url=f"http://127.0.0.1:{_closed_port()}/v1",
        api_key=support.API_KEY,
        transport=transport,
        retry={**support.FAST_RETRY, "max_attempts": 3},
    )
    with pytest.raises(ProviderConnectionError) as caught:
        model("hello", stream=stream)
    assert caught.value.provider == "openai"
    assert caught.value.status is None
    assert caught.value.__cause__ is not None
    assert len(retry_logs(caplog)) == 2
    model.close()


async def test_connection_refused_async(transport, support, caplog):
    caplog.set_level(logging.INFO, logger="msgflux.retry")
    model = mf.Model.chat_completion(
        "openai/m",
        base_url=f"http://127.0.0.1:{_closed_port()}/v1",
        api_key=support.API_KEY,
        transport=transport,
        retry={**support.FAST_RETRY, "max_attempts": 2},
    )
    with pytest.raises(ProviderConnectionError):
        await model.acall("hello")
    assert len(retry_logs(caplog)) == 1
    model.close()
