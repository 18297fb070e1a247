"""msgflux's provider conformance suite, against the loopback Messages API server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from msgflux.testing.anthropic_server import MessagesServer
from msgflux.testing.conformance import ProviderConformance
from msgflux.testing.server import RecordedRequest


def _anthropic_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    return {
        "name": function["name"],
        "description": function["description"],
        "input_schema": function["parameters"],
    }


class TestAnthropicConformance(ProviderConformance):
    provider = "anthropic"
    model_id = "claude-sonnet-4-20250514"
    server_class = MessagesServer
    unsupported = frozenset({"logprobs", "audio_output", "web_search"})
    reasoning_fields = ("thinking",)
    plain_request_extras: ClassVar[Mapping[str, Any]] = {"max_tokens": 4096}

    def assert_request_basics(self, request: RecordedRequest) -> None:
        assert request.method == "POST" and request.path == "/v1/messages"
        assert request.headers["anthropic-version"] == "2023-06-01"
        if self.api_key is not None:
            assert request.headers["x-api-key"] == self.api_key
            assert "authorization" not in request.headers

    def assert_history_request(
        self, body: Mapping[str, Any], system: str, history: list[dict[str, Any]]
    ) -> None:
        assert body["system"] == system
        assert body["messages"] == history

    def assert_stream_request(self, body: Mapping[str, Any]) -> None:
        assert body["stream"] is True and "stream_options" not in body

    def assert_tools_request(
        self, body: Mapping[str, Any], tools: list[dict[str, Any]], choice: Any
    ) -> None:
        assert body["tools"] == [_anthropic_tool(tool) for tool in tools]
        if choice == "auto":
            assert body.get("tool_choice") in (None, {"type": "auto"})
        else:
            assert body["tool_choice"] == {"type": "tool", "name": choice["function"]["name"]}

    def assert_tool_result_request(
        self, body: Mapping[str, Any], call_id: str, result: str
    ) -> None:
        *_, assistant, results = body["messages"]
        assert results == {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call_id, "content": result}],
        }
        assert assistant["role"] == "assistant"
        assert [block["id"] for block in assistant["content"]] == [call_id]

    def assert_usage(
        self, usage: Mapping[str, Any], prompt: int, completion: int, reasoning: int | None
    ) -> None:
        # Anthropic's own names; thinking is billed inside output_tokens, not broken out.
        assert (usage["input_tokens"], usage["output_tokens"]) == (prompt, completion), usage
        assert usage["cache_read_input_tokens"] == usage["cache_creation_input_tokens"] == 0

    def assert_structured_request(self, body: Mapping[str, Any], name: str) -> None:
        schema = body["output_config"]["format"]["schema"]
        assert body["output_config"]["format"]["type"] == "json_schema"
        assert schema["required"] == ["value", "unit"]
        assert "response_format" not in body
