"""Every example of spec 003 (Streaming from an Agent), run against the loopback server.

The spec's ``openai/gpt-4.1-mini`` and ``groq/openai/gpt-oss-120b`` models are OpenAI-provider
models pointed at the loopback server. The FastAPI example is tested in
``test_fastapi_example.py`` (served by uvicorn, read over HTTP).
"""

# Agents are declared with class attributes, as the spec does (`config = {...}`).

from __future__ import annotations

import time

import msgflux.nn as nn
from msgflux.models.response import ModelStreamResponse
from msgflux.testing.server import Reply

STORY = "Once upon a time a small model streamed its first story."


async def test_basic_usage_async(server, model_for):
    llm = model_for("gpt-4.1-mini")

    class Assistant(nn.Agent):
        model = llm
        config = {"stream": True}

    server.enqueue(Reply.text(STORY))
    agent = Assistant()
    response = await agent.acall("Tell me a story")

    chunks = [chunk async for chunk in response.consume()]
    assert len(chunks) == len(STORY.split())  # one chunk per streamed token, not one blob
    assert "".join(chunks) == STORY
    request = server.last_request.json
    assert request["stream"] is True
    assert request["messages"] == [{"role": "user", "content": "Tell me a story"}]


def test_sync_mode_poll_metadata_then_read_data(server, model_for):
    llm = model_for("gpt-4.1-mini")

    class Assistant(nn.Agent):
        model = llm
        config = {"stream": True}

    server.enqueue(Reply.text(STORY, chunk_delay=0.005))
    agent = Assistant()
    response = agent("Tell me a story")

    # Wait for the stream to finish (the spec's loop)
    for _ in range(100):
        if response.metadata is not None:
            break
        time.sleep(0.1)

    assert response.data == STORY


def test_response_object_attributes_while_and_after_streaming(server, model_for):
    llm = model_for("gpt-4.1-mini")

    class Assistant(nn.Agent):
        model = llm
        config = {"stream": True}

    words = [f" w{i}" for i in range(40)]
    server.enqueue(Reply.text("".join(words), chunks=words, chunk_delay=0.05))
    response = Assistant()("Say many words")

    assert isinstance(response, ModelStreamResponse)
    assert response.first_chunk_event.is_set()
    assert response.response_type == "text_generation"
    assert response.data is None  # None while streaming
    assert response.metadata is None  # None while streaming: the completion signal
    reader = iter(response)
    assert next(reader) == " w0"

    reader.close()  # a reader that stops early closes the stream
    assert response.wait(10)
    assert response.data.startswith(" w0")
    assert len(response.data) < len("".join(words))  # stopped, not read to the end
    assert response.metadata is not None


async def test_closing_a_stalled_async_stream_releases_it(server, model_for):
    llm = model_for("gpt-4.1-mini")

    class Assistant(nn.Agent):
        model = llm
        config = {"stream": True}

    # Event 1 is the role chunk, event 2 "Hello"; then the server sends nothing more.
    server.enqueue(Reply.text("Hello world", chunks=["Hello", " world"], stall_after=2))
    response = await Assistant().acall("Say hello")
    async for chunk in response.consume():
        assert chunk == "Hello"
        break
    await response.aclose()
    assert response.done
    assert response.data == "Hello"
    assert response.error is None


def test_response_attributes_after_completion(server, model_for):
    llm = model_for("gpt-4.1-mini")

    class Assistant(nn.Agent):
        model = llm
        config = {"stream": True}

    server.enqueue(Reply.text("Hi there", usage="auto"))
    response = Assistant()("Hi")
    assert list(response) == ["Hi", " there"]
    assert response.data == "Hi there"
    assert response.response_type == "text_generation"
    assert response.metadata.usage.total_tokens > 0
    assert response.metadata.finish_reason == "stop"


async def test_streaming_with_reasoning(server, model_for):
    llm = model_for(reasoning_effort="low", return_reasoning=True)

    class Solver(nn.Agent):
        model = llm
        instructions = "Solve the problem."
        config = {"stream": True}

    server.enqueue(
        Reply.text("108", reasoning="15 * 7 = 105, plus 3 is 108", reasoning_field="reasoning")
    )
    agent = Solver()
    response = await agent.acall("What is 15 * 7 + 3?")

    thinking = [chunk async for chunk in response.consume_reasoning()]
    answer = [chunk async for chunk in response.consume()]
    assert "".join(thinking) == "15 * 7 = 105, plus 3 is 108"
    assert len(thinking) > 1
    assert answer == ["108"]
    assert server.last_request.json["messages"][0] == {
        "role": "system",
        "content": "Solve the problem.",
    }
