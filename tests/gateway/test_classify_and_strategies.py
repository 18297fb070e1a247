"""Pure pieces: which class an error falls in, and the order each strategy tries."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import pytest

from msgflux.errors import (
    AuthenticationError,
    BadRequestError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ResponseDecodeError,
    StructuredOutputError,
    UnsupportedParameterError,
)
from msgflux.gateway._classify import classify
from msgflux.gateway._strategies import order


def rejected(message: str, code=None, type_="invalid_request_error", **inner):
    body = {"error": {"message": message, "type": type_, "code": code, **inner}}
    return BadRequestError(message, status=400, body=body, provider="p")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ProviderConnectionError("refused"), "unavailable"),
        (RequestTimeoutError("slow"), "unavailable"),
        (ConnectionResetError(), "unavailable"),
        (TimeoutError(), "unavailable"),
        (ProviderError("boom", status=500), "unavailable"),
        (ProviderError("overloaded", status=503), "unavailable"),
        (ProviderError("conflict", status=409), "unavailable"),
        (ProviderError("payment required", status=402), "unavailable"),
        (ProviderError("error event without a status"), "unavailable"),
        (ResponseDecodeError("garbage", raw_text="{"), "unavailable"),
        (RateLimitError("slow down", status=429), "rate_limited"),
        (
            RateLimitError("quota", status=429, body={"error": {"code": "insufficient_quota"}}),
            ("rate_limited"),
        ),
        (AuthenticationError("bad key", status=401), "auth"),
        (AuthenticationError("forbidden", status=403), "auth"),
        (rejected("max_tokens must be positive"), "bad_request"),
        (UnsupportedParameterError("no audio here"), "bad_request"),
        # context length, as OpenAI, vLLM, llama.cpp and llama-cpp-python say it
        (
            rejected(
                "This model's maximum context length is 8192 tokens.", "context_length_exceeded"
            ),
            "context_length",
        ),
        (
            rejected(
                "This model's maximum context length is 4096 tokens. However, you requested "
                "5000 tokens",
                code=400,
                type_="BadRequestError",
            ),
            "context_length",
        ),
        (
            rejected(
                "The decoder prompt (length 9000) is longer than the maximum model length of 4096.",
                type_="BadRequestError",
            ),
            "context_length",
        ),
        (
            rejected(
                "request (4476 tokens) exceeds the available context size (4096 tokens)",
                type_="exceed_context_size_error",
            ),
            "context_length",
        ),
        (
            rejected("the request exceeds the available context size, try increasing it"),
            "context_length",
        ),
        (rejected("prompt is too long: 210000 tokens > 200000 maximum"), "context_length"),
        # content policy, as OpenAI and Azure OpenAI say it
        (
            rejected(
                "Your request was rejected as a result of our safety system.",
                "content_policy_violation",
            ),
            "content_policy",
        ),
        (
            rejected(
                "The response was filtered due to the prompt triggering Azure OpenAI's "
                "content management policy.",
                "content_filter",
                innererror={"code": "ResponsibleAIPolicyViolation"},
            ),
            "content_policy",
        ),
        (StructuredOutputError("not the schema", raw_text="{}"), "caller"),
        (TypeError("bad keyword"), "caller"),
        (ValueError("bad value"), "caller"),
    ],
)
def test_classify(error, kind):
    assert classify(error) == kind


@dataclass
class Slot:
    index: int
    weight: float = 1.0
    in_flight: int = 0
    latency: float | None = None


def names(slots):
    return [s.index for s in slots]


def test_ordered_keeps_the_declared_order():
    slots = [Slot(2), Slot(0), Slot(1)]
    assert names(order("ordered", slots, random.Random(0))) == [0, 1, 2]


def test_weighted_draws_in_proportion_to_weight():
    slots = [Slot(0, weight=1), Slot(1, weight=2), Slot(2, weight=7)]
    rng = random.Random(1234)
    firsts = Counter(order("weighted", slots, rng)[0].index for _ in range(20_000))
    # Expected 2,000 / 4,000 / 14,000; a binomial deviation beyond 6 sigma (~330) is a bug.
    for index, expected in ((0, 2000), (1, 4000), (2, 14000)):
        assert abs(firsts[index] - expected) < 330, firsts
    assert sorted(names(order("weighted", slots, rng))) == [0, 1, 2]  # each exactly once


def test_least_busy_goes_to_the_fewest_in_flight():
    slots = [Slot(0, in_flight=3), Slot(1, in_flight=1), Slot(2, in_flight=2)]
    assert names(order("least_busy", slots, random.Random(0))) == [1, 2, 0]
    ties, rng = [Slot(0), Slot(1)], random.Random(7)
    firsts = Counter(order("least_busy", ties, rng)[0].index for _ in range(1000))
    assert firsts[0] > 300 and firsts[1] > 300  # ties are broken at random, not by position


def test_lowest_latency_measures_the_untried_first():
    slots = [Slot(0, latency=0.5), Slot(1, latency=None), Slot(2, latency=0.1)]
    assert names(order("lowest_latency", slots, random.Random(0))) == [1, 2, 0]
