"""The circuit breaker's state machine, driven through a gateway with a hand-moved clock.

The deployments are ``fake`` models whose answers are scripted (offline, no server), so
each step of the machine is one call: closed -> open after ``failure_threshold`` failures,
no request while open, one probe when the cooldown is over (others go elsewhere while it
runs), closed again when it answers, open for a new cooldown when it fails.
"""

from __future__ import annotations

import threading

import pytest

import msgflux as mf
from msgflux.errors import ModelRouterError, ProviderError, RateLimitError
from msgflux.gateway._breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """A chat-completion stand-in: raises what ``failures`` holds, else answers."""

    model_type = "chat_completion"
    provider = "fake"

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.failures: list[BaseException] = []
        self.calls = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def __call__(self, messages, **options):
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.failures:
            raise self.failures.pop(0)
        return mf.Model.chat_completion("fake/echo")(messages)

    async def acall(self, messages, **options):
        return self(messages, **options)


def down(count: int) -> list[BaseException]:
    return [ProviderError("down", status=503, provider="fake") for _ in range(count)]


@pytest.fixture
def setup():
    clock = Clock()
    primary, standby = Flaky("primary"), Flaky("standby")
    gateway = mf.ModelGateway(
        [{"name": "primary", "model": primary}, {"name": "standby", "model": standby}],
        failure_threshold=2,
        cooldown=30,
        clock=clock,
    )
    return clock, primary, standby, gateway


def state(gateway, name="primary"):
    return gateway.stats()["deployments"][name]


def test_consecutive_failures_open_the_circuit(setup):
    _clock, primary, _standby, gateway = setup
    primary.failures = down(2)
    for _ in range(2):
        assert gateway("hi").metadata.gateway.deployment == "standby"
    assert state(gateway)["state"] == OPEN and state(gateway)["open_for"] == 30
    # While open: no request reaches the primary.
    for _ in range(5):
        assert gateway("hi").metadata.gateway.attempts == [
            {"deployment": "standby", "model": "fake/standby", "error": None}
        ]
    assert primary.calls == 2
    assert gateway.stats()["open_circuits"] == ["primary"]


def test_an_answer_resets_the_count(setup):
    _clock, primary, _standby, gateway = setup
    primary.failures = [down(1)[0]]
    gateway("hi")
    gateway("hi")  # the primary answers: its count is back to zero
    primary.failures = down(1)
    gateway("hi")
    assert state(gateway)["state"] == CLOSED and state(gateway)["consecutive_failures"] == 1


def test_one_probe_after_the_cooldown_closes_it_on_success(setup):
    clock, primary, _standby, gateway = setup
    primary.failures = down(2)
    gateway("hi"), gateway("hi")
    clock.now += 29.9
    gateway("hi")
    assert primary.calls == 2  # still cooling down
    clock.now += 0.2
    response = gateway("hi")
    assert response.metadata.gateway.deployment == "primary"  # the probe, answered
    assert state(gateway)["state"] == CLOSED and primary.calls == 3


def test_a_failed_probe_opens_it_for_a_new_cooldown(setup):
    clock, primary, _standby, gateway = setup
    primary.failures = down(3)
    gateway("hi"), gateway("hi")
    clock.now += 31
    assert gateway("hi").metadata.gateway.deployment == "standby"  # probe failed over
    assert primary.calls == 3
    assert state(gateway)["state"] == OPEN and state(gateway)["open_for"] == 30
    assert state(gateway)["times_opened"] == 2


def test_while_the_probe_runs_other_callers_go_elsewhere(setup):
    clock, primary, _standby, gateway = setup
    primary.failures = down(2)
    gateway("hi"), gateway("hi")
    clock.now += 31
    primary.gate = threading.Event()
    primary.entered.clear()
    probe = threading.Thread(target=gateway, args=("probe",))
    probe.start()
    assert primary.entered.wait(10)
    assert state(gateway)["state"] == HALF_OPEN
    others = [gateway("hi").metadata.gateway.deployment for _ in range(3)]
    assert others == ["standby"] * 3 and primary.calls == 3
    primary.gate.set()
    probe.join(10)
    assert state(gateway)["state"] == CLOSED


def test_a_cancelled_probe_passes_the_turn_on(setup):
    clock, primary, _standby, gateway = setup
    primary.failures = [*down(2), KeyboardInterrupt()]
    gateway("hi"), gateway("hi")
    clock.now += 31
    with pytest.raises(KeyboardInterrupt):
        gateway("hi")
    assert state(gateway)["state"] == OPEN and state(gateway)["in_flight"] == 0
    assert gateway("hi").metadata.gateway.deployment == "primary"  # the next call probes


def test_retry_after_rests_the_deployment_that_long(setup):
    clock, primary, _standby, gateway = setup
    primary.failures = [RateLimitError("slow down", status=429, retry_after=5.0)]
    assert gateway("hi").metadata.gateway.deployment == "standby"
    assert state(gateway)["state"] == OPEN and state(gateway)["open_for"] == 5
    clock.now += 5
    assert gateway("hi").metadata.gateway.deployment == "primary"


def test_a_429_without_retry_after_leaves_the_circuit_alone(setup):
    _clock, primary, _standby, gateway = setup
    primary.failures = [RateLimitError("slow down", status=429) for _ in range(3)]
    for _ in range(3):  # failure_threshold is 2
        assert gateway("hi").metadata.gateway.deployment == "standby"
    assert state(gateway)["state"] == CLOSED and state(gateway)["consecutive_failures"] == 0


def test_a_probe_answered_429_without_retry_after_passes_its_turn_on(setup):
    clock, primary, _standby, gateway = setup
    primary.failures = [*down(2), RateLimitError("slow down", status=429)]
    gateway("hi"), gateway("hi")
    clock.now += 31
    assert gateway("hi").metadata.gateway.deployment == "standby"  # the probe got a 429
    assert state(gateway)["state"] == OPEN and state(gateway)["open_for"] == 0
    assert gateway("hi").metadata.gateway.deployment == "primary"  # the next call probes


def test_every_circuit_open_fails_fast(setup):
    _clock, primary, standby, gateway = setup
    primary.failures, standby.failures = down(2), down(2)
    for _ in range(2):
        with pytest.raises(ModelRouterError):
            gateway("hi")
    with pytest.raises(ModelRouterError) as caught:
        gateway("hi")
    assert caught.value.attempts == []
    assert set(caught.value.unavailable) == {"primary", "standby"}
    assert "circuit open for 30.00 s more" in str(caught.value)
    assert primary.calls == standby.calls == 2


def test_the_breaker_alone():
    breaker = CircuitBreaker(failure_threshold=1, cooldown=10)
    assert breaker.blocked(0) is None and breaker.admit() is False
    assert breaker.failed(0, probe=False, rest=None) == 10
    assert breaker.blocked(5) == "circuit open for 5.00 s more"
    assert breaker.answered(probe=False) is False  # a late answer from before: still open
    assert breaker.blocked(10) is None and breaker.admit() is True
    assert breaker.blocked(10) == "circuit half-open (its probe request is in flight)"
    assert breaker.answered(probe=True) is True and breaker.state == CLOSED
