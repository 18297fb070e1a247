"""Ollama's tool choice and thinking switch (its other differences are ``Quirks`` in the spec).

Sources: Ollama's "OpenAI compatibility" page (``reasoning_effort`` high/medium/low/none;
``tool_choice`` not supported) and the endpoint's request conversion (``openai/openai.go`` in
the Ollama repository), which drops fields it does not know without an error: that is why
msgflux refuses, before sending, what Ollama would silently ignore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux.errors import UnsupportedParameterError

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["EFFORTS", "map_thinking", "map_tools"]

#: What the endpoint accepts; any other value is a 400. "none" switches thinking off.
EFFORTS = ("low", "medium", "high", "none")


def map_tools(params: dict[str, Any]) -> None:
    """Keep only the tool settings the endpoint honours.

    It reads neither ``tool_choice`` nor ``parallel_tool_calls``: the model always decides
    ("auto") and may call several tools. Only what that already means is accepted.
    """
    if params.get("parallel_tool_calls") is False:
        raise UnsupportedParameterError(
            "provider 'ollama' cannot limit a model to one tool call (parallel_tool_calls=False "
            "would be ignored); remove it"
        )
    params.pop("parallel_tool_calls", None)
    choice = params.pop("tool_choice", None)
    if choice is None or choice == "auto":
        return
    if choice == "none":
        params.pop("tools", None)  # tools not offered cannot be called
        return
    raise UnsupportedParameterError(
        f"provider 'ollama' cannot force a tool call (tool_choice={choice!r} would be "
        "ignored: the model always decides); use choice='auto' (or None) and say in the "
        "prompt which tool to call"
    )


def map_thinking(model: ChatCompletionModel, params: dict[str, Any]) -> None:
    """``enable_thinking`` as the endpoint's ``reasoning_effort``.

    Ollama thinks by default with models that can; ``reasoning_effort="none"`` switches it
    off. There is no thinking budget (``reasoning_max_tokens`` is refused by msgflux).
    """
    thinking = params.pop("enable_thinking", None)
    # gpt-oss cannot stop reasoning; elsewhere False (msgflux's default) is an explicit "off",
    # which a model without thinking accepts too. True is Ollama's own default: nothing to send.
    if (
        params.get("reasoning_effort") is None
        and thinking is False
        and "gpt-oss" not in model.model_id.lower()
    ):
        params["reasoning_effort"] = "none"
