"""``CerebrasChatCompletion``: the model class of the ``cerebras`` provider.

It adds nothing to the pipeline (the hooks in ``msgflux_cerebras`` do the work); it makes
Cerebras models ``OpenAIChatCompletion`` instances, as the spec describes every
OpenAI-compatible provider, and lets ``@register_model`` subclasses build on it.
"""

from __future__ import annotations

from msgflux_openai.chat import OpenAIChatCompletion

__all__ = ["CerebrasChatCompletion"]


class CerebrasChatCompletion(OpenAIChatCompletion):
    """Cerebras chat completion (``mf.Model.chat_completion("cerebras/gpt-oss-120b")``)."""

    provider = "cerebras"
