"""The Together plugin passes the provider conformance suite of ``msgflux.testing``."""

from __future__ import annotations

from msgflux.testing.conformance import ProviderConformance


class TestTogetherConformance(ProviderConformance):
    provider = "together"
    model_id = "openai/gpt-oss-120b"
    unsupported = frozenset({"logprobs", "audio_output", "web_search"})
    # Together sends the usage on the last chunk, with the finish reason.
    stream_usage_location = "finish"
