"""A streaming chat API: an ``nn.Agent`` behind FastAPI (spec 002 section 3, spec 003).

Two endpoints stream the same agent's answer as plain text:

- ``GET /chat?query=...``: the answer, chunk by chunk;
- ``GET /chat/reasoning?query=...``: the model's reasoning, chunk by chunk.

Run it (``pip install "msgflux[groq]" fastapi uvicorn``, ``GROQ_API_KEY`` set)::

    python examples/agent_fastapi.py                      # serves on 127.0.0.1:8000
    curl -N "http://127.0.0.1:8000/chat?query=What+is+15*7%2B3%3F"

``MSGFLUX_MODEL`` picks another model (``"openai/gpt-4.1-mini"``, ...); its provider's own
env vars give the key and the URL. Tests build the app with ``create_app(model)`` around a
model of their choice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

import msgflux as mf
import msgflux.nn as nn

DEFAULT_MODEL = "groq/openai/gpt-oss-120b"


def default_model() -> Any:
    """The spec's reasoning model (or ``$MSGFLUX_MODEL``), thinking a little."""
    return mf.Model.chat_completion(
        os.environ.get("MSGFLUX_MODEL", DEFAULT_MODEL),
        reasoning_effort="low",
        return_reasoning=True,
    )


def create_app(model: Any = None, tools: Sequence[Callable[..., Any]] = ()) -> FastAPI:
    """The FastAPI app.

    Args:
        model: The agent's model; defaults to :func:`default_model`.
        tools: Tools for the agent. When the model calls them, the agent runs them and the
            answer that follows streams into the same HTTP response.
    """
    llm = model if model is not None else default_model()

    class Assistant(nn.Agent):
        model = llm
        instructions = "Answer concisely."
        config = {"stream": True}

    agent = Assistant(tools=tools)
    app = FastAPI(title="msgflux agent")

    @app.get("/chat")
    async def chat(query: str) -> StreamingResponse:
        response = await agent.acall(query)
        return StreamingResponse(response.consume(), media_type="text/plain")

    @app.get("/chat/reasoning")
    async def chat_reasoning(query: str) -> StreamingResponse:
        response = await agent.acall(query)
        return StreamingResponse(response.consume_reasoning(), media_type="text/plain")

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
