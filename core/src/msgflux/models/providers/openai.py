"""Spec import path of the ``msgflux-openai`` plugin's model class."""

from msgflux.models.providers import load_model_class

OpenAIChatCompletion = load_model_class("msgflux_openai.chat", "OpenAIChatCompletion", "openai")

__all__ = ["OpenAIChatCompletion"]
