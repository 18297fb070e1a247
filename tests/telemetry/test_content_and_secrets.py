"""Content is recorded only when the user opts in; the API key never, opted in or not."""

from __future__ import annotations

import json
import logging

import pytest

import msgflux.nn as nn
from msgflux.testing.server import Reply, ToolCall

PROMPT = "my secret plan is to visit Lisbon"
ANSWER = "Lisbon is lovely in spring"
SYSTEM = "You are a travel agent."


def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: population 545000"


def exercise(make_model, server, key):
    """A plain call, a stream, an agent run with a tool and a retried error, all traced."""
    server.enqueue(
        Reply.text(ANSWER),
        Reply.text(ANSWER),
        Reply.calls(ToolCall("lookup", {"city": "Lisbon"}, id="call_1")),
        Reply.text(ANSWER),
        # A proxy that echoes the key in its error, then fails for good.
        Reply.error(503, f"upstream refused key {key}"),
        Reply.error(401, f"invalid api key {key}"),
    )
    model = make_model(api_key=key)
    model(PROMPT, system_prompt=SYSTEM)
    "".join(model(PROMPT, stream=True))
    nn.Agent(model, tools=[lookup], name="travel")(PROMPT)
    with pytest.raises(Exception, match="invalid api key"):
        model(PROMPT)


def test_no_content_and_no_key_by_default(telemetry, make_model, loopback_server, support, caplog):
    with caplog.at_level(logging.DEBUG, logger="msgflux"):
        exercise(make_model, loopback_server, support.API_KEY)
    recorded = telemetry.everything_recorded()
    assert len(telemetry.spans()) == 7  # 5 chats, 1 agent run, 1 tool call
    for text in (PROMPT, ANSWER, SYSTEM, "Lisbon", "545000"):
        assert text not in recorded
    for span in telemetry.spans():
        assert not {
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
        } & set(span.attributes)
    assert_no_key(recorded, caplog, support.API_KEY)


@pytest.mark.parametrize("how", ["argument", "SPAN_ONLY", "span_and_event", "true"])
def test_content_when_opted_in_and_still_no_key(
    telemetry, make_model, loopback_server, support, caplog, monkeypatch, how
):
    if how == "argument":
        telemetry.instrument(capture_content=True)
    else:
        monkeypatch.setenv(support.CAPTURE_ENV, how)
        telemetry.instrument()
    with caplog.at_level(logging.DEBUG, logger="msgflux"):
        exercise(make_model, loopback_server, support.API_KEY)

    first = telemetry.spans("chat ")[0]
    assert json.loads(first.attributes["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": SYSTEM}]},
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]},
    ]
    assert json.loads(first.attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": ANSWER}],
            "finish_reason": "stop",
        }
    ]
    streamed = telemetry.spans("chat ")[1]
    assert json.loads(streamed.attributes["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": ANSWER}
    ]
    asked, answered = telemetry.spans("chat ")[2:4]
    assert json.loads(asked.attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "lookup",
                    "arguments": {"city": "Lisbon"},
                }
            ],
            "finish_reason": "tool_calls",
        }
    ]
    assert json.loads(answered.attributes["gen_ai.input.messages"])[1:] == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "lookup",
                    "arguments": {"city": "Lisbon"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [
                {
                    "type": "tool_call_response",
                    "id": "call_1",
                    "response": "Lisbon: population 545000",
                }
            ],
        },
    ]
    tool = telemetry.span("execute_tool")
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"city": "Lisbon"}
    assert json.loads(tool.attributes["gen_ai.tool.call.result"]) == "Lisbon: population 545000"
    assert_no_key(telemetry.everything_recorded(), caplog, support.API_KEY)


def test_a_key_quoted_in_a_prompt_is_not_recorded(telemetry, make_model, loopback_server, support):
    telemetry.instrument(capture_content=True)
    make_model()(f"is {support.API_KEY} my key?")
    recorded = telemetry.everything_recorded()
    assert support.API_KEY not in recorded
    assert "[REDACTED]" in telemetry.span().attributes["gen_ai.input.messages"]


def test_event_only_records_no_content_and_says_why(
    telemetry, make_model, monkeypatch, support, caplog
):
    monkeypatch.setenv(support.CAPTURE_ENV, "EVENT_ONLY")
    with caplog.at_level(logging.WARNING, logger="msgflux.telemetry"):
        telemetry.instrument()
    make_model()(PROMPT)
    assert PROMPT not in telemetry.everything_recorded()
    assert any("EVENT_ONLY" in r.getMessage() for r in caplog.records)


def assert_no_key(recorded, caplog, key):
    assert key not in recorded
    assert f"Bearer {key}" not in recorded
    for record in caplog.records:
        line = record.getMessage()
        assert key not in line, line
        assert "\n" not in line, line
