"""Usage metadata from different providers, reduced to one set of token counts.

Providers report usage in different shapes, and they disagree about what is included in what.
:func:`token_counts` turns each shape into :class:`TokenCounts`, whose convention is the
OpenAI one: cached and cache-write tokens are part of ``input_tokens``, reasoning tokens are
part of ``output_tokens``.

Shapes understood (first match wins):

==============================  =====================================================
shape                           recognised by / treated as
==============================  =====================================================
OpenAI Chat Completions, and    ``prompt_tokens`` / ``completion_tokens``. Cached:
every OpenAI-compatible server  ``prompt_tokens_details.cached_tokens``, else a
(Groq, OpenRouter, vLLM,        top-level ``cached_tokens`` (Moonshot), else
DeepSeek, xAI, Together, ...)   ``prompt_cache_hit_tokens`` (DeepSeek); all part of
                                ``prompt_tokens``. Cache writes:
                                ``prompt_tokens_details.cache_write_tokens``
                                (OpenRouter). Reasoning:
                                ``completion_tokens_details.reasoning_tokens``,
                                already included in ``completion_tokens``.
Anthropic Messages              ``input_tokens`` plus a ``cache_read_input_tokens`` or
                                ``cache_creation_input_tokens`` field. Anthropic's
                                ``input_tokens`` EXCLUDES both cache counts, so they
                                are added to the input. Thinking is billed inside
                                ``output_tokens`` and not broken out: reasoning = 0.
OpenAI Responses / generic      ``input_tokens`` / ``output_tokens``. Cached:
                                ``input_tokens_details.cached_tokens`` (included).
                                Reasoning: ``output_tokens_details.reasoning_tokens``
                                (included in ``output_tokens``).
Google Gemini                   ``prompt_token_count`` / ``promptTokenCount``.
                                Cached: ``cached_content_token_count`` (included).
                                ``candidates_token_count`` EXCLUDES
                                ``thoughts_token_count``, so thoughts are added to
                                the output and reported as reasoning;
                                ``tool_use_prompt_token_count`` is added to the input.
Ollama native API               ``prompt_eval_count`` / ``eval_count``.
==============================  =====================================================

Usage may be a mapping (``dict``, msgflux's ``dotdict``) or an object with attributes (the
``openai`` SDK's ``CompletionUsage``, a msgspec Struct); missing or ``None`` fields count as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["TokenCounts", "token_counts"]


class TokenCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Token counts of one response, in the OpenAI convention.

    Attributes:
        input_tokens: All input tokens, cached and cache-write tokens included.
        output_tokens: All output tokens, reasoning tokens included.
        cached_tokens: Input tokens read from the provider's prompt cache.
        cache_write_tokens: Input tokens written to the provider's prompt cache.
        reasoning_tokens: Output tokens spent on reasoning.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


def _has(obj: Any, name: str) -> bool:
    if isinstance(obj, Mapping):
        return name in obj
    return hasattr(obj, name)


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(obj: Any, *path: str) -> int:
    """The integer at ``obj.path[0].path[1]...``, or 0 when any step is missing or None."""
    value = obj
    for name in path:
        value = _get(value, name)
        if value is None:
            return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"usage field {'.'.join(path)!r} is not a number: {value!r}")
    return int(value)


def token_counts(usage: Any) -> TokenCounts:
    """Reduce a response's usage metadata to :class:`TokenCounts`.

    Args:
        usage: The usage object or mapping of a response, in any shape listed in this
            module's docstring.

    Returns:
        The token counts in the OpenAI convention.

    Raises:
        ValueError: ``usage`` is None, has no recognised token fields, or holds a
            non-numeric count.
    """
    if usage is None:
        raise ValueError("no usage metadata to price (usage is None)")
    if _has(usage, "prompt_tokens") or _has(usage, "completion_tokens"):
        cached = (
            _count(usage, "prompt_tokens_details", "cached_tokens")
            or _count(usage, "cached_tokens")
            or _count(usage, "prompt_cache_hit_tokens")
        )
        return TokenCounts(
            input_tokens=_count(usage, "prompt_tokens"),
            output_tokens=_count(usage, "completion_tokens"),
            cached_tokens=cached,
            cache_write_tokens=_count(usage, "prompt_tokens_details", "cache_write_tokens"),
            reasoning_tokens=_count(usage, "completion_tokens_details", "reasoning_tokens"),
        )
    if _has(usage, "input_tokens") and (
        _has(usage, "cache_read_input_tokens") or _has(usage, "cache_creation_input_tokens")
    ):
        cache_read = _count(usage, "cache_read_input_tokens")
        cache_write = _count(usage, "cache_creation_input_tokens")
        return TokenCounts(
            input_tokens=_count(usage, "input_tokens") + cache_read + cache_write,
            output_tokens=_count(usage, "output_tokens"),
            cached_tokens=cache_read,
            cache_write_tokens=cache_write,
        )
    if _has(usage, "input_tokens") or _has(usage, "output_tokens"):
        return TokenCounts(
            input_tokens=_count(usage, "input_tokens"),
            output_tokens=_count(usage, "output_tokens"),
            cached_tokens=_count(usage, "input_tokens_details", "cached_tokens"),
            reasoning_tokens=_count(usage, "output_tokens_details", "reasoning_tokens"),
        )
    for prompt, candidates, thoughts, cached_field, tool_use in (
        (
            "prompt_token_count",
            "candidates_token_count",
            "thoughts_token_count",
            "cached_content_token_count",
            "tool_use_prompt_token_count",
        ),
        (
            "promptTokenCount",
            "candidatesTokenCount",
            "thoughtsTokenCount",
            "cachedContentTokenCount",
            "toolUsePromptTokenCount",
        ),
    ):
        if _has(usage, prompt) or _has(usage, candidates):
            reasoning = _count(usage, thoughts)
            return TokenCounts(
                input_tokens=_count(usage, prompt) + _count(usage, tool_use),
                output_tokens=_count(usage, candidates) + reasoning,
                cached_tokens=_count(usage, cached_field),
                reasoning_tokens=reasoning,
            )
    if _has(usage, "prompt_eval_count") or _has(usage, "eval_count"):
        return TokenCounts(
            input_tokens=_count(usage, "prompt_eval_count"),
            output_tokens=_count(usage, "eval_count"),
        )
    raise ValueError(
        "usage metadata has no recognised token fields (expected prompt_tokens/"
        "completion_tokens, input_tokens/output_tokens, Gemini's prompt_token_count/"
        f"candidates_token_count or Ollama's prompt_eval_count/eval_count): {usage!r}"
    )
