"""Timeouts per model and per call; stalls end with RequestTimeoutError instead of a hang.

Each test bounds only the phase it tests (a short read limit, a generous connect limit),
so a busy machine cannot fail one through another phase: connecting to the loopback
server may take long under load, and only the stall under test has a short limit. The
stalled replies below would never finish: a missing timeout shows up as a failure after
``NEVER`` seconds, never as a pass.
"""

from __future__ import annotations

import pytest
import tenacity

import msgflux as mf
from msgflux.errors import RequestTimeoutError
from msgflux.testing.server import Reply

NEVER = 60.0  # seconds a reply waits: far longer than any timeout below
LONG = 30.0  # the limits a test does not test


def read_limit(seconds: float) -> mf.Timeout:
    return mf.Timeout(connect=LONG, read=seconds)


def test_the_models_timeout_applies(make_model, loopback_server, support):
    model = make_model(timeout=read_limit(0.3), retry=False)
    loopback_server.enqueue(Reply.text("late", delay=NEVER))
    with pytest.raises(RequestTimeoutError) as caught:
        model("hello")
    assert caught.value.provider == "openai"
    assert caught.value.__cause__ is not None
    assert support.chat_requests(loopback_server) == 1


async def test_a_calls_timeout_overrides_the_models(make_model, loopback_server):
    model = make_model(timeout=NEVER, retry=False)
    loopback_server.enqueue(Reply.text("late", delay=NEVER))
    with pytest.raises(RequestTimeoutError):
        await model.acall("hello", timeout=read_limit(0.3))
    # ...in both directions: a generous call timeout outlasts a short model timeout.
    model = make_model(timeout=read_limit(0.05), retry=False)
    loopback_server.enqueue(Reply.text("slow but fine", delay=0.3))
    assert (await model.acall("hello", timeout=NEVER)).data == "slow but fine"


def test_a_stalled_body_times_out(make_model, loopback_server):
    model = make_model(retry=False)
    loopback_server.enqueue(Reply.text("never finished", stall_after=10))  # 10 body bytes
    with pytest.raises(RequestTimeoutError):
        model("hello", timeout=read_limit(0.3))


def test_timeouts_are_retried(make_model, loopback_server, support):
    model = make_model(retry={**support.FAST_RETRY, "max_attempts": 2})
    loopback_server.enqueue(Reply.text("late", delay=NEVER))
    assert model("hello", timeout=read_limit(0.3)).data == "echo: hello"
    assert support.chat_requests(loopback_server) == 2


def test_a_stream_that_stalls_before_its_first_chunk_fails_the_call(
    make_model, loopback_server, support
):
    model = make_model(retry=False)
    loopback_server.enqueue(Reply.text("one two", stall_after=0))  # headers, then nothing
    with pytest.raises(RequestTimeoutError):
        model("hello", stream=True, timeout=read_limit(0.3))
    assert support.chat_requests(loopback_server) == 1
    assert not [t for t in support.extra_threads(set()) if t.name.startswith("msgflux-stream")]


def test_a_stream_that_stalls_midway_ends_with_a_timeout(make_model, loopback_server, support):
    model = make_model(retry=False)
    before = set(support.extra_threads(set()))
    loopback_server.enqueue(Reply.text("one two three four", stall_after=3))
    response = model("hello", stream=True, timeout=read_limit(0.3))
    received: list[str] = []
    with pytest.raises(RequestTimeoutError):
        for chunk in response:
            received.append(chunk)
    assert "".join(received) == "one two"  # what arrived before the stall is kept
    assert response.done and isinstance(response.error, RequestTimeoutError)
    assert support.wait_until(lambda: not support.extra_threads(before))


async def test_an_async_stream_that_stalls_ends_with_a_timeout(make_model, loopback_server):
    model = make_model(timeout=read_limit(0.3), retry=False)
    loopback_server.enqueue(Reply.text("one two three four", stall_after=2))
    response = await model.acall("hello", stream=True)
    received: list[str] = []
    with pytest.raises(RequestTimeoutError):
        async for chunk in response.consume():
            received.append(chunk)
    assert "".join(received) == "one"
    assert response.done


async def test_a_number_means_the_same_for_sync_and_async(make_model, loopback_server):
    # timeout=<seconds> bounds connecting and each read, never the whole answer: a reply
    # whose events are 0.2 s apart outlasts a 1.5 s limit in total, sync and async alike.
    model = make_model(retry=False)
    words = "a b c d e f g h i j"
    loopback_server.enqueue(Reply.text(words, chunk_delay=0.2), Reply.text(words, chunk_delay=0.2))
    sync_response = model("hello", stream=True, timeout=1.5)
    sync_text = "".join(sync_response)
    assert sync_text.split() == words.split()
    async_response = await model.acall("hello", stream=True, timeout=1.5)
    assert "".join([c async for c in async_response.consume()]) == sync_text


def test_the_total_deadline_bounds_every_retry(make_model, loopback_server, support):
    # Ten attempts allowed, each stalls until its read limit: the deadline ends the call
    # first, and no attempt starts after it.
    model = make_model(retry={**support.FAST_RETRY, "max_attempts": 10})
    loopback_server.enqueue(*[Reply.text("late", delay=NEVER)] * 10)
    with pytest.raises(RequestTimeoutError):
        model("hello", timeout=mf.Timeout(connect=LONG, read=0.4, total=1.0))
    assert 1 <= support.chat_requests(loopback_server) < 10


def test_the_total_deadline_joins_a_tenacity_policy_whose_stop_is_a_plain_function(
    make_model, loopback_server, support
):
    # tenacity takes any callable as `stop`; the deadline is added to it, not `|`-ed onto it.
    policy = tenacity.Retrying(stop=lambda state: state.attempt_number >= 3, reraise=True)
    model = make_model(retry=policy, timeout=mf.Timeout(connect=LONG, read=LONG, total=NEVER))
    loopback_server.enqueue(*[Reply.error(503, "busy")] * 3, Reply.text("never reached"))
    with pytest.raises(mf.ProviderError) as caught:
        model("hello")
    assert caught.value.status == 503
    assert support.chat_requests(loopback_server) == 3  # the function's own limit


@pytest.mark.parametrize("bad", [0, -1, "10", True])
def test_invalid_timeouts_are_refused(make_model, bad):
    with pytest.raises(ValueError, match="timeout"):
        make_model(timeout=bad)
    model = make_model()
    with pytest.raises(ValueError, match="timeout"):
        model("hello", timeout=bad)


def test_a_model_timeout_survives_serialization(make_model, monkeypatch, support):
    model = make_model(timeout=mf.Timeout(connect=5, read=30, total=90))
    state = model.serialize()["state"]
    assert state["timeout"] == {"connect": 5, "read": 30, "total": 90}
    monkeypatch.setenv("OPENAI_API_KEY", support.API_KEY)  # a key never travels in state
    again = mf.Model.from_serialized(model.serialize())
    assert again.timeout == mf.Timeout(connect=5, read=30, total=90)
    again.close()
