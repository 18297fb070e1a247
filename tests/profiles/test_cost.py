"""Cost arithmetic, and usage metadata of different shapes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msgflux.dotdict import dotdict
from msgflux.models.profiles import ModelCost, TokenCounts, get_model_profile, token_counts

PRICES = ModelCost(
    input_per_million=2.0,
    output_per_million=8.0,
    cache_read_per_million=0.5,
    cache_write_per_million=2.5,
)


def test_plain_request_on_a_real_profile() -> None:
    profile = get_model_profile("gpt-4.1-mini", provider_id="openai")
    assert profile is not None

    # 1000 * 0.40 / 1e6 + 500 * 1.60 / 1e6
    assert profile.cost.calculate(input_tokens=1000, output_tokens=500) == pytest.approx(0.0012)


def test_cached_input_is_priced_at_the_cache_read_rate() -> None:
    # 600 uncached * 2.0 + 400 cached * 0.5 + 100 output * 8.0, per million
    cost = PRICES.calculate(input_tokens=1000, output_tokens=100, cached_tokens=400)
    assert cost == pytest.approx((600 * 2.0 + 400 * 0.5 + 100 * 8.0) / 1e6)


def test_cached_input_without_a_cache_price_costs_the_input_rate() -> None:
    prices = ModelCost(input_per_million=2.0, output_per_million=8.0)
    assert prices.calculate(1000, 100, cached_tokens=400) == prices.calculate(1000, 100)


def test_reasoning_tokens_are_part_of_output_tokens() -> None:
    # Without a reasoning price, splitting output into reasoning changes nothing.
    assert PRICES.calculate(100, 1000, reasoning_tokens=700) == PRICES.calculate(100, 1000)

    priced = ModelCost(input_per_million=1.0, output_per_million=10.0, reasoning_per_million=3.5)
    assert priced.calculate(100, 1000, reasoning_tokens=700) == pytest.approx(
        (100 * 1.0 + 300 * 10.0 + 700 * 3.5) / 1e6
    )


def test_cache_writes_are_priced_at_the_cache_write_rate() -> None:
    cost = PRICES.calculate(1000, 0, cached_tokens=200, cache_write_tokens=300)
    assert cost == pytest.approx((500 * 2.0 + 200 * 0.5 + 300 * 2.5) / 1e6)


def test_missing_prices_count_as_zero() -> None:
    assert ModelCost().calculate(1000, 1000, cached_tokens=10, reasoning_tokens=10) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_tokens": -1, "output_tokens": 0},
        {"input_tokens": 1.5, "output_tokens": 0},
        {"input_tokens": True, "output_tokens": 0},
        {"input_tokens": 10, "output_tokens": 0, "cached_tokens": 11},
        {"input_tokens": 10, "output_tokens": 0, "cached_tokens": 6, "cache_write_tokens": 5},
        {"input_tokens": 10, "output_tokens": 5, "reasoning_tokens": 6},
    ],
)
def test_inconsistent_counts_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        PRICES.calculate(**kwargs)


@given(
    uncached=st.integers(0, 10**7),
    cached=st.integers(0, 10**7),
    visible=st.integers(0, 10**7),
    reasoning=st.integers(0, 10**7),
)
def test_openai_usage_prices_like_calculate(
    uncached: int, cached: int, visible: int, reasoning: int
) -> None:
    usage = {
        "prompt_tokens": uncached + cached,
        "completion_tokens": visible + reasoning,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    expected = (uncached * 2.0 + cached * 0.5 + (visible + reasoning) * 8.0) / 1e6
    assert PRICES.calculate_from_usage(usage) == pytest.approx(expected)


def test_groq_usage_with_cache_and_reasoning_on_the_real_profile() -> None:
    profile = get_model_profile("openai/gpt-oss-120b", provider_id="groq")
    assert profile is not None
    usage = dotdict(
        prompt_tokens=2000,
        completion_tokens=900,
        total_tokens=2900,
        prompt_tokens_details={"cached_tokens": 1500},
        completion_tokens_details={"reasoning_tokens": 600},
        queue_time=0.01,
    )

    # 500 * 0.15 + 1500 * 0.075 + 900 * 0.60, per million
    expected = (500 * 0.15 + 1500 * 0.075 + 900 * 0.60) / 1e6
    assert profile.cost.calculate_from_usage(usage) == pytest.approx(expected)


def test_spec_metadata_usage_shape() -> None:
    usage = dotdict({"completion_tokens": 9, "prompt_tokens": 19, "total_tokens": 28})
    assert token_counts(usage) == TokenCounts(input_tokens=19, output_tokens=9)


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        pytest.param(
            # an object with attributes and None details, as the openai SDK returns
            SimpleNamespace(
                prompt_tokens=100,
                completion_tokens=50,
                prompt_tokens_details=None,
                completion_tokens_details=SimpleNamespace(reasoning_tokens=None),
            ),
            TokenCounts(input_tokens=100, output_tokens=50),
            id="openai-object",
        ),
        pytest.param(
            {
                "prompt_tokens": 194,
                "completion_tokens": 2,
                "cost": 0.95,
                "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 100},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
            TokenCounts(input_tokens=194, output_tokens=2, cache_write_tokens=100),
            id="openrouter",
        ),
        pytest.param(
            {
                "prompt_tokens": 100,
                "completion_tokens": 10,
                "prompt_cache_hit_tokens": 64,
                "prompt_cache_miss_tokens": 36,
            },
            TokenCounts(input_tokens=100, output_tokens=10, cached_tokens=64),
            id="deepseek",
        ),
        pytest.param(
            {"prompt_tokens": 100, "completion_tokens": 10, "cached_tokens": 30},
            TokenCounts(input_tokens=100, output_tokens=10, cached_tokens=30),
            id="moonshot",
        ),
        pytest.param(
            {
                "input_tokens": 100,
                "output_tokens": 40,
                "input_tokens_details": {"cached_tokens": 20},
                "output_tokens_details": {"reasoning_tokens": 30},
            },
            TokenCounts(input_tokens=100, output_tokens=40, cached_tokens=20, reasoning_tokens=30),
            id="openai-responses",
        ),
        pytest.param(
            # Anthropic's input_tokens excludes cache reads and writes
            {
                "input_tokens": 50,
                "output_tokens": 40,
                "cache_read_input_tokens": 1000,
                "cache_creation_input_tokens": 200,
            },
            TokenCounts(
                input_tokens=1250, output_tokens=40, cached_tokens=1000, cache_write_tokens=200
            ),
            id="anthropic",
        ),
        pytest.param(
            # Gemini's candidates exclude thoughts
            {
                "prompt_token_count": 100,
                "candidates_token_count": 20,
                "thoughts_token_count": 80,
                "cached_content_token_count": 60,
            },
            TokenCounts(input_tokens=100, output_tokens=100, cached_tokens=60, reasoning_tokens=80),
            id="gemini",
        ),
        pytest.param(
            {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7},
            TokenCounts(input_tokens=10, output_tokens=12, reasoning_tokens=7),
            id="gemini-rest",
        ),
        pytest.param(
            {"prompt_eval_count": 26, "eval_count": 290},
            TokenCounts(input_tokens=26, output_tokens=290),
            id="ollama",
        ),
    ],
)
def test_usage_shapes(usage: object, expected: TokenCounts) -> None:
    assert token_counts(usage) == expected
    counts = expected
    assert PRICES.calculate_from_usage(usage) == PRICES.calculate(
        counts.input_tokens,
        counts.output_tokens,
        cached_tokens=counts.cached_tokens,
        reasoning_tokens=counts.reasoning_tokens,
        cache_write_tokens=counts.cache_write_tokens,
    )


@pytest.mark.parametrize("usage", [None, {}, {"total_tokens": 5}, {"prompt_tokens": "many"}])
def test_unusable_usage_is_rejected(usage: object) -> None:
    with pytest.raises(ValueError):
        PRICES.calculate_from_usage(usage)
