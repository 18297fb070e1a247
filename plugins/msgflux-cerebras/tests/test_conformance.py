"""The Cerebras plugin passes the provider conformance suite of ``msgflux.testing``."""

from __future__ import annotations

from msgflux.testing.conformance import ProviderConformance


class TestCerebrasConformance(ProviderConformance):
    provider = "cerebras"
    model_id = "gpt-oss-120b"
    unsupported = frozenset({"audio_output", "web_search"})
