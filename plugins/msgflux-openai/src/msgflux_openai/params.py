"""Request mapping: msgflux's neutral request -> OpenAI Chat Completions parameters.

The neutral request already uses OpenAI's names, so little changes here; derived
providers rename back what their API spells differently.
"""

from __future__ import annotations

from typing import Any

__all__ = ["map_params"]


def map_params(model: Any, params: dict[str, Any]) -> dict[str, Any]:
    # OpenAI deprecated `max_tokens` for chat completions (reasoning models reject it);
    # `max_completion_tokens` bounds visible and reasoning tokens together.
    if "max_tokens" in params:
        params["max_completion_tokens"] = params.pop("max_tokens")
    return params
