"""A primary that goes down for a while and comes back, in real time with a short cooldown.

Every request during the outage is answered (by the standby); the dead primary sees its
``failure_threshold`` failures and then at most one probe per cooldown (the gaps between
its requests, measured by the server, are never shorter than the cooldown); once it is
back, a probe closes its circuit and the traffic returns to it.
"""

from __future__ import annotations

import itertools
import threading
import time

import msgflux as mf
from msgflux.testing.server import RecordedRequest, Reply

COOLDOWN = 0.25
THRESHOLD = 2


class Flapping:
    """A handler that answers 503 while ``down`` is set, and records when each request came."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.times: list[tuple[float, bool]] = []  # (server clock, was it down)

    def __call__(self, request: RecordedRequest) -> Reply | None:
        down = self.down.is_set()
        self.times.append((time.monotonic(), down))
        return Reply.error(503, "down for a while") if down else None


def test_a_flapping_primary(servers, deploy, count):
    primary, standby = servers(2)
    flapping = Flapping()
    primary.set_handler(flapping)
    gateway = mf.ModelGateway(
        [
            {"name": "primary", "model": deploy(primary)},
            {"name": "standby", "model": deploy(standby)},
        ],
        failure_threshold=THRESHOLD,
        cooldown=COOLDOWN,
    )

    def ask(index: int) -> str:
        response = gateway(f"request {index}")
        assert response.consume() == f"echo: request {index}"  # every request is answered
        return response.metadata.gateway.deployment

    assert {ask(i) for i in range(5)} == {"primary"}

    # The outage: at least eight cooldowns long, requests every few milliseconds.
    flapping.down.set()
    started = time.monotonic()
    answered_by = []
    while time.monotonic() - started < 8 * COOLDOWN:
        answered_by.append(ask(len(answered_by)))
        time.sleep(0.005)
    outage = time.monotonic() - started
    assert set(answered_by) == {"standby"}

    during = [at for at, down in flapping.times if down]
    assert len(during) >= THRESHOLD
    # After the first THRESHOLD failures only probes, each a full cooldown after the last.
    probes = during[THRESHOLD - 1 :]
    gaps = [later - earlier for earlier, later in itertools.pairwise(probes)]
    assert all(gap >= COOLDOWN * 0.95 for gap in gaps), gaps
    assert len(during) <= THRESHOLD + outage / COOLDOWN + 1

    # Recovery: within a few cooldowns a probe succeeds and the traffic comes back.
    flapping.down.clear()
    deadline = time.monotonic() + 40 * COOLDOWN  # generous: the machine may be busy
    while ask(0) != "primary":
        assert time.monotonic() < deadline, "the primary never got its traffic back"
        time.sleep(0.01)
    assert [ask(i) for i in range(10)] == ["primary"] * 10
    health = gateway.stats()["deployments"]["primary"]
    assert health["state"] == "closed" and health["times_opened"] >= 1
    assert count(primary) == len(flapping.times)
