"""Anthropic (its own wire format) beside OpenAI-family providers, in one application.

A ``ModelGateway`` over an Anthropic deployment and an OpenAI one fails over between them,
with whole answers, streams and an Agent's tool loop; the thinking blocks an Anthropic
answer leaves in the tool-call history never reach an OpenAI-family request (which would
reject an unknown field), and still reach Anthropic when the loop comes back to it.

Needs msgflux-openai and msgflux-anthropic installed (the workspace dev environment).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import msgflux as mf
import msgflux.nn as nn
from msgflux.testing.anthropic_server import MessagesServer
from msgflux.testing.server import LoopbackServer, Reply

pytest.importorskip("msgflux_openai", reason="the gateway mixes openai and anthropic")
pytest.importorskip("msgflux_anthropic", reason="the gateway mixes openai and anthropic")

THINKING = {"type": "thinking", "thinking": "Use the tool.", "signature": "c2lnLTE="}


@pytest.fixture
def servers() -> Iterator[tuple[MessagesServer, LoopbackServer]]:
    with MessagesServer() as messages, LoopbackServer() as chat:
        yield messages, chat


def _models(servers: tuple[MessagesServer, LoopbackServer], **options: Any) -> tuple[Any, Any]:
    messages, chat = servers
    claude = mf.Model.chat_completion(
        "anthropic/claude-sonnet-4-20250514", base_url=messages.base_url, api_key="ak", **options
    )
    gpt = mf.Model.chat_completion("openai/gpt-4.1-mini", base_url=chat.base_url, api_key="ok")
    return claude, gpt


def _gateway(claude: Any, gpt: Any) -> Any:
    return mf.ModelGateway(
        [
            {"name": "claude", "group": "primary", "model": claude},
            {"name": "gpt", "group": "backup", "model": gpt},
        ],
        fallbacks={"primary": ["backup"]},
    )


def test_an_overloaded_anthropic_fails_over_to_openai(servers):
    messages, chat = servers
    messages.enqueue(Reply.error(529, "Overloaded"))
    chat.enqueue(Reply.text("from gpt"))
    claude, gpt = _models(servers)

    response = _gateway(claude, gpt)("Hello")

    assert response.consume() == "from gpt"
    assert response.metadata.gateway["deployment"] == "gpt"
    assert len(messages.requests) == 1 and len(chat.requests) == 1


def test_a_stream_fails_over_before_anything_was_delivered(servers):
    messages, chat = servers
    messages.enqueue(Reply.error(529, "Overloaded"))
    chat.enqueue(Reply.text("streamed by gpt"))
    claude, gpt = _models(servers)

    response = _gateway(claude, gpt)("Hello", stream=True)

    assert "".join(response) == "streamed by gpt"


def test_openai_first_then_anthropic(servers):
    messages, chat = servers
    chat.enqueue(Reply.error(503, "down"))
    messages.enqueue(Reply.text("from claude", reasoning="hmm"))
    claude, gpt = _models(servers)
    gateway = mf.ModelGateway(
        [
            {"name": "gpt", "group": "primary", "model": gpt},
            {"name": "claude", "group": "backup", "model": claude},
        ],
        fallbacks={"primary": ["backup"]},
    )

    response = gateway("Hello")

    assert (response.consume(), response.reasoning) == ("from claude", "hmm")


def test_thinking_blocks_reach_anthropic_and_never_openai(servers):
    messages, chat = servers
    claude, gpt = _models(servers, enable_thinking=True)
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}
    messages.enqueue(Reply(content_blocks=[THINKING, tool_use]), Reply.text("claude again"))
    chat.enqueue(Reply.text("gpt answers"))

    def lookup(q: str) -> str:
        """Look something up."""
        return f"found {q}"

    from msgflux.tools import ToolDefinitions

    tools = ToolDefinitions.from_callables([lookup])
    history: list[dict[str, Any]] = [{"role": "user", "content": "Find x"}]
    calls = claude(history, tool_definitions=tools).consume()
    calls.insert_results("toolu_1", "found x")
    history += calls.get_messages()
    assert history[1]["provider_data"] == {"anthropic": {"content": [THINKING, tool_use]}}

    assert gpt(history, tool_definitions=tools).consume() == "gpt answers"
    sent = chat.last_request.json["messages"]
    assert "provider_data" not in sent[1] and b"provider_data" not in chat.last_request.body
    assert b"c2lnLTE=" not in chat.last_request.body

    assert claude(history, tool_definitions=tools).consume() == "claude again"
    assert messages.last_request.json["messages"][1]["content"][0] == THINKING


def test_an_agent_over_the_gateway_runs_its_tools_through_a_failover(servers):
    messages, chat = servers
    tool_use = {"type": "tool_use", "id": "toolu_7", "name": "double", "input": {"n": 21}}
    messages.enqueue(Reply(content_blocks=[THINKING, tool_use]), Reply.error(529, "Overloaded"))
    chat.enqueue(Reply.text("42"))
    claude, gpt = _models(servers, enable_thinking=True)

    def double(n: int) -> int:
        """Double a number."""
        return n * 2

    agent = nn.Agent(_gateway(claude, gpt), tools=[double])

    assert agent("Double 21") == "42"
    sent = chat.last_request.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[2] == {"role": "tool", "tool_call_id": "toolu_7", "content": "42"}
    assert b"provider_data" not in chat.last_request.body
