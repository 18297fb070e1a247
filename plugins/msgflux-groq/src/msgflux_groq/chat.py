"""``GroqChatCompletion``: the model class of the ``groq`` provider.

It adds nothing to the pipeline (the hooks in ``msgflux_groq`` do the work); it exists so
that Groq models are ``OpenAIChatCompletion`` instances, as the spec describes every
OpenAI-compatible provider, and so that ``@register_model`` subclasses can build on it.
"""

from __future__ import annotations

from msgflux_openai.chat import OpenAIChatCompletion

__all__ = ["GroqChatCompletion"]


class GroqChatCompletion(OpenAIChatCompletion):
    """Groq chat completion (``mf.Model.chat_completion("groq/openai/gpt-oss-120b")``)."""

    provider = "groq"
