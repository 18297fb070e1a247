"""The tool loop of non-streaming agents: execution, parallelism, errors, limits, history."""

from __future__ import annotations

import asyncio
import functools
import threading

import pytest

import msgflux.nn as nn
from msgflux.nn import ToolTurnLimitError
from msgflux.testing.server import Reply, ToolCall
from msgflux.tools import Tool


def tool_messages(request) -> list[dict]:
    return [m for m in request.json["messages"] if m["role"] == "tool"]


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


# -- parallel calls -------------------------------------------------------------------------------


def test_sync_agent_runs_parallel_sync_calls_on_threads(server, model_for):
    barrier = threading.Barrier(3)  # three calls, released only when all three are running

    def wait_for_all(tag: str) -> str:
        """Wait for the other calls."""
        barrier.wait(timeout=10)
        return tag

    server.enqueue(
        Reply.calls(
            ToolCall("wait_for_all", {"tag": "a"}, id="1"),
            ToolCall("wait_for_all", {"tag": "b"}, id="2"),
            ToolCall("wait_for_all", {"tag": "c"}, id="3"),
        ),
        Reply.text("all done"),
    )
    agent = nn.Agent(model_for(), tools=[wait_for_all])
    assert agent("go") == "all done"
    assert tool_messages(server.requests[1]) == [
        {"role": "tool", "tool_call_id": "1", "content": "a"},
        {"role": "tool", "tool_call_id": "2", "content": "b"},
        {"role": "tool", "tool_call_id": "3", "content": "c"},
    ]


async def test_async_agent_gathers_parallel_async_calls(server, model_for):
    barrier = asyncio.Barrier(2)

    async def rendezvous(tag: str) -> str:
        """Meet the other call."""
        async with asyncio.timeout(10):
            await barrier.wait()
        return tag.upper()

    server.enqueue(
        Reply.calls(ToolCall("rendezvous", {"tag": "x"}), ToolCall("rendezvous", {"tag": "y"})),
        Reply.text("met"),
    )
    agent = nn.Agent(model_for(), tools=[rendezvous])
    assert await agent.acall("go") == "met"
    assert [m["content"] for m in tool_messages(server.requests[1])] == ["X", "Y"]


async def test_async_agent_runs_sync_tools_off_the_event_loop(server, model_for):
    loop_thread = threading.get_ident()
    seen: list[int] = []
    barrier = threading.Barrier(2)

    def blocking(tag: str) -> str:
        """A blocking tool."""
        seen.append(threading.get_ident())
        barrier.wait(timeout=10)  # both sync calls run at once, without blocking the loop
        return tag

    async def non_blocking(tag: str) -> str:
        """An async tool."""
        await asyncio.sleep(0)
        return tag * 2

    server.enqueue(
        Reply.calls(
            ToolCall("blocking", {"tag": "a"}),
            ToolCall("non_blocking", {"tag": "b"}),
            ToolCall("blocking", {"tag": "c"}),
        ),
        Reply.text("ok"),
    )
    agent = nn.Agent(model_for(), tools=[blocking, non_blocking])
    assert await agent.acall("go") == "ok"
    assert [m["content"] for m in tool_messages(server.requests[1])] == ["a", "bb", "c"]
    assert loop_thread not in seen


def test_sync_agent_awaits_async_tools(server, model_for):
    async def fetch(key: str) -> dict:
        """Fetch a record."""
        await asyncio.sleep(0)
        return {"key": key, "value": 0}

    server.enqueue(Reply.calls(ToolCall("fetch", {"key": "k1"})), Reply.text("fetched"))
    agent = nn.Agent(model_for(), tools=[fetch])
    assert agent("fetch k1") == "fetched"
    assert tool_messages(server.requests[1])[0]["content"] == '{"key":"k1","value":0}'


async def test_sync_agent_awaits_async_tools_even_inside_a_running_loop(server, model_for):
    async def fetch(key: str) -> str:
        """Fetch a record."""
        await asyncio.sleep(0)
        return f"value of {key}"

    server.enqueue(Reply.calls(ToolCall("fetch", {"key": "k1"})), Reply.text("fetched"))
    agent = nn.Agent(model_for(), tools=[fetch])
    # A sync call from a coroutine (a loop is running on this thread): the async tool runs
    # on a loop of its own, on a worker thread.
    assert agent("fetch k1") == "fetched"
    assert tool_messages(server.requests[1])[0]["content"] == "value of k1"


# -- every call gets a result ---------------------------------------------------------------------


