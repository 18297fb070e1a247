"""Together AI's reasoning switches (the rest of its differences are ``Quirks`` in the spec).

Sources (Together documentation): the API reference "Create Chat Completion"
(``reasoning_effort`` low/medium/high) and "Reasoning" (the ``reasoning`` field; hybrid
models switched with ``reasoning={"enabled": ...}``; gpt-oss always reasons, with an
adjustable effort).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux_openai.compat import check_effort, merge_extra_body

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["EFFORTS", "map_reasoning"]

#: The API's reasoning_effort values; "none" is msgflux's "thinking off" (reasoning.enabled).
EFFORTS = ("low", "medium", "high")


def map_reasoning(model: ChatCompletionModel, params: dict[str, Any]) -> None:
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
