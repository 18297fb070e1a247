"""The vLLM plugin passes the provider conformance suite of ``msgflux.testing``."""

from __future__ import annotations

from typing import Any, ClassVar

from msgflux.testing.conformance import ProviderConformance


class TestVLLMConformance(ProviderConformance):
    provider = "vllm"
    model_id = "Qwen/Qwen3-8B"
    unsupported = frozenset({"audio_output", "web_search"})
    # vLLM >= 0.10 sends `reasoning`; older servers `reasoning_content`.
    reasoning_fields = ("reasoning", "reasoning_content")
    # msgflux's default enable_thinking=False is sent as the chat-template switch.
    plain_request_extras: ClassVar[dict[str, Any]] = {
        "chat_template_kwargs": {"enable_thinking": False, "thinking": False}
    }


class TestVLLMWithoutKeyConformance(TestVLLMConformance):
    """A server started without --api-key: no key, and no Authorization header."""

    api_key = None

    def check_request(self, request, case):
        assert "authorization" not in request.headers
