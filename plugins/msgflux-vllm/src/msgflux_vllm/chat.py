"""``VLLMChatCompletion``: the model class of the ``vllm`` provider (spec 001).

It adds nothing to the pipeline (the hooks in ``msgflux_vllm`` do the work); it keeps the
spec's class name, makes vLLM models ``OpenAIChatCompletion`` instances, and lets
``@register_model`` subclasses build on it.
"""

from __future__ import annotations

from msgflux_openai.chat import OpenAIChatCompletion

__all__ = ["VLLMChatCompletion"]


class VLLMChatCompletion(OpenAIChatCompletion):
    """vLLM chat completion (``mf.Model.chat_completion("vllm/Qwen/Qwen3-8B")``)."""

    provider = "vllm"
