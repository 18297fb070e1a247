"""Reasoning extraction from OpenAI-style messages and stream deltas."""

from __future__ import annotations

from typing import Any

__all__ = ["REASONING_FIELDS", "reasoning_of"]

#: Where OpenAI-compatible servers put the reasoning trace, unless a provider's
#: ``Quirks.reasoning_fields`` says otherwise: DeepSeek and older vLLM use
#: `reasoning_content`; vLLM >= 0.10, Groq and OpenRouter use `reasoning`; some servers use
#: `thinking`.
REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")


def reasoning_of(message: Any, fields: tuple[str, ...] = REASONING_FIELDS) -> str | None:
    """The reasoning text of a message or delta, from the first of ``fields`` with text."""
    for name in fields:
        value = getattr(message, name, None)
        if isinstance(value, str) and value:
            return value
    return None
