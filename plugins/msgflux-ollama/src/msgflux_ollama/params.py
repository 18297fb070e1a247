"""Requests for Ollama's OpenAI-compatible endpoint (``/v1/chat/completions``).

Sources: Ollama's "OpenAI compatibility" page (the request fields it reads: ``max_tokens``,
``reasoning_effort`` ``high``/``medium``/``low``/``none``; ``tool_choice`` not supported;
images as base64 data URIs only) and the endpoint's request conversion (``openai/openai.go``
in the Ollama repository), which drops fields it does not know without an error: that is
why msgflux refuses, before sending, what Ollama would silently ignore.
"""

from __future__ import annotations

from typing import Any

from msgflux.errors import UnsupportedParameterError
from msgflux_openai.compat import check_effort, image_urls, refuse

__all__ = ["EFFORTS", "adapt_request"]

#: What the endpoint accepts; any other value is a 400. "none" switches thinking off.
EFFORTS = ("low", "medium", "high", "none")

_REFUSED = {
    "prompt_cache_retention": "it is an OpenAI-only cache setting (Ollama keeps the model's "
    "KV cache itself)",
    "verbosity": "Ollama has no verbosity control",
}


def adapt_request(model: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Turn the OpenAI-shaped request (already mapped by the openai plugin) into Ollama's."""
    refuse("ollama", params, _REFUSED)
    # The endpoint reads `max_tokens` (Ollama's num_predict) and ignores max_completion_tokens.
    if "max_completion_tokens" in params:
        params["max_tokens"] = params.pop("max_completion_tokens")
    for position, url in image_urls(params.get("messages")):
        if not url.startswith("data:"):
            raise UnsupportedParameterError(
                f"provider 'ollama' takes images as base64 data URIs only; messages[{position}] "
                f"has {url[:60]!r}: download the image and send it as 'data:image/png;base64,...'"
            )
    _tools(params)
    _thinking(model, params)
    return params


def _tools(params: dict[str, Any]) -> None:
    # The endpoint reads neither tool_choice nor parallel_tool_calls: the model always
    # decides ("auto") and may call several tools. Only what that already means is accepted.
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


def _thinking(model: Any, params: dict[str, Any]) -> None:
    """``enable_thinking`` and ``reasoning_effort``, as the endpoint's ``reasoning_effort``.

    Ollama thinks by default with models that can; ``reasoning_effort="none"`` switches it
    off. There is no thinking budget (``reasoning_max_tokens`` is refused by msgflux).
    """
    thinking = params.pop("enable_thinking", None)
    effort = params.get("reasoning_effort")
    check_effort("ollama", effort, EFFORTS)
    # gpt-oss cannot stop reasoning; elsewhere False (msgflux's default) is an explicit "off",
    # which a model without thinking accepts too. True is Ollama's own default: nothing to send.
    if effort is None and thinking is False and "gpt-oss" not in model.model_id.lower():
        params["reasoning_effort"] = "none"
