"""msgflux-acme passes the provider conformance suite that ships with msgflux."""

from __future__ import annotations

from msgflux.testing.conformance import ProviderConformance


class TestAcmeConformance(ProviderConformance):
    provider = "acme"
    model_id = "acme-large-1"
    # Not declared in PROVIDER.supports: the suite asserts these are refused, sending nothing.
    unsupported = frozenset({"logprobs", "audio_output", "web_search"})
    # Where Acme puts the reasoning trace, so the loopback server answers like Acme.
    reasoning_fields = ("thoughts",)
