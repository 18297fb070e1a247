"""Requests for Together AI's Chat Completions API.

Sources (Together documentation): the API reference "Create Chat Completion" (``max_tokens``;
``reasoning_effort`` ``low``/``medium``/``high``; ``response_format`` ``json_schema`` with
``name``/``schema``/``strict``; tool functions with ``name``/``description``/``parameters``
and no ``strict``; ``logprobs`` as an integer with its own response shape) and "Reasoning"
(the ``reasoning`` field; hybrid models switched with ``reasoning={"enabled": ...}``;
gpt-oss always reasons, with an adjustable effort).
"""

from __future__ import annotations

from typing import Any

from msgflux_openai.compat import check_effort, merge_extra_body, refuse, strip_tool_strict

__all__ = ["EFFORTS", "adapt_request"]

#: The API's reasoning_effort values; "none" is msgflux's "thinking off" (reasoning.enabled).
EFFORTS = ("low", "medium", "high")

_REFUSED = {
    "prompt_cache_retention": "it is an OpenAI-only cache setting",
    "verbosity": "Together has no verbosity control",
}


def adapt_request(model: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Turn the OpenAI-shaped request (already mapped by the openai plugin) into Together's."""
    refuse("together", params, _REFUSED)
    # Together documents `max_tokens` only.
    if "max_completion_tokens" in params:
        params["max_tokens"] = params.pop("max_completion_tokens")
    # Together's tool functions have no `strict` (arguments are best-effort): leave it out,
    # on copies, so the caller's schemas keep it for providers that honour it.
    if "tools" in params:
        params["tools"] = strip_tool_strict(params["tools"])
    _reasoning(model, params)
    return params


def _reasoning(model: Any, params: dict[str, Any]) -> None:
    """``enable_thinking`` / ``reasoning_effort`` -> ``reasoning.enabled`` / ``reasoning_effort``.

    ``enable_thinking=False`` (msgflux's default) sends nothing: Together's hybrid models keep
    their own default, and its other models have no switch. ``reasoning_effort="none"`` is
    the explicit "off".
    """
    thinking = params.pop("enable_thinking", None)
    effort = params.get("reasoning_effort")
    if "gpt-oss" in model.model_id.lower():
        # Always reasoning: there is nothing to switch, only an effort to choose.
        check_effort("together", effort, EFFORTS, models="gpt-oss models")
        return
    check_effort("together", effort, (*EFFORTS, "none"))
    if effort == "none":
        del params["reasoning_effort"]
        merge_extra_body(params, {"reasoning": {"enabled": False}})
    elif thinking:
        merge_extra_body(params, {"reasoning": {"enabled": True}})
