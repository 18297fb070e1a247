"""The OpenAI plugin passes the provider conformance suite of ``msgflux.testing``."""

from __future__ import annotations

from msgflux.testing.conformance import ProviderConformance


class TestOpenAIConformance(ProviderConformance):
    provider = "openai"
    model_id = "gpt-4.1-mini"
    reasoning_fields = ("reasoning_content", "reasoning")