@pytest.mark.parametrize("call", ["sync", "async"])
def test_a_tool_that_raises_becomes_an_error_result(server, model_for, call):
    def divide(a: float, b: float) -> float:
        """Divide a by b."""
        return a / b

    server.enqueue(
        Reply.calls(ToolCall("divide", {"a": 1, "b": 0}), ToolCall("divide", {"a": 6, "b": 3})),
        Reply.text("one of them failed"),
    )
    agent = nn.Agent(model_for(), tools=[divide])
    result = agent("divide") if call == "sync" else asyncio.run(agent.acall("divide"))
    assert result == "one of them failed"
    assert [m["content"] for m in tool_messages(server.requests[1])] == [
        "Error: the tool 'divide' raised ZeroDivisionError: float division by zero",
        "2.0",
    ]


@pytest.mark.parametrize("call", ["sync", "async"])
def test_falsy_results_are_results(server, model_for, call):
    values = {"zero": 0, "empty": "", "false": False, "none": None, "nothing": []}

    def falsy(kind: str):
        """Return a falsy value."""
        return values[kind]

    server.enqueue(
        Reply.calls(*(ToolCall("falsy", {"kind": kind}) for kind in values)),
        Reply.text("seen"),
    )
    agent = nn.Agent(model_for(), tools=[falsy])
    assert (agent("x") if call == "sync" else asyncio.run(agent.acall("x"))) == "seen"
    assert [m["content"] for m in tool_messages(server.requests[1])] == [
        "0",
        "",
        "false",
        "null",
        "[]",
    ]


def test_an_unknown_tool_gets_an_error_naming_the_available_ones(server, model_for):
    def multiply(a: int, b: int) -> int:
        """Multiply."""
        return a * b

    server.enqueue(
        Reply.calls(ToolCall("search", {"q": "x"}), ToolCall("add", {"a": 1, "b": 2})),
        Reply.text("ok"),
    )
    agent = nn.Agent(model_for(), tools=[add, multiply])
    assert agent("x") == "ok"
    assert [m["content"] for m in tool_messages(server.requests[1])] == [
        "Error: there is no tool named 'search'; the available tools are: add, multiply.",
        "3",
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": 1', "are not valid JSON"),
        ('{"a": "one", "b": 2}', "do not fit its parameters"),
        ('{"a": 1, "b": 2, "c": 3}', "do not fit its parameters"),
    ],
)
def test_bad_arguments_get_an_error_result(server, model_for, arguments, expected):
    server.enqueue(Reply.calls(ToolCall("add", arguments)), Reply.text("ok"))
    assert nn.Agent(model_for(), tools=[add])("x") == "ok"
    [message] = tool_messages(server.requests[1])
    assert message["content"].startswith("Error: The arguments for the tool 'add'")
    assert expected in message["content"]


# -- the limit on tool rounds ---------------------------------------------------------------------


@pytest.mark.parametrize("call", ["sync", "async"])
def test_max_tool_turns_raises_with_the_conversation(server, model_for, call):
    again = Reply.calls(ToolCall("add", {"a": 1, "b": 1}, id="again"))
    server.enqueue(again, again, again, again)
    agent = nn.Agent(model_for(), tools=[add], config={"max_tool_turns": 2})
    with pytest.raises(ToolTurnLimitError, match=r"\(add\) after 2 round") as caught:
        agent("loop") if call == "sync" else asyncio.run(agent.acall("loop"))
    assert len(server.requests) == 3  # two rounds ran; the third request for tools did not
    error = caught.value
    assert error.max_tool_turns == 2
    assert error.calls[0]["function"] == {"name": "add", "arguments": '{"a":1,"b":1}'}
    assert [m["role"] for m in error.messages] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]


def test_the_default_limit_is_ten_rounds(server, model_for):
    server.set_handler(lambda request: Reply.calls(ToolCall("add", {"a": 1, "b": 1})))
    agent = nn.Agent(model_for(), tools=[add])
    with pytest.raises(ToolTurnLimitError):
        agent("loop")
    assert len(server.requests) == 11


def test_an_answer_at_the_limit_is_an_answer(server, model_for):
    call = Reply.calls(ToolCall("add", {"a": 1, "b": 1}))
    server.enqueue(call, call, Reply.text("2"))
    agent = nn.Agent(model_for(), tools=[add], config={"max_tool_turns": 2})
    assert agent("x") == "2"


# -- tool_choice, history, tool kinds -------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "first"),
    [
        ("required", "required"),
        ("add", {"type": "function", "function": {"name": "add"}}),
    ],
)
def test_a_forced_tool_choice_applies_to_the_first_call_only(server, model_for, choice, first):
    server.enqueue(Reply.calls(ToolCall("add", {"a": 2, "b": 2})), Reply.text("4"))
    agent = nn.Agent(model_for(), tools=[add], config={"tool_choice": choice})
    assert agent("2+2") == "4"
    assert server.requests[0].json["tool_choice"] == first
    assert server.requests[1].json["tool_choice"] == "auto"


