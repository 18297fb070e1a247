"""``SambaNovaChatCompletion``: the model class of the ``sambanova`` provider.

It adds nothing to the pipeline (the hooks in ``msgflux_sambanova`` do the work); it makes
SambaNova models ``OpenAIChatCompletion`` instances, as the spec describes every
OpenAI-compatible provider, and lets ``@register_model`` subclasses build on it.
"""

from __future__ import annotations

from msgflux_openai.chat import OpenAIChatCompletion

__all__ = ["SambaNovaChatCompletion"]


class SambaNovaChatCompletion(OpenAIChatCompletion):
    """SambaNova chat completion (``mf.Model.chat_completion("sambanova/gpt-oss-120b")``)."""

    provider = "sambanova"
