"""The OpenRouter plugin passes the provider conformance suite of ``msgflux.testing``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgflux.testing.conformance import ProviderConformance


class TestOpenRouterConformance(ProviderConformance):
    provider = "openrouter"
    model_id = "anthropic/claude-sonnet-4.5"
    unsupported = frozenset({"audio_output"})

    def assert_web_search_request(self, body: Mapping[str, Any]) -> None:
        # The web plugin does the searching for any model; the OpenAI-style context size
        # stays for models with native search.
        assert body["plugins"] == [{"id": "web"}]
        assert body["web_search_options"] == {"search_context_size": "low"}
