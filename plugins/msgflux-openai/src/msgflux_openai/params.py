"""Request mapping: msgflux's neutral request -> OpenAI Chat Completions parameters.

The neutral request already uses OpenAI's names and shapes. What OpenAI-compatible servers
spell or accept differently is declared by each provider as ``Quirks`` and applied here,
once, so a derived provider states its facts and never undoes what this mapping did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux.errors import UnsupportedParameterError
from msgflux_openai.compat import image_urls, join_text_parts, strip_tool_strict

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["map_params"]


def map_params(model: ChatCompletionModel, params: dict[str, Any]) -> dict[str, Any]:
    """Apply the model's provider quirks to the request (in place, and returned)."""
    quirks = model.quirks
    # OpenAI deprecated `max_tokens` for chat completions (reasoning models reject it);
    # `max_completion_tokens` bounds visible and reasoning tokens together.
    if quirks.max_tokens_field != "max_tokens" and "max_tokens" in params:
        params["max_completion_tokens"] = params.pop("max_tokens")
    if quirks.tool_strict is False and "tools" in params:
        params["tools"] = strip_tool_strict(params["tools"])
    if quirks.remote_images is False:
        _refuse_remote_images(model.provider, params.get("messages"))
    if quirks.text_content_only:
        params["messages"] = join_text_parts(params["messages"])
    return params


def _refuse_remote_images(provider: str, messages: Any) -> None:
    for position, url in image_urls(messages):
        if not url.startswith("data:"):
            raise UnsupportedParameterError(
                f"provider {provider!r} takes images as base64 data URIs only; "
                f"messages[{position}] has {url[:60]!r}: download the image and send it as "
                "'data:image/png;base64,...'"
            )
