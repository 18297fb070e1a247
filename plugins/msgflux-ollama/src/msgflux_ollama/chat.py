"""``OllamaChatCompletion``: the model class of the ``ollama`` provider.

It adds nothing to the pipeline (the hooks in ``msgflux_ollama`` do the work); it makes
Ollama models ``OpenAIChatCompletion`` instances, as the spec describes every
OpenAI-compatible provider, and lets ``@register_model`` subclasses build on it.
"""

from __future__ import annotations

from msgflux_openai.chat import OpenAIChatCompletion

__all__ = ["OllamaChatCompletion"]


class OllamaChatCompletion(OpenAIChatCompletion):
    """Ollama chat completion (``mf.Model.chat_completion("ollama/qwen3:8b")``)."""

    provider = "ollama"
