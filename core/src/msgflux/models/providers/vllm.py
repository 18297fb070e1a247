"""Spec import path of the ``msgflux-vllm`` plugin's model class."""

from msgflux.models.providers import load_model_class

VLLMChatCompletion = load_model_class("msgflux_vllm.chat", "VLLMChatCompletion", "vllm")

__all__ = ["VLLMChatCompletion"]
