"""Spec import path of the ``msgflux-sambanova`` plugin's model class."""

from msgflux.models.providers import load_model_class

SambaNovaChatCompletion = load_model_class(
    "msgflux_sambanova.chat", "SambaNovaChatCompletion", "sambanova"
)

__all__ = ["SambaNovaChatCompletion"]
