"""Cerebras' reasoning controls per model family (its other differences are ``Quirks``).

Sources (Cerebras documentation): "Reasoning" (``reasoning_effort`` for gpt-oss
low/medium/high; GLM switched off with ``reasoning_effort="none"``; ``reasoning_format``
parsed/raw/hidden/none, ``raw`` not combinable with JSON output; reasoning returned in a
``reasoning`` field) and "Migrate to GLM 4.7" (``disable_reasoning`` deprecated in favour of
``reasoning_effort``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux.errors import UnsupportedParameterError
from msgflux_openai.compat import check_effort, merge_extra_body

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["REASONING_FORMATS", "map_reasoning", "model_family"]

REASONING_FORMATS = ("parsed", "raw", "hidden", "none")

#: Efforts per model family. gpt-oss rejects "none" (it always reasons).
_EFFORTS = {
    "gpt-oss": ("low", "medium", "high"),
    "glm": ("none", "low", "medium", "high"),
    "other": ("none", "low", "medium", "high"),
}


def model_family(model_id: str) -> str:
    """``"gpt-oss"``, ``"glm"`` or ``"other"``: which reasoning controls the model has."""
    model_id = model_id.lower()
    if "gpt-oss" in model_id:
        return "gpt-oss"
    if "glm" in model_id:
        return "glm"
    return "other"


def map_reasoning(model: ChatCompletionModel, params: dict[str, Any]) -> None:
    """The thinking switch and effort for the model's family, and ``reasoning_format``."""
    _thinking(model, params)
    _reasoning_format(model, params)


def _thinking(model: ChatCompletionModel, params: dict[str, Any]) -> None:
    family = model_family(model.model_id)
    effort = params.get("reasoning_effort")
    check_effort("cerebras", effort, _EFFORTS[family], models=f"{family} models")
    if family == "gpt-oss":
        params.pop("enable_thinking", None)  # always reasons: nothing to switch
    elif family == "glm":
        # GLM thinks by default; "none" is its documented off switch.
        thinking = params.pop("enable_thinking", None)
        if thinking is False and effort is None:
            params["reasoning_effort"] = "none"
    # Other models: no switch, so enable_thinking=True stays and msgflux refuses it.


def _reasoning_format(model: ChatCompletionModel, params: dict[str, Any]) -> None:
    """``reasoning_format`` from the option, or from the call's ``extra_body`` (which wins)."""
    extra_body = params.get("extra_body") or {}
    fmt = extra_body.get("reasoning_format", model.options.get("reasoning_format"))
    if fmt == "raw" and params.get("response_format") is not None:
        raise UnsupportedParameterError(
            "provider 'cerebras' rejects reasoning_format='raw' with structured output; use "
            "'parsed' (reasoning in response.reasoning) or 'hidden'"
        )
    if fmt is not None:
        merge_extra_body(params, {"reasoning_format": fmt})
