"""``ModelCost``: a model's prices and the arithmetic of what a request cost."""

from __future__ import annotations

from typing import Any

import msgspec

from msgflux.models.profiles.usage import token_counts

__all__ = ["ModelCost"]

_PER_MILLION = 1_000_000


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


class ModelCost(msgspec.Struct, frozen=True, kw_only=True):
    """Prices in USD per million tokens; ``None`` when the catalogue gives no price.

    A missing price is not a zero price: check ``input_per_million is not None`` before
    reading a result of :meth:`calculate` as "free". Self-hosted profiles have no prices.

    Attributes:
        input_per_million: Uncached input tokens.
        output_per_million: Output tokens.
        cache_read_per_million: Input tokens read from the prompt cache.
        cache_write_per_million: Input tokens written to the prompt cache.
        reasoning_per_million: Reasoning tokens, for the few models priced apart from output.
    """

    input_per_million: float | None = None
    output_per_million: float | None = None
    cache_read_per_million: float | None = None
    cache_write_per_million: float | None = None
    reasoning_per_million: float | None = None

    def calculate(
        self,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
        *,
        cache_write_tokens: int = 0,
    ) -> float:
        """The cost of one request in USD.

        Counts follow OpenAI's convention: ``cached_tokens`` and ``cache_write_tokens`` are
        part of ``input_tokens``, ``reasoning_tokens`` are part of ``output_tokens``. So::

            (input - cached - cache_write) * input_price
            + cached * cache_read_price      (input_price when there is no cache-read price)
            + cache_write * cache_write_price (input_price when there is none)
            + (output - reasoning) * output_price
            + reasoning * reasoning_price     (output_price when there is none, the usual case)

        all divided by one million. A price of ``None`` for input or output counts as 0.
        Use :meth:`calculate_from_usage` to price a response's usage directly, whatever
        its provider's shape.

        Args:
            input_tokens: All input (prompt) tokens, cached ones included.
            output_tokens: All output (completion) tokens, reasoning ones included.
            cached_tokens: Input tokens served from the prompt cache.
            reasoning_tokens: Output tokens spent on reasoning.
            cache_write_tokens: Input tokens written to the prompt cache (Anthropic,
                OpenRouter).

        Returns:
            The cost in USD.

        Raises:
            ValueError: A count is negative or not an int, the cache counts exceed
                ``input_tokens``, or ``reasoning_tokens`` exceeds ``output_tokens``
                (add reasoning into ``output_tokens`` for providers that report it
                apart, as Gemini does).
        """
        _check_count("input_tokens", input_tokens)
        _check_count("output_tokens", output_tokens)
        _check_count("cached_tokens", cached_tokens)
        _check_count("reasoning_tokens", reasoning_tokens)
        _check_count("cache_write_tokens", cache_write_tokens)
        if cached_tokens + cache_write_tokens > input_tokens:
            raise ValueError(
                f"cached_tokens ({cached_tokens}) + cache_write_tokens ({cache_write_tokens}) "
                f"exceed input_tokens ({input_tokens}); cached tokens are counted as part "
                "of input_tokens"
            )
        if reasoning_tokens > output_tokens:
            raise ValueError(
                f"reasoning_tokens ({reasoning_tokens}) exceed output_tokens ({output_tokens}); "
                "reasoning tokens are counted as part of output_tokens"
            )
        input_price = self.input_per_million or 0.0
        output_price = self.output_per_million or 0.0
        cache_read_price = (
            input_price if self.cache_read_per_million is None else self.cache_read_per_million
        )
        cache_write_price = (
            input_price if self.cache_write_per_million is None else self.cache_write_per_million
        )
        reasoning_price = (
            output_price if self.reasoning_per_million is None else self.reasoning_per_million
        )
        total = (
            (input_tokens - cached_tokens - cache_write_tokens) * input_price
            + cached_tokens * cache_read_price
            + cache_write_tokens * cache_write_price
            + (output_tokens - reasoning_tokens) * output_price
            + reasoning_tokens * reasoning_price
        )
        return total / _PER_MILLION

    def calculate_from_usage(self, usage: Any) -> float:
        """The cost in USD of a response, from its usage metadata.

        Understands the OpenAI Chat Completions shape (and every OpenAI-compatible
        provider's, e.g. Groq, OpenRouter, vLLM, DeepSeek), the OpenAI Responses and
        Anthropic ``input_tokens``/``output_tokens`` shapes, Gemini's and Ollama's; see
        :mod:`msgflux.models.profiles.usage` for what is included in what.

        Args:
            usage: ``response.metadata.usage`` (a mapping or an object with attributes).

        Returns:
            The cost in USD.

        Raises:
            ValueError: The usage has no recognised token fields.
        """
        counts = token_counts(usage)
        return self.calculate(
            counts.input_tokens,
            counts.output_tokens,
            cached_tokens=counts.cached_tokens,
            reasoning_tokens=counts.reasoning_tokens,
            cache_write_tokens=counts.cache_write_tokens,
        )
