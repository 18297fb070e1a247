"""The Groq plugin passes the provider conformance suite of ``msgflux.testing``."""

from __future__ import annotations

from msgflux.testing.conformance import ProviderConformance


class TestGroqConformance(ProviderConformance):
    provider = "groq"
    model_id = "openai/gpt-oss-120b"
    unsupported = frozenset({"logprobs", "audio_output", "web_search"})
    stream_usage_location = "x_groq"