def test_tool_choice_none_and_auto_stay(server, model_for):
    server.enqueue(Reply.text("no tools"), Reply.calls(ToolCall("add", {})), Reply.text("ok"))
    assert nn.Agent(model_for(), tools=[add], config={"tool_choice": "none"})("x") == "no tools"
    assert server.requests[0].json["tool_choice"] == "none"
    nn.Agent(model_for(), tools=[add], config={"tool_choice": "auto"})("x")
    assert [r.json["tool_choice"] for r in server.requests[1:]] == ["auto", "auto"]


def test_return_messages_gives_the_whole_conversation(server, model_for):
    server.enqueue(
        Reply.calls(ToolCall("add", {"a": 2, "b": 3}, id="c1"), content="Adding."),
        Reply.text("5", reasoning="2+3"),
    )
    agent = nn.Agent(
        model_for(),
        instructions="Be exact.",
        tools=[add],
        config={"return_messages": True, "reasoning_in_response": True},
    )
    history = [
        {"role": "user", "content": "Remember 2 and 3."},
        {"role": "assistant", "content": "OK"},
    ]
    history.append({"role": "user", "content": "Add them."})
    snapshot = [dict(m) for m in history]

    output = agent(history)

    assert history == snapshot  # the caller's list is not touched
    assert output.answer == "5"
    assert output.reasoning == "2+3"
    assert output.messages == [
        *snapshot,
        {
            "role": "assistant",
            "content": "Adding.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a":2,"b":3}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "5"},
        {"role": "assistant", "content": "5"},
    ]
    # the system prompt is the agent's, not part of the conversation
    assert server.requests[0].json["messages"][0] == {"role": "system", "content": "Be exact."}
    assert server.requests[0].json["messages"][1:] == snapshot


def test_methods_partials_callable_objects_and_tools_are_tools(server, model_for):
    class Store:
        def __init__(self) -> None:
            self.data = {"a": 1}

        def get(self, key: str) -> int:
            """Read a key."""
            return self.data[key]

    class Scale:
        def __call__(self, x: int, factor: int = 10) -> int:
            """Scale x."""
            return x * factor

    def power(base: int, exponent: int) -> int:
        """Raise base to exponent."""
        return base**exponent

    square = functools.partial(power, exponent=2)  # named after the function it wraps

    store = Store()
    tools = [store.get, Scale(), Tool.from_callable(add, name="plus"), square]
    server.enqueue(
        Reply.calls(
            ToolCall("get", {"key": "a"}),
            ToolCall("Scale", {"x": 2, "factor": None}),
            ToolCall("plus", {"a": 1, "b": 1}),
            ToolCall("power", {"base": 3}),
        ),
        Reply.text("ok"),
    )
    agent = nn.Agent(model_for(), tools=tools)
    assert agent("x") == "ok"
    names = [tool["function"]["name"] for tool in server.requests[0].json["tools"]]
    assert names == ["get", "Scale", "plus", "power"]
    assert [m["content"] for m in tool_messages(server.requests[1])] == ["1", "20", "2", "9"]


def test_verbose_prints_tool_calls_and_results(server, model_for, capsys):
    def boom() -> None:
        """Fail."""
        raise RuntimeError("kaput")

    class MathAgent(nn.Agent):
        tools = [add, boom]
        config = {"verbose": True}

    server.enqueue(
        Reply.calls(ToolCall("add", {"a": 1, "b": 2}), ToolCall("boom", {}), content="Let me."),
        Reply.text("3"),
    )
    assert MathAgent(model_for())("1+2") == "3"
    assert capsys.readouterr().out.splitlines() == [
        "[math_agent][response] Let me.",
        '[math_agent][tool_call] add {"a":1,"b":2}',
        "[math_agent][tool_call] boom {}",
        "[math_agent][tool_result] add -> 3",
        "[math_agent][tool_error] boom -> Error: the tool 'boom' raised RuntimeError: kaput",
        "[math_agent][response] 3",
    ]


def test_one_agent_serves_many_threads(server, model_for):
    def echo_tool(text: str) -> str:
        """Echo."""
        return text

    def handler(request):
        messages = request.json["messages"]
        if messages[-1]["role"] == "tool":
            return Reply.text(f"answer to {messages[-1]['content']}")
        return Reply.calls(ToolCall("echo_tool", {"text": messages[-1]["content"]}))

    server.set_handler(handler)
    agent = nn.Agent(model_for(), tools=[echo_tool])
    results: dict[int, str] = {}

    def run(i: int) -> None:
        results[i] = agent(f"q{i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {i: f"answer to q{i}" for i in range(8)}
