"""Extended thinking: msgflux's reasoning options -> the Messages API's ``thinking``.

``enable_thinking=True``, ``reasoning_max_tokens=N`` (the budget) or ``reasoning_effort``
switch thinking on as ``{"type": "enabled", "budget_tokens": N}``. The budget is
``reasoning_max_tokens`` when given, else the effort's (``EFFORT_BUDGETS``, msgflux's own
table), else ``DEFAULT_BUDGET``. ``reasoning_effort="none"`` keeps thinking off.

The API's rules, checked before anything is sent: a budget of at least ``MIN_BUDGET``
tokens, below ``max_tokens``; no ``temperature`` other than 1, no ``top_k``, ``top_p``
between 0.95 and 1, no forced tool choice, and no prefilled answer while thinking.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgflux.errors import UnsupportedParameterError

__all__ = ["DEFAULT_BUDGET", "EFFORT_BUDGETS", "MIN_BUDGET", "check_thinking", "thinking_budget"]

#: The smallest budget the API accepts.
MIN_BUDGET = 1024

#: ``reasoning_effort`` -> thinking budget (tokens); ``"none"`` keeps thinking off.
EFFORT_BUDGETS: Mapping[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
}

#: The budget of ``enable_thinking=True`` alone.
DEFAULT_BUDGET = EFFORT_BUDGETS["medium"]


def _refuse(what: str) -> UnsupportedParameterError:
    return UnsupportedParameterError(f"provider 'anthropic': {what}")


def thinking_budget(params: dict[str, Any]) -> int | None:
    """Pop the neutral reasoning options from ``params``; the budget, or ``None`` (off)."""
    enable = params.pop("enable_thinking", None)
    budget = params.pop("reasoning_max_tokens", None)
    effort = params.pop("reasoning_effort", None)
    if effort == "none":
        if enable or budget is not None:
            raise _refuse(
                "reasoning_effort='none' turns thinking off, but enable_thinking or "
                "reasoning_max_tokens asks for it; drop one of them"
            )
        return None
    if budget is None and effort is not None:
        budget = EFFORT_BUDGETS[effort]
    if budget is None and enable:
        budget = DEFAULT_BUDGET
    if budget is not None and budget < MIN_BUDGET:
        raise _refuse(
            f"reasoning_max_tokens={budget} is below the API's minimum thinking budget of "
            f"{MIN_BUDGET} tokens; raise it"
        )
    return budget  # type: ignore[no-any-return]


def check_thinking(request: Mapping[str, Any]) -> None:
    """Refuse what the API rejects while thinking is on (``request`` is the final body)."""
    budget = request["thinking"].get("budget_tokens")
    if isinstance(budget, int) and request.get("max_tokens", 0) <= budget:
        raise _refuse(
            f"max_tokens={request.get('max_tokens')} must be above the thinking budget "
            f"({budget} tokens: reasoning_max_tokens or the effort's); raise max_tokens"
        )
    temperature = request.get("temperature")
    if temperature is not None and temperature != 1:
        raise _refuse(
            f"temperature={temperature} cannot be combined with extended thinking (only 1 is "
            "accepted); remove temperature or turn thinking off"
        )
    if request.get("top_k") is not None:
        raise _refuse("top_k cannot be combined with extended thinking; remove it")
    top_p = request.get("top_p")
    if top_p is not None and not 0.95 <= top_p <= 1:
        raise _refuse(f"top_p={top_p} cannot be combined with extended thinking (0.95 to 1 only)")
    choice = request.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") in ("any", "tool"):
        raise _refuse(
            "a forced tool_choice ('required' or a named tool) cannot be combined with "
            "extended thinking; use 'auto' or 'none', or turn thinking off"
        )
    messages = request.get("messages") or ()
    if messages and messages[-1].get("role") == "assistant":
        raise _refuse(
            "a prefilled answer (prefilling, or a history ending with an assistant message) "
            "cannot be combined with extended thinking; drop one of them"
        )
