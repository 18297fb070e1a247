"""``retry=tenacity.retry(...)``: programs written for msgflux 0.5 keep their retry policy.

msgflux 0.5 took the tenacity *decorator* as ``retry=`` and applied it to the model's
calls. These tests are written the way such a program is: the decorator, built with
tenacity's own functions, passed to ``mf.Model.chat_completion``; the loopback server
counts what actually reached it, so the attempts follow the decorator's stop condition,
not msgflux's default policy (3 attempts).
"""

from __future__ import annotations

import pytest
import tenacity

import msgflux as mf
from msgflux.errors import ProviderError, RateLimitError
from msgflux.testing.server import Reply
from msgflux.utils.tenacity import apply_retry


@pytest.fixture
def model_with(loopback_server, transport):
    """``model_with(retry)``: an ``openai/gpt-4o`` model on the loopback server."""
    models = []

    def make(retry):
        model = mf.Model.chat_completion(
            "openai/gpt-4o",
            base_url=loopback_server.base_url,
            api_key="sk-test",
            transport=transport,
            retry=retry,
        )
        models.append(model)
        return model

    yield make
    for model in models:
        model.close()


@pytest.mark.parametrize("attempts", [2, 5])
def test_the_decorator_bounds_the_attempts_of_a_call(
    model_with, loopback_server, support, attempts
):
    model = model_with(
        tenacity.retry(stop=tenacity.stop_after_attempt(attempts), wait=tenacity.wait_fixed(0))
    )
    loopback_server.enqueue(*[Reply.error(500, "warming up")] * (attempts - 1))

    assert model("hello").consume() == "echo: hello"
    assert support.chat_requests(loopback_server) == attempts


def test_when_the_decorator_gives_up_the_call_raises_what_tenacity_raises(
    model_with, loopback_server, support
):
    # Without reraise=True a tenacity decorator raises RetryError holding the last attempt,
    # as it did around msgflux 0.5's calls.
    model = model_with(
        tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_fixed(0))
    )
    loopback_server.set_handler(lambda request: Reply.error(503, "down"))

    with pytest.raises(tenacity.RetryError) as caught:
        model("hello")

    assert support.chat_requests(loopback_server) == 3
    assert isinstance(caught.value.last_attempt.exception(), ProviderError)


def test_reraise_true_raises_the_providers_error(model_with, loopback_server, support):
    model = model_with(
        tenacity.retry(
            stop=tenacity.stop_after_attempt(2), wait=tenacity.wait_fixed(0), reraise=True
        )
    )
    loopback_server.set_handler(lambda request: Reply.error(503, "down"))

    with pytest.raises(ProviderError, match="down"):
        model("hello")
    assert support.chat_requests(loopback_server) == 2


async def test_acall_follows_the_decorator(model_with, loopback_server, support):
    model = model_with(
        tenacity.retry(stop=tenacity.stop_after_attempt(4), wait=tenacity.wait_fixed(0))
    )
    loopback_server.enqueue(*[Reply.error(502, "bad gateway")] * 3)

    response = await model.acall("hello")

    assert response.consume() == "echo: hello"
    assert support.chat_requests(loopback_server) == 4


def test_opening_a_stream_follows_the_decorator(model_with, loopback_server, support):
    model = model_with(
        tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_fixed(0))
    )
    loopback_server.enqueue(Reply.error(503, "busy"), Reply.error(503, "busy"))

    response = model("hello", stream=True)

    assert "".join(response) == "echo: hello"
    assert support.chat_requests(loopback_server) == 3


def test_the_decorators_retry_condition_is_kept(model_with, loopback_server, support):
    model = model_with(
        tenacity.retry(
            stop=tenacity.stop_after_attempt(5),
            wait=tenacity.wait_fixed(0),
            retry=tenacity.retry_if_exception_type(RateLimitError),
            reraise=True,
        )
    )
    loopback_server.enqueue(Reply.error(429, "slow down"))
    assert model("hello").consume() == "echo: hello"
    assert support.chat_requests(loopback_server) == 2

    loopback_server.enqueue(Reply.error(500, "broken"))  # not a RateLimitError: no retry
    with pytest.raises(ProviderError, match="broken"):
        model("hello")
    assert support.chat_requests(loopback_server) == 3


def test_something_else_from_tenacity_is_refused_at_construction(model_with):
    # A stop condition is not a policy: a clear error names what retry= accepts.
    with pytest.raises(TypeError, match=r"tenacity\.retry\(\.\.\.\) decorator"):
        model_with(tenacity.stop_after_attempt(3))


def test_apply_retry_takes_the_decorator_too():
    # The spec's custom-client recipe passes the model's retry= to apply_retry.
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset by a custom client")
        return "ok"

    decorator = tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_fixed(0))

    assert apply_retry(flaky, decorator)() == "ok"
    assert len(calls) == 3
