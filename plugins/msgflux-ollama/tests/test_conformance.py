"""The Ollama plugin passes the provider conformance suite of ``msgflux.testing``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from msgflux.errors import UnsupportedParameterError
from msgflux.testing.conformance import TOOLS, ProviderConformance
from msgflux.testing.server import Reply, ToolCall
from msgflux.tools import ToolDefinitions


class TestOllamaConformance(ProviderConformance):
    provider = "ollama"
    model_id = "qwen3:8b"
    unsupported = frozenset({"audio_output", "web_search"})
    # msgflux's default enable_thinking=False is sent as Ollama's "thinking off".
    plain_request_extras: ClassVar[dict[str, Any]] = {"reasoning_effort": "none"}

    def assert_tools_request(
        self, body: Mapping[str, Any], tools: list[dict[str, Any]], choice: Any
    ) -> None:
        # The endpoint reads no tool_choice; "auto" (its only behaviour) is not sent.
        assert choice == "auto"
        assert body["tools"] == tools
        assert "tool_choice" not in body

    def test_single_tool_call(self, loopback_server, transport):
        # Replaces the suite's forced-choice test: Ollama cannot force a call, so a named
        # tool_choice is refused before sending, and the same call with "auto" works.
        model = self._model(loopback_server, transport)
        with pytest.raises(UnsupportedParameterError, match="'ollama' cannot force a tool call"):
            model("Weather?", tool_definitions=ToolDefinitions(schemas=TOOLS, choice="get_weather"))
        assert loopback_server.requests == []
        loopback_server.enqueue(Reply.calls(ToolCall("get_weather", {"city": "Paris"}, id="c1")))
        response = model("Weather in Paris?", tool_definitions=ToolDefinitions(schemas=TOOLS))
        assert response.consume().get_calls()[0]["function"]["arguments"] == {"city": "Paris"}
        body = self._last(loopback_server, "tools")
        assert body["tools"] == TOOLS and "tool_choice" not in body
