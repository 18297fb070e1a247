"""The provider conformance suite, run by the llamacpp provider against the loopback server.

Once per server kind (the ``server=`` option), so that both servers' request rules go through
the whole suite; a declared kind also keeps the ``/props`` probe out of the request counts
(``test_server.py`` covers the probe).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgflux as mf
from msgflux.testing.conformance import ProviderConformance
from msgflux.testing.server import LoopbackServer


class TestLlamaCppConformance(ProviderConformance):
    """As llama-cpp-python's server receives the requests."""

    provider = "llamacpp"
    server = "llama-cpp-python"
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

    def assert_text_parts_request(self, content: Any, parts: list[Any], joins: bool) -> None:
        # llama-cpp-python's chat templates fail on a list of text parts: joined for it alone.
        assert content == "\n".join(part["text"] for part in parts)

    def make_model(self, server: LoopbackServer, **options: Any) -> Any:
        # Not through super(): its first parameter is also called `server`.
        return mf.Model.chat_completion(
            f"{self.provider}/{self.model_id}",
            base_url=server.base_url,
            api_key=self.api_key,
            **{"server": self.server, **options},
        )


class TestLlamaServerConformance(TestLlamaCppConformance):
    """As llama.cpp's own llama-server receives the requests."""

    server = "llama-server"
    # llama-server takes OpenAI's `json_schema` response format and text parts as they are.
    assert_structured_request = ProviderConformance.assert_structured_request
    assert_text_parts_request = ProviderConformance.assert_text_parts_request

    def assert_tools_request(
        self, body: Mapping[str, Any], tools: list[dict[str, Any]], choice: Any
    ) -> None:
        # llama-server takes no tool_choice object: a named choice is "required" over the
        # named tool alone, and one call.
        if not isinstance(choice, Mapping):
            super().assert_tools_request(body, tools, choice)
            return
        name = choice["function"]["name"]
        assert body["tools"] == [tool for tool in tools if tool["function"]["name"] == name]
        assert body["tool_choice"] == "required"
        assert body["parallel_tool_calls"] is False
