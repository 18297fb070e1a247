"""examples/agent_fastapi.py served by a real uvicorn server and read over HTTP with httpx."""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from msgflux.testing.server import Reply, ToolCall

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("fastapi")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent_fastapi.py"


def load_example():
    spec = importlib.util.spec_from_file_location("agent_fastapi_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Served:
    """A uvicorn server on 127.0.0.1 (a free port), run on a thread."""

    def __init__(self, app) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=5
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        # Waiting for start-up, not timing anything: bounded so a broken start fails the test.
        for _ in range(500):
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.01)
        assert self.server.started, "uvicorn did not start"
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc_info) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def example():
    return load_example()


@pytest.fixture
def served(example, model_for) -> Iterator[str]:
    app = example.create_app(model_for(reasoning_effort="low", return_reasoning=True))
    with Served(app) as url:
        yield url


def get_text(url: str, path: str, query: str) -> tuple[str, list[str]]:
    pieces = []
    with httpx.Client(base_url=url, timeout=30) as client:
        with client.stream("GET", path, params={"query": query}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            for piece in response.iter_text():
                pieces.append(piece)
    return "".join(pieces), pieces


def test_chat_streams_the_answer(server, served):
    server.enqueue(Reply.text("15 * 7 + 3 = 108", reasoning="105 + 3"))
    text, _ = get_text(served, "/chat", "What is 15 * 7 + 3?")
    assert text == "15 * 7 + 3 = 108"
    request = server.last_request.json
    assert request["stream"] is True
    assert request["reasoning_effort"] == "low"
    assert request["messages"] == [
        {"role": "system", "content": "Answer concisely."},
        {"role": "user", "content": "What is 15 * 7 + 3?"},
    ]


def test_chat_reasoning_streams_the_reasoning(server, served):
    server.enqueue(Reply.text("108", reasoning="15 * 7 = 105, then 105 + 3 = 108"))
    text, _ = get_text(served, "/chat/reasoning", "What is 15 * 7 + 3?")
    assert text == "15 * 7 = 105, then 105 + 3 = 108"


def test_chunks_reach_the_client_while_the_model_is_still_streaming(server, served):
    # The model sends "Hello" and then nothing: the client must get "Hello" anyway.
    server.enqueue(Reply.text("Hello world", chunks=["Hello", " world"], stall_after=2))
    with httpx.Client(base_url=served, timeout=30) as client:
        with client.stream("GET", "/chat", params={"query": "hi"}) as response:
            first = next(response.iter_text())
    assert first == "Hello"  # then the client left; the server must still shut down cleanly


def test_a_tool_round_streams_into_the_same_http_response(server, example, model_for):
    def get_weather(city: str) -> str:
        """Get the weather of a city."""
        return f"sunny in {city}"

    model = model_for(reasoning_effort="low", return_reasoning=True)
    app = example.create_app(model, tools=[get_weather])
    server.enqueue(
        Reply.calls(
            ToolCall("get_weather", {"city": "Paris"}),
            content="Checking.",
            reasoning="Use the tool.",
        ),
        Reply.text("Sunny in Paris.", reasoning="The tool said sunny."),
        Reply.calls(ToolCall("get_weather", {"city": "Rome"}), reasoning="Use the tool."),
        Reply.text("Sunny in Rome.", reasoning="The tool said sunny."),
    )
    with Served(app) as url:
        answer, _ = get_text(url, "/chat", "Weather in Paris?")
        reasoning, _ = get_text(url, "/chat/reasoning", "Weather in Rome?")
    assert answer == "Checking.\n\nSunny in Paris."
    assert reasoning == "Use the tool.\n\nThe tool said sunny."
    tool_results = [
        m for request in server.requests for m in request.json["messages"] if m["role"] == "tool"
    ]
    assert [m["content"] for m in tool_results] == ["sunny in Paris", "sunny in Rome"]
