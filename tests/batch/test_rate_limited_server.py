"""Batches against a token-bucket server: every item answered once, few 429s.

Throughput (at least 90% of the server's capacity) is measured in ``bench/`` (``hatch run
bench:run --only batch``), never asserted here: the server's capacity is set low enough
that the client is not the bottleneck even on a loaded machine, and these tests check
what load cannot change: nothing lost, nothing answered twice, 429s a small share.
"""

from __future__ import annotations

import pytest

from msgflux.testing.ratelimit import RateLimiter
from msgflux.testing.server import LoopbackServer

pytestmark = pytest.mark.requires_provider("openai")

CAPACITY = 400  # requests a second
MAX_REFUSED_SHARE = 0.10  # measured: 0-3% (bench/README.md); loose on purpose


def run(limiter: RateLimiter, items: int):
    import msgflux as mf

    with LoopbackServer(record=False) as server:
        server.set_handler(limiter)
        with mf.Model.chat_completion(
            "openai/m", base_url=server.base_url, api_key="sk-rate-limited"
        ) as model:
            return model.batch([f"item {i}" for i in range(items)], progress=False)


def check(results, limiter: RateLimiter, items: int) -> None:
    assert results.ok, results.errors[:3]
    answers = [item.response.consume() for item in results]
    assert answers == [f"echo: item {i}" for i in range(items)]
    assert limiter.admitted == items
    assert limiter.duplicates() == {}
    assert results.stats.rate_limited == limiter.refused
    assert limiter.refused_share < MAX_REFUSED_SHARE, limiter.refused_share


def test_ten_thousand_items_all_answered_once():
    limiter = RateLimiter(CAPACITY, burst=CAPACITY / 10)

    results = run(limiter, 10_000)

    check(results, limiter, 10_000)


@pytest.mark.parametrize("retry_after", ["always", "never", "alternate"])
@pytest.mark.parametrize("limit_headers", [True, False], ids=["headers", "no-headers"])
def test_with_and_without_retry_after_and_limit_headers(retry_after, limit_headers):
    limiter = RateLimiter(
        CAPACITY, burst=CAPACITY / 10, retry_after=retry_after, limit_headers=limit_headers
    )

    results = run(limiter, 800)

    check(results, limiter, 800)
    if not limit_headers:
        assert limiter.refused > 0  # the only way to learn the limit is to meet it


def test_the_limiter_answers_429_past_its_rate_and_counts():
    import openai

    limiter = RateLimiter(1, burst=2, retry_after="alternate")
    with LoopbackServer() as server:
        server.set_handler(limiter)
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        statuses = []
        for _ in range(5):
            try:
                raw = client.chat.completions.with_raw_response.create(
                    model="m", messages=[{"role": "user", "content": "same"}]
                )
                statuses.append((200, raw.headers.get("x-ratelimit-remaining-requests")))
            except openai.RateLimitError as exc:
                statuses.append((429, exc.response.headers.get("retry-after-ms")))
        client.close()

    assert statuses[:2] == [(200, "1"), (200, "0")]
    assert [status for status, _ in statuses[2:]] == [429, 429, 429]
    assert statuses[2][1] is not None and statuses[3][1] is None  # alternate
    assert (limiter.admitted, limiter.refused, limiter.refused_with_retry_after) == (2, 3, 2)
    assert limiter.duplicates() == {"same": 2}
