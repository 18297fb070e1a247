"""Spec import path of the ``msgflux-groq`` plugin's model class."""

from msgflux.models.providers import load_model_class

GroqChatCompletion = load_model_class("msgflux_groq.chat", "GroqChatCompletion", "groq")

__all__ = ["GroqChatCompletion"]
