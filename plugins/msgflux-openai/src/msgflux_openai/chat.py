"""``OpenAIChatCompletion``: the model class of the ``openai`` provider (spec 001).

It adds nothing to the core pipeline; it exists so that ``@register_model`` subclasses
(docs/plugins.md, "A custom in-process provider") have their documented base class, and so that
``isinstance(model, OpenAIChatCompletion)`` holds for OpenAI models.
"""

from __future__ import annotations

from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["OpenAIChatCompletion"]


class OpenAIChatCompletion(ChatCompletionModel):
    """OpenAI chat completion (``mf.Model.chat_completion("openai/gpt-4.1-mini")``)."""

    provider = "openai"
