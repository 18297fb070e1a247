"""``ModelRouterError.rate_limited`` / ``retry_after``: a call that no deployment answered
because of rate limits alone says so, and says when the soonest deployment is back.

Deployments are scripted stand-ins (offline) on a hand-moved clock, as in test_breaker.py.
"""

from __future__ import annotations

import datetime
import pickle
import threading

import pytest

import msgflux as mf
from msgflux.errors import ModelRouterError, ProviderError, RateLimitError
from msgflux.utils.retry import is_rate_limit, is_retryable

NOON = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Scripted:
    """A chat-completion stand-in: raises what ``failures`` holds, else answers."""

    model_type = "chat_completion"
    provider = "fake"

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.failures: list[BaseException] = []
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.clock: Clock | None = None  # moved on by ``takes`` seconds by each answer
        self.takes = 0.0

    def __call__(self, messages, **options):
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(30)
        if self.failures:
            raise self.failures.pop(0)
        if self.clock is not None:
            self.clock.now += self.takes
        return mf.Model.chat_completion("fake/echo")(messages)

    async def acall(self, messages, **options):
        return self(messages, **options)


def slow_down(retry_after: float | None = None) -> RateLimitError:
    return RateLimitError("slow down", status=429, retry_after=retry_after)


def down() -> ProviderError:
    return ProviderError("down", status=503, provider="fake")


@pytest.fixture
def setup():
    clock = Clock()
    a, b = Scripted("a"), Scripted("b")
    gateway = mf.ModelGateway(
        [{"name": "a", "model": a}, {"name": "b", "model": b}],
        failure_threshold=1,
        cooldown=30,
        clock=clock,
    )
    return clock, a, b, gateway


def refused(gateway) -> ModelRouterError:
    with pytest.raises(ModelRouterError) as caught:
        gateway("hi")
    return caught.value


def test_every_deployment_rate_limited_says_when_the_first_is_back(setup):
    clock, a, b, gateway = setup
    a.failures, b.failures = [slow_down(5.0)], [slow_down(8.0)]

    error = refused(gateway)

    assert error.rate_limited is True and error.retry_after == 5.0
    assert is_rate_limit(error) and not is_retryable(error)
    clock.now += 2
    resting = refused(gateway)  # both rest: nothing is sent
    assert resting.attempts == []
    assert resting.rate_limited is True and resting.retry_after == 3.0
    clock.now += 3
    assert gateway("hi").metadata.gateway.deployment == "a"


def test_a_429_without_retry_after_is_a_rate_limit_with_no_wait(setup):
    clock, a, _b, _ = setup
    gateway = mf.ModelGateway([{"name": "a", "model": a}], failure_threshold=3, clock=clock)
    a.failures = [slow_down()]

    error = refused(gateway)

    assert error.rate_limited is True and error.retry_after == 0.0


def test_a_deployment_that_failed_otherwise_makes_it_no_rate_limit(setup):
    _clock, a, b, gateway = setup
    a.failures, b.failures = [slow_down(5.0)], [down()]

    error = refused(gateway)

    assert error.rate_limited is False and error.retry_after is None
    assert not is_rate_limit(error)


def test_a_used_up_quota_is_no_rate_limit(setup):
    _clock, a, b, gateway = setup
    quota = RateLimitError("quota", status=429, body={"error": {"code": "insufficient_quota"}})
    a.failures, b.failures = [quota], [slow_down(5.0)]

    assert refused(gateway).rate_limited is False


def test_circuits_open_for_outages_alone_are_no_rate_limit(setup):
    _clock, a, b, gateway = setup
    a.failures, b.failures = [down()], [down()]
    assert refused(gateway).rate_limited is False

    error = refused(gateway)  # both resting after outages

    assert error.attempts == [] and error.rate_limited is False and error.retry_after is None


def test_one_rate_limited_and_one_resting_after_an_outage_is_a_rate_limit(setup):
    clock, a, b, gateway = setup
    a.failures = [down()]
    assert gateway("hi").metadata.gateway.deployment == "b"  # a rests 30 s
    clock.now += 10
    b.failures = [slow_down(40.0)]

    error = refused(gateway)

    assert error.rate_limited is True and error.retry_after == 20.0  # a's probe comes first


def test_a_deployment_outside_its_hours_does_not_count(setup):
    clock, a, b, _ = setup
    gateway = mf.ModelGateway(
        [
            {"name": "a", "model": a},
            {"name": "b", "model": b, "time_constraints": [("11:00", "13:00")]},
        ],
        clock=clock,
        utc_clock=lambda: NOON,
    )
    a.failures = [slow_down(2.0)]

    error = refused(gateway)

    assert error.unavailable == {"b": "outside its time_constraints"}
    assert error.rate_limited is True and error.retry_after == 2.0


def test_a_probe_in_flight_is_expected_back_after_its_latency(setup):
    clock, a, b, gateway = setup
    a.clock, a.takes = clock, 0.25
    assert gateway("hi").metadata.gateway.deployment == "a"  # a's latency: 0.25 s
    a.failures, b.failures = [slow_down(1.0)], [slow_down(60.0)]
    refused(gateway)
    clock.now += 1
    a.gate = threading.Event()
    prober = threading.Thread(target=gateway, args=("probe",))
    prober.start()
    try:
        assert a.entered.wait(30)
        error = refused(gateway)  # a probes (half-open), b rests
    finally:
        a.gate.set()
        prober.join(30)

    assert error.rate_limited is True and error.retry_after == 0.25


def test_the_verdict_survives_pickling():
    error = ModelRouterError("no deployment answered", rate_limited=True, retry_after=1.5)

    again = pickle.loads(pickle.dumps(error))

    assert (again.rate_limited, again.retry_after) == (True, 1.5)
    assert ModelRouterError("x").rate_limited is False
