"""gateway.batch / gateway.abatch: the same results as a model's, and a gateway's rate limits
(every deployment rate-limited or resting: ``ModelRouterError.rate_limited``) slow the batch
down and send the item again, never lose it.

As in test_rate_limited_server.py, throughput is measured in ``bench/``, never asserted here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

import msgflux as mf
from msgflux.errors import ModelRouterError
from msgflux.testing.ratelimit import RateLimiter
from msgflux.testing.server import LoopbackServer, Reply

pytestmark = pytest.mark.requires_provider("openai")

KEY = "sk-gateway-batch-3d2c1b0a"
CAPACITY = 200  # requests a second, per replica


@contextmanager
def gateway_over(*handlers: Any, **settings: Any) -> Iterator[Any]:
    """A gateway with one deployment per handler (a loopback server each), replicas of one
    group; everything stopped afterwards."""
    with ExitStack() as stack:
        servers = [stack.enter_context(LoopbackServer(record=False)) for _ in handlers]
        for server, handler in zip(servers, handlers, strict=True):
            server.set_handler(handler)
        gateway = mf.ModelGateway(
            [
                {
                    "name": f"replica-{i}",
                    "group": "chat",
                    "model": mf.Model.chat_completion(
                        "openai/m", base_url=server.base_url, api_key=KEY
                    ),
                }
                for i, server in enumerate(servers)
            ],
            **settings,
        )
        stack.callback(gateway.close)
        yield gateway


def answered_by(results: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in results:
        name = item.response.metadata.gateway.deployment
        counts[name] = counts.get(name, 0) + 1
    return counts


@pytest.mark.parametrize("retry_after", ["always", "alternate"])
def test_two_rate_limited_replicas_answer_every_item_once(retry_after, caplog):
    items = 3000
    limiters = [
        RateLimiter(CAPACITY, burst=CAPACITY / 10, retry_after=retry_after) for _ in range(2)
    ]
    with gateway_over(*limiters, strategy="least_busy") as gateway:
        with caplog.at_level(logging.INFO, logger="msgflux.gateway"):
            results = gateway.batch([f"item {i}" for i in range(items)], progress=False)

    assert results.ok, results.errors[:3]
    assert [item.response.consume() for item in results] == [
        f"echo: item {i}" for i in range(items)
    ]
    first, second = limiters
    assert first.admitted + second.admitted == items
    assert first.duplicates() == {} and second.duplicates() == {}
    assert set(first.admitted_keys).isdisjoint(second.admitted_keys)  # never answered twice
    assert answered_by(results) == {"replica-0": first.admitted, "replica-1": second.admitted}
    assert min(first.admitted, second.admitted) > items * 0.3  # the load is split
    # A deployment resting for its Retry-After is routine in a batch: no warning for it.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_gateway_level_rate_limit_slows_the_batch_down():
    limiter = RateLimiter(100, burst=5)  # one deployment: each 429 leaves nothing to fail over to
    with gateway_over(limiter) as gateway:
        results = gateway.batch([f"item {i}" for i in range(400)], progress=False)

    assert results.ok, results.errors[:3]
    assert limiter.admitted == 400 and limiter.duplicates() == {}
    assert limiter.refused > 0  # the batch met the limit...
    assert results.stats.limit_cuts >= 1  # ...and cut its window and pace for it
    assert results.stats.rate_limited >= limiter.refused  # each 429 (and each rest) retried


async def test_abatch_gives_what_batch_gives():
    with gateway_over(None, None, strategy="least_busy") as gateway:
        results = await gateway.abatch(["a", "b", "c"], temperature=0, progress=False)
        again = gateway.batch(["a", "b", "c"], temperature=0, progress=False)

    assert [item.response.consume() for item in results] == ["echo: a", "echo: b", "echo: c"]
    assert [i.response.consume() for i in again] == [i.response.consume() for i in results]
    assert {item.response.metadata.gateway.group for item in results} == {"chat"}


def test_a_router_error_that_is_no_rate_limit_is_the_items_result():
    def refuse_bad(request):
        if request.json["messages"][-1]["content"] == "bad":
            return Reply.error(503, "down for this one")
        return None

    seen: list[str] = []

    def recording(request):
        seen.append(request.json["messages"][-1]["content"])
        return refuse_bad(request)

    with gateway_over(recording, recording) as gateway:
        results = gateway.batch(["good", "bad", "fine"], progress=False, max_concurrency=1)

    assert [item.ok for item in results] == [True, False, True]
    error = results[1].error
    assert isinstance(error, ModelRouterError) and error.rate_limited is False
    assert seen.count("bad") == 2  # once on each deployment, never again by the batch
    assert results.stats.rate_limited == 0
