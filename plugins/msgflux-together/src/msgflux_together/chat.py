"""``TogetherChatCompletion``: the model class of the ``together`` provider.

It adds nothing to the pipeline (the hooks in ``msgflux_together`` do the work); it makes
Together models ``OpenAIChatCompletion`` instances, as the spec describes every
OpenAI-compatible provider, and lets ``@register_model`` subclasses build on it.
"""

from __future__ import annotations

from msgflux_openai.chat import OpenAIChatCompletion

__all__ = ["TogetherChatCompletion"]


class TogetherChatCompletion(OpenAIChatCompletion):
    """Together chat completion (``mf.Model.chat_completion("together/openai/gpt-oss-120b")``)."""

    provider = "together"
