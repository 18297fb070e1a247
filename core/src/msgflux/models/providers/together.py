"""Spec import path of the ``msgflux-together`` plugin's model class."""

from msgflux.models.providers import load_model_class

TogetherChatCompletion = load_model_class(
    "msgflux_together.chat", "TogetherChatCompletion", "together"
)

__all__ = ["TogetherChatCompletion"]
