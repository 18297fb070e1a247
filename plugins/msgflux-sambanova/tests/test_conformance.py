"""The SambaNova plugin passes the provider conformance suite of ``msgflux.testing``."""

from __future__ import annotations

from msgflux.testing.conformance import ProviderConformance


class TestSambaNovaConformance(ProviderConformance):
    provider = "sambanova"
    model_id = "gpt-oss-120b"
    unsupported = frozenset({"logprobs", "audio_output", "web_search"})
