"""Spec import path of the ``msgflux-openrouter`` plugin's model class."""

from msgflux.models.providers import load_model_class

OpenRouterChatCompletion = load_model_class(
    "msgflux_openrouter.chat", "OpenRouterChatCompletion", "openrouter"
)

__all__ = ["OpenRouterChatCompletion"]
