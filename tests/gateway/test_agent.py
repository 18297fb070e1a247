"""A gateway as an Agent's model: tool rounds and streams go through it, each model call
failing over on its own."""

from __future__ import annotations

import asyncio

import msgflux as mf
import msgflux.nn as nn
from msgflux.testing.server import Reply, ToolCall


def get_weather(city: str) -> str:
    """Get the current weather of a city.

    Args:
        city: The city's name.
    """
    return f"sunny in {city}"


def weather_calls() -> list[Reply]:
    return [
        Reply.calls(ToolCall("get_weather", {"city": "Paris"}, id="call_1"), reasoning="Tool."),
        Reply.text("It is sunny in Paris.", reasoning="Done."),
    ]


def build(servers, deploy):
    a, b = servers(2)
    gateway = mf.ModelGateway(
        [
            {"name": "a", "group": "chat", "model": deploy(a)},
            {"name": "b", "group": "chat", "model": deploy(b)},
        ]
    )
    return a, b, gateway


def tool_round_was_sent(server) -> None:
    messages = server.requests[-1].json["messages"]
    assert messages[-2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny in Paris"}


def test_an_agent_runs_tools_through_a_gateway(servers, deploy, count):
    a, b, gateway = build(servers, deploy)
    a.set_handler(lambda request: Reply.error(503, "down"))
    b.enqueue(*weather_calls())
    agent = nn.Agent(gateway, instructions="Use the tools.", tools=[get_weather])
    assert agent("Weather in Paris?") == "It is sunny in Paris."
    assert (count(a), count(b)) == (2, 2)  # each model call tried a, then b
    tool_round_was_sent(b)


def test_an_agent_streams_with_tools_through_a_gateway(servers, deploy, count):
    a, b, gateway = build(servers, deploy)
    a.enqueue(Reply.text("never", reset_before=True))  # the first model call fails over
    b.enqueue(weather_calls()[0])
    a.enqueue(weather_calls()[1])  # the second one is answered by a
    agent = nn.Agent(gateway, tools=[get_weather], config={"stream": True})
    response = agent("Weather in Paris?")
    assert "".join(response) == "It is sunny in Paris."
    assert "".join(response.iter_reasoning()) == "Tool." + nn.TURN_SEPARATOR + "Done."
    assert response.metadata.gateway.deployment == "a"
    assert (count(a), count(b)) == (2, 1)
    tool_round_was_sent(a)


def test_an_async_agent_streams_through_a_gateway(servers, deploy, count):
    a, b, gateway = build(servers, deploy)
    a.enqueue(Reply.error(502, "bad gateway"), Reply.error(502, "bad gateway"))
    b.enqueue(*weather_calls())
    agent = nn.Agent(gateway, tools=[get_weather], config={"stream": True})

    async def run() -> str:
        response = await agent.acall("Weather in Paris?")
        text = "".join([chunk async for chunk in response.consume()])
        await gateway.aclose()
        return text

    assert asyncio.run(run()) == "It is sunny in Paris."
    assert (count(a), count(b)) == (2, 2)
    tool_round_was_sent(b)
