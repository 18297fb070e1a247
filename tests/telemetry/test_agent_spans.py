"""An agent run: ``invoke_agent`` around its model calls and one ``execute_tool`` per tool call."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import msgflux.nn as nn
from msgflux.testing.server import Reply, ToolCall


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def divide(a: int, b: int) -> float:
    """Divide a by b."""
    return a / b


def run_script(server):
    server.enqueue(
        Reply.calls(
            ToolCall("add", {"a": 3, "b": 5}, id="call_add"),
            ToolCall("divide", {"a": 1, "b": 0}, id="call_div"),
        ),
        Reply.text("8, and 1/0 is undefined."),
    )


def agent_of(model, **config):
    return nn.Agent(model, tools=[add, divide], name="calculator", config=config or None)


def check_run(telemetry, server, answer):
    assert answer == "8, and 1/0 is undefined."
    run = telemetry.span("invoke_agent")
    assert run.name == "invoke_agent calculator"
    assert run.kind is SpanKind.INTERNAL
    assert run.status.status_code is StatusCode.UNSET
    assert dict(run.attributes) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "openai",
        "gen_ai.agent.name": "calculator",
        "gen_ai.request.model": "gpt-test",
        "server.address": "127.0.0.1",
        "server.port": server.port,
    }
    chats = telemetry.spans("chat ")
    tools = {span.name: span for span in telemetry.spans("execute_tool")}
    assert len(chats) == 2
    assert sorted(tools) == ["execute_tool add", "execute_tool divide"]
    for child in (*chats, *tools.values()):
        assert child.parent.span_id == run.context.span_id
        assert child.context.trace_id == run.context.trace_id
    assert chats[0].attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert chats[1].attributes["gen_ai.response.finish_reasons"] == ("stop",)

    added = tools["execute_tool add"]
    assert added.kind is SpanKind.INTERNAL
    assert added.status.status_code is StatusCode.UNSET
    assert dict(added.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": "call_add",
        "gen_ai.tool.description": "Add two numbers.",
    }
    # The tool raised: the model reads an error result, and the span says the tool failed.
    divided = tools["execute_tool divide"]
    assert divided.status.status_code is StatusCode.ERROR
    assert divided.status.description == "ZeroDivisionError"  # no message: it may quote content
    assert dict(divided.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "divide",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": "call_div",
        "gen_ai.tool.description": "Divide a by b.",
        "error.type": "ZeroDivisionError",
    }
    assert run.start_time <= min(s.start_time for s in (*chats, *tools.values()))
    assert run.end_time >= max(s.end_time for s in (*chats, *tools.values()))


def test_a_tool_calling_run(telemetry, make_model, loopback_server):
    run_script(loopback_server)
    answer = agent_of(make_model())("What is 3 + 5, and 1 / 0?")
    check_run(telemetry, loopback_server, answer)


async def test_a_tool_calling_run_async(telemetry, make_model, loopback_server):
    run_script(loopback_server)
    answer = await agent_of(make_model()).acall("What is 3 + 5, and 1 / 0?")
    check_run(telemetry, loopback_server, answer)


def test_a_streamed_run_ends_its_span_with_the_stream(telemetry, make_model, loopback_server):
    run_script(loopback_server)
    response = agent_of(make_model(), stream=True)("What is 3 + 5, and 1 / 0?")
    check_run(telemetry, loopback_server, "".join(response))


async def test_a_streamed_async_run(telemetry, make_model, loopback_server):
    run_script(loopback_server)
    response = await agent_of(make_model(), stream=True).acall("What is 3 + 5, and 1 / 0?")
    check_run(telemetry, loopback_server, await response.aresult())


def test_an_unknown_tool_and_a_failed_run(telemetry, make_model, loopback_server):
    from msgflux.nn import ToolTurnLimitError

    loopback_server.enqueue(
        Reply.calls(ToolCall("nope", {}, id="call_x")),
        Reply.calls(ToolCall("add", {"a": 1, "b": 1}, id="call_y")),
    )
    agent = nn.Agent(make_model(), tools=[add], name="looper", config={"max_tool_turns": 1})
    with pytest.raises(ToolTurnLimitError):
        agent("loop")
    run = telemetry.span("invoke_agent")
    assert run.status.status_code is StatusCode.ERROR
    assert run.attributes["error.type"] == "msgflux.nn.errors.ToolTurnLimitError"
    unknown = telemetry.span("execute_tool nope")
    assert unknown.attributes["error.type"] == "_OTHER"
    assert unknown.attributes["gen_ai.tool.name"] == "nope"
    assert "gen_ai.tool.description" not in unknown.attributes
