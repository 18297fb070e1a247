"""The provider conformance suite, run by the llamacpp provider against the loopback server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from msgflux.testing.conformance import ProviderConformance


class TestLlamaCppConformance(ProviderConformance):
    provider = "llamacpp"
    model_id = "smollm2"
    # llama.cpp has neither; everything else it declares (vision and reasoning need a
    # suitable model, the suite cannot refuse them from the request alone).
    unsupported = frozenset({"audio_output", "web_search"})
    # llama-server sends a thinking model's trace as `reasoning_content`.
    reasoning_fields: ClassVar[tuple[str, ...]] = ("reasoning_content",)

    def assert_structured_request(self, body: Mapping[str, Any], name: str) -> None:
        # llama.cpp takes the schema as a grammar through `json_object` (a `json_schema`
        # response format is rejected), so the name has no place on the wire.
        response_format = body["response_format"]
        assert set(response_format) == {"type", "schema"}
        assert response_format["type"] == "json_object"
        assert response_format["schema"]["required"] == ["value", "unit"]
