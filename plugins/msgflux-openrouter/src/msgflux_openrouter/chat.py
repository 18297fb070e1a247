"""``OpenRouterChatCompletion``: the model class of the ``openrouter`` provider (spec 001).

It adds nothing to the pipeline (the hooks in ``msgflux_openrouter`` do the work); it keeps
the spec's class name, makes OpenRouter models ``OpenAIChatCompletion`` instances, and lets
``@register_model`` subclasses build on it.
"""

from __future__ import annotations

from msgflux_openai.chat import OpenAIChatCompletion

__all__ = ["OpenRouterChatCompletion"]


class OpenRouterChatCompletion(OpenAIChatCompletion):
    """OpenRouter chat completion (``mf.Model.chat_completion("openrouter/openai/gpt-4.1")``)."""

    provider = "openrouter"
