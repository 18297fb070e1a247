"""Spec import path of the ``msgflux-cerebras`` plugin's model class."""

from msgflux.models.providers import load_model_class

CerebrasChatCompletion = load_model_class(
    "msgflux_cerebras.chat", "CerebrasChatCompletion", "cerebras"
)

__all__ = ["CerebrasChatCompletion"]
