"""Spec import path of the ``msgflux-ollama`` plugin's model class."""

from msgflux.models.providers import load_model_class

OllamaChatCompletion = load_model_class("msgflux_ollama.chat", "OllamaChatCompletion", "ollama")

__all__ = ["OllamaChatCompletion"]
