"""Fault injection over several servers at once: each server scripted, each test asserting
what the caller gets, how many requests each server saw, and how long the call took.

Faults that would last (a ``Retry-After`` of a minute, a reply delayed for a minute) are
far longer than the bounds asserted: a gateway that waited for them fails the test. The
bounds are generous (the machine is shared), the faults much longer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import msgflux as mf
from msgflux.errors import (
    AuthenticationError,
    BadRequestError,
    ModelRouterError,
    ProviderError,
    RateLimitError,
)
from msgflux.testing.server import Reply

NEVER = 60.0  # seconds: a fault that outlasts every bound below
BOUND = 15.0  # seconds: what a call that does not wait for the fault takes, at most

MODES = ["call", "acall", "stream", "astream"]


def ask(gateway: Any, mode: str, prompt: str = "hello", **options: Any) -> tuple[str, Any]:
    """``(answer text, metadata.gateway)`` through one way of calling, within ``BOUND``."""
    started = time.monotonic()
    answer = _ask(gateway, mode, prompt, **options)
    assert time.monotonic() - started < BOUND  # no fault below is waited out
    return answer


def _ask(gateway: Any, mode: str, prompt: str, **options: Any) -> tuple[str, Any]:
    if mode == "call":
        response = gateway(prompt, **options)
        return response.consume(), response.metadata.gateway
    if mode == "stream":
        response = gateway(prompt, stream=True, **options)
        return "".join(response), response.metadata.gateway

    async def run() -> tuple[str, Any]:
        if mode == "acall":
            response = await gateway.acall(prompt, **options)
            return response.consume(), response.metadata.gateway
        response = await gateway.acall(prompt, stream=True, **options)
        text = "".join([chunk async for chunk in response.consume()])
        return text, response.metadata.gateway

    return asyncio.run(run())


def tried(meta: Any) -> list[str]:
    return [attempt["deployment"] for attempt in meta.attempts]


@pytest.fixture
def pair(servers, deploy):
    """Two servers and a gateway over them: ``a`` first, ``b`` its standby replica."""
    a, b = servers(2)
    gateway = mf.ModelGateway(
        [
            {"name": "a", "group": "chat", "model": deploy(a)},
            {"name": "b", "group": "chat", "model": deploy(b)},
        ],
        cooldown=NEVER,
    )
    return a, b, gateway


# -- rate limits -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_429_with_retry_after_moves_on_at_once_and_rests_the_deployment(
    pair, count, stopwatch, mode
):
    a, b, gateway = pair
    a.enqueue(Reply.error(429, "slow down", headers={"Retry-After": str(int(NEVER))}))
    with stopwatch() as watch:
        text, meta = ask(gateway, mode)
    assert text == "echo: hello" and meta.deployment == "b"
    assert tried(meta) == ["a", "b"] and meta.attempts[0]["error"].startswith("RateLimitError")
    assert (count(a), count(b)) == (1, 1)
    assert watch.seconds < BOUND  # it did not wait for the Retry-After
    # Resting: the next call does not even try it.
    text, meta = ask(gateway, mode)
    assert tried(meta) == ["b"] and (count(a), count(b)) == (1, 2)
    health = gateway.stats()["deployments"]["a"]
    assert health["state"] == "open" and health["open_for"] > NEVER - BOUND


def test_429_without_retry_after_fails_over_and_leaves_the_circuit_alone(pair, count, stopwatch):
    a, b, gateway = pair
    a.enqueue(*[Reply.error(429, "slow down")] * 5)  # more than failure_threshold
    for _ in range(5):
        with stopwatch() as watch:
            text, meta = ask(gateway, "call")
        assert tried(meta) == ["a", "b"] and text == "echo: hello"
        assert watch.seconds < BOUND
    health = gateway.stats()["deployments"]["a"]
    assert health["state"] == "closed" and health["consecutive_failures"] == 0
    assert health["failures"] == 5  # each a failed attempt, none a verdict on its health
    assert ask(gateway, "call")[1].deployment == "a"  # busy, not down: a is tried again
    assert (count(a), count(b)) == (6, 5)


def test_a_used_up_quota_429_counts_as_a_failure(pair):
    a, _, gateway = pair
    a.enqueue(Reply.error(429, "no credit", code="insufficient_quota"))
    assert tried(ask(gateway, "call")[1]) == ["a", "b"]
    assert gateway.stats()["deployments"]["a"]["consecutive_failures"] == 1


def test_a_single_deployment_rate_limited_raises_with_the_wait(deploy, servers, count, stopwatch):
    (a,) = servers(1)
    gateway = mf.ModelGateway([{"name": "a", "model": deploy(a)}])
    a.enqueue(Reply.error(429, "slow down", headers={"Retry-After": "30"}))
    with stopwatch() as watch, pytest.raises(ModelRouterError) as caught:
        gateway("hello")
    assert watch.seconds < BOUND  # raised at once, not after the 30 s
    (attempt,) = caught.value.attempts
    assert isinstance(attempt.error, RateLimitError) and attempt.error.retry_after == 30
    with pytest.raises(
        ModelRouterError, match=r"a: not tried, circuit open for [23]\d\.\d\d s more"
    ):
        gateway("hello")
    assert count(a) == 1


# -- server errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_500_then_healthy(pair, count, mode):
    a, b, gateway = pair
    a.enqueue(Reply.error(500, "oops"))
    text, meta = ask(gateway, mode)
    assert text == "echo: hello" and tried(meta) == ["a", "b"]
    text, meta = ask(gateway, mode)
    assert tried(meta) == ["a"]  # one failure does not open the circuit
    assert (count(a), count(b)) == (2, 1)


def test_the_deployments_own_retries_are_off(deploy, servers, count, stopwatch):
    (a,) = servers(1)
    model = deploy(a)  # the default policy would retry a 503 twice
    gateway = mf.ModelGateway([{"name": "a", "model": model}])
    a.enqueue(Reply.error(503, "overloaded"))
    with stopwatch() as watch, pytest.raises(ModelRouterError):
        gateway("hello")
    assert watch.seconds < BOUND
    assert count(a) == 1
    a.enqueue(Reply.error(503, "overloaded"))
    assert model("hello").consume() == "echo: hello"  # the model itself still retries
    assert count(a) == 3


@pytest.mark.parametrize("mode", MODES)
def test_a_persistent_503_costs_failure_threshold_attempts_then_nothing(
    servers, deploy, count, stopwatch, mode
):
    a, b = servers(2)
    a.set_handler(lambda request: Reply.error(503, "down for maintenance"))
    gateway = mf.ModelGateway(
        [{"name": "a", "model": deploy(a)}, {"name": "b", "model": deploy(b)}],
        failure_threshold=2,
        cooldown=NEVER,
    )
    with stopwatch() as watch:
        answers = [ask(gateway, mode) for _ in range(10)]
    assert [text for text, _ in answers] == ["echo: hello"] * 10
    assert [tried(meta) for _, meta in answers] == [["a", "b"]] * 2 + [["b"]] * 8
    assert (count(a), count(b)) == (2, 10)
    assert watch.seconds < BOUND
    stats = gateway.stats()
    assert stats["open_circuits"] == ["a"] and stats["failovers"] == 2
    assert stats["calls"] == stats["answered"] == 10


# -- connections -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_tcp_reset_before_any_header(raw_server, servers, deploy, count, stopwatch, mode):
    broken = raw_server("reset")
    (b,) = servers(1)
    gateway = mf.ModelGateway(
        [{"name": "a", "model": deploy(broken)}, {"name": "b", "model": deploy(b)}]
    )
    with stopwatch() as watch:
        text, meta = ask(gateway, mode)
    assert text == "echo: hello" and tried(meta) == ["a", "b"]
    assert meta.attempts[0]["error"].startswith("ProviderConnectionError")
    assert (count(broken), count(b)) == (1, 1)
    assert watch.seconds < BOUND


@pytest.mark.parametrize("mode", MODES)
def test_a_server_that_accepts_and_never_answers(
    raw_server, servers, deploy, count, stopwatch, mode
):
    silent = raw_server("silent")
    (b,) = servers(1)
    gateway = mf.ModelGateway(
        [
            {"name": "a", "model": deploy(silent), "timeout": 0.5},
            {"name": "b", "model": deploy(b)},
        ]
    )
    with stopwatch() as watch:
        text, meta = ask(gateway, mode)
    assert text == "echo: hello" and tried(meta) == ["a", "b"]
    assert meta.attempts[0]["error"].startswith("RequestTimeoutError")
    assert (count(silent), count(b)) == (1, 1)
    assert 0.5 <= watch.seconds < BOUND  # bounded by a's timeout


def test_connection_refused(servers, deploy, count):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (b,) = servers(1)
    nowhere = mf.Model.chat_completion(
        "openai/m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k"
    )
    with mf.ModelGateway(
        [{"name": "a", "model": nowhere}, {"name": "b", "model": deploy(b)}]
    ) as gateway:
        _, meta = ask(gateway, "call")
    assert tried(meta) == ["a", "b"] and count(b) == 1


# -- refusals: never failed over ------------------------------------------------------------------


@pytest.fixture
def groups(servers, deploy):
    """``small`` (replicas a and b) falling back to ``large`` (c)."""
    a, b, c = servers(3)

    def build(**options: Any) -> Any:
        return mf.ModelGateway(
            [
                {"name": "a", "group": "small", "model": deploy(a)},
                {"name": "b", "group": "small", "model": deploy(b)},
                {"name": "c", "group": "large", "model": deploy(c)},
            ],
            fallbacks={"small": ["large"]},
            **options,
        )

    return a, b, c, build


TOO_LONG = Reply.error(
    400,
    "This model's maximum context length is 2048 tokens. However, you requested 3000 tokens.",
    code="context_length_exceeded",
)


@pytest.mark.parametrize("mode", MODES)
def test_context_length_goes_to_the_declared_larger_group(groups, count, mode):
    a, b, c, build = groups
    gateway = build(context_length_fallbacks={"small": ["large"]})
    a.enqueue(TOO_LONG)
    text, meta = ask(gateway, mode)
    assert text == "echo: hello" and meta.deployment == "c" and meta.group == "large"
    assert tried(meta) == ["a", "c"]  # b, a replica of the same size, is skipped
    assert (count(a), count(b), count(c)) == (1, 0, 1)
    assert gateway.stats()["deployments"]["a"]["state"] == "closed"  # a is healthy


def test_context_length_without_a_declared_group_is_raised(groups, count, stopwatch):
    a, b, c, build = groups
    gateway = build()
    a.enqueue(TOO_LONG)
    with stopwatch() as watch, pytest.raises(BadRequestError, match="maximum context length"):
        gateway("hello")
    assert watch.seconds < BOUND
    assert (count(a), count(b), count(c)) == (1, 0, 0)


@pytest.mark.parametrize("mode", MODES)
def test_a_content_policy_error_is_raised_not_failed_over(groups, count, stopwatch, mode):
    a, b, c, build = groups
    gateway = build(failover_on=["unavailable", "rate_limited", "bad_request"])
    a.enqueue(
        Reply.error(
            400,
            "Your request was rejected as a result of our safety system.",
            code="content_policy_violation",
        )
    )
    with stopwatch() as watch, pytest.raises(BadRequestError) as caught:
        ask(gateway, mode)
    assert watch.seconds < BOUND
    assert caught.value.body["error"]["code"] == "content_policy_violation"
    assert (count(a), count(b), count(c)) == (1, 0, 0)


@pytest.mark.parametrize("mode", MODES)
def test_a_content_filter_answer_is_returned_as_it_is(groups, count, mode):
    a, b, c, build = groups
    gateway = build()
    a.enqueue(Reply.text("I can't", finish_reason="content_filter"))
    text, meta = ask(gateway, mode)
    assert text == "I can't" and tried(meta) == ["a"]
    assert (count(a), count(b), count(c)) == (1, 0, 0)


def test_a_refusal_in_the_message_is_returned_as_it_is(groups, count):
    a, b, c, build = groups
    a.enqueue(Reply.text(None, refusal="I can't help with that."))
    response = build()("hello")
    assert response.metadata.refusal == "I can't help with that."
    assert response.metadata.gateway.deployment == "a"
    assert (count(a), count(b), count(c)) == (1, 0, 0)


def test_a_bad_request_is_raised_with_the_attempts_before_it(groups, count, stopwatch):
    a, b, c, build = groups
    gateway = build()
    a.enqueue(Reply.error(503, "overloaded"))
    b.enqueue(Reply.error(400, "temperature must be at most 2", code="invalid_value"))
    with stopwatch() as watch, pytest.raises(BadRequestError) as caught:
        gateway("hello")
    assert watch.seconds < BOUND
    assert (
        "msgflux gateway: attempts before this one: a: ProviderError" in caught.value.__notes__[0]
    )
    assert (count(a), count(b), count(c)) == (1, 1, 0)


def test_auth_errors_fail_over_only_when_asked(groups, count, stopwatch):
    a, b, c, build = groups
    a.enqueue(Reply.error(401, "invalid api key"))
    with stopwatch() as watch, pytest.raises(AuthenticationError):
        build()("hello")
    assert watch.seconds < BOUND
    a.enqueue(Reply.error(401, "invalid api key"))
    assert build(failover_on=["unavailable", "auth"])("hello").metadata.gateway.deployment == "b"
    assert (count(a), count(b), count(c)) == (2, 1, 0)


def test_a_bad_argument_is_raised_before_any_request(groups, count):
    a, b, c, build = groups
    with pytest.raises(TypeError, match="Did you mean 'temperature'"):
        build()("hello", temprature=0.2)
    assert (count(a), count(b), count(c)) == (0, 0, 0)


def test_every_group_down_raises_model_router_error_with_every_attempt(groups, count, stopwatch):
    a, b, c, build = groups
    for server in (a, b, c):
        server.set_handler(lambda request: Reply.error(502, "bad gateway"))
    with stopwatch() as watch, pytest.raises(ModelRouterError) as caught:
        build()("hello")
    error = caught.value
    assert [a.deployment for a in error.attempts] == ["a", "b", "c"]
    assert all(isinstance(a.error, ProviderError) and a.error.status == 502 for a in error.attempts)
    assert "groups 'small' -> 'large'" in str(error)
    assert (count(a), count(b), count(c)) == (1, 1, 1)
    assert watch.seconds < BOUND
