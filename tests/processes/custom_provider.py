"""An in-process provider of an application (``@register_model``), defined at module level
as programs define one, so that pickles find its class in worker processes too."""

from __future__ import annotations

import os

from msgflux.errors import MissingAPIKeyError
from msgflux.models.providers.openai import OpenAIChatCompletion
from msgflux.models.registry import register_model


@register_model
class EnvKeyedChatCompletion(OpenAIChatCompletion):
    provider = "envkeyed"

    def _get_base_url(self) -> str:
        return os.environ["ENVKEYED_BASE_URL"]

    def _get_api_key(self) -> str:
        key = os.environ.get("ENVKEYED_API_KEY")
        if not key:
            raise MissingAPIKeyError("the 'envkeyed' provider needs ENVKEYED_API_KEY")
        return key
