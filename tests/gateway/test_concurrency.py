"""1,000 concurrent ``acall``s over three replicas, one of them failing every other request:
no answer lost (each checked against its own request), and the load split as the strategy
says, counted by the servers. Also: threads sharing one gateway.

The circuits are kept closed here (a high ``failure_threshold``) so that the split is the
strategy's alone: the flaky replica's failures are the only failovers.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

import msgflux as mf
from msgflux.testing.server import RecordedRequest, Reply

CALLS = 1000


class EveryOther:
    """Fails every second request it receives with a 500 (runs on the server's thread)."""

    def __init__(self) -> None:
        self.seen = 0
        self.failed = 0

    def __call__(self, request: RecordedRequest) -> Reply | None:
        self.seen += 1
        if self.seen % 2 == 0:
            self.failed += 1
            return Reply.error(500, "flaky")
        return None


@pytest.fixture
def replicas(servers, deploy):
    flaky, steady, spare = servers(3)
    half = EveryOther()
    flaky.set_handler(half)

    def build(strategy: str, weights=(1, 1, 1)) -> mf.ModelGateway:
        return mf.ModelGateway(
            [
                {"name": name, "group": "chat", "model": deploy(server), "weight": weight}
                for name, server, weight in zip(
                    ("flaky", "steady", "spare"), (flaky, steady, spare), weights, strict=True
                )
            ],
            strategy=strategy,
            failure_threshold=CALLS,
        )

    return (flaky, steady, spare), half, build


async def run_all(gateway: mf.ModelGateway) -> Counter[str]:
    async def one(index: int) -> str:
        response = await gateway.acall(f"request {index}")
        assert response.consume() == f"echo: request {index}"
        return response.metadata.gateway.deployment

    try:
        answered_by = await asyncio.gather(*(one(i) for i in range(CALLS)))
    finally:
        await gateway.aclose()
    return Counter(answered_by)


def check_nothing_lost(gateway, answered, counts, half):
    flaky, steady, spare = counts
    assert sum(answered.values()) == CALLS  # zero lost answers
    assert half.failed == flaky // 2 and half.seen == flaky
    assert answered["flaky"] == flaky - half.failed
    assert steady + spare == CALLS - flaky + half.failed  # each failure answered elsewhere
    stats = gateway.stats()
    assert stats["answered"] == CALLS and stats["failed"] == 0
    assert stats["failovers"] == half.failed
    assert all(d["in_flight"] == 0 for d in stats["deployments"].values())


def test_ordered(replicas, count):
    servers, half, build = replicas
    gateway = build("ordered")
    answered = asyncio.run(run_all(gateway))
    counts = [count(server) for server in servers]
    check_nothing_lost(gateway, answered, counts, half)
    # Everything goes to the first replica; its failures to the second; none to the third.
    assert counts == [CALLS, CALLS // 2, 0]
    assert answered == {"flaky": CALLS // 2, "steady": CALLS // 2}


def test_least_busy(replicas, count):
    servers, half, build = replicas
    gateway = build("least_busy")
    answered = asyncio.run(run_all(gateway))
    counts = [count(server) for server in servers]
    check_nothing_lost(gateway, answered, counts, half)
    # All 1,000 calls pick their first replica before any answer comes back (one event
    # loop turn), each taking the one with the fewest in flight: an even three-way split.
    # The flaky replica gets only those first picks; its failures go to the other two.
    flaky, steady, spare = counts
    assert flaky in (333, 334)
    assert steady >= 333 and spare >= 333


def test_weighted(replicas, count):
    servers, half, build = replicas
    gateway = build("weighted", weights=(1, 1, 2))
    answered = asyncio.run(run_all(gateway))
    counts = [count(server) for server in servers]
    check_nothing_lost(gateway, answered, counts, half)
    # First picks: 1/4, 1/4, 1/2 of the calls; failovers from the flaky one go 1:2 to the
    # others. Expected flaky 250, steady 250 + 125/3, spare 500 + 250/3; a deviation beyond
    # ~6 binomial sigmas (about 85 here) means the weights are not honoured.
    flaky, steady, spare = counts
    assert abs(flaky - 250) < 85, counts
    assert abs(steady - (250 + half.failed / 3)) < 85, counts
    assert abs(spare - (500 + 2 * half.failed / 3)) < 85, counts


def test_threads_share_one_gateway(replicas, count):
    servers, half, build = replicas
    gateway = build("least_busy")
    seen_threads: set[str] = set()

    def one(index: int) -> str:
        seen_threads.add(threading.current_thread().name)
        response = gateway(f"request {index}")
        assert response.consume() == f"echo: request {index}"
        return response.metadata.gateway.deployment

    with ThreadPoolExecutor(max_workers=16) as pool:
        answered = Counter(pool.map(one, range(300)))
    gateway.close()
    assert sum(answered.values()) == 300 and len(seen_threads) > 1
    counts = [count(server) for server in servers]
    assert sum(counts) == 300 + half.failed
    stats = gateway.stats()
    assert stats["answered"] == 300 and stats["failovers"] == half.failed
    assert all(d["in_flight"] == 0 for d in stats["deployments"].values())
