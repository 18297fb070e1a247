"""The ``fake`` provider: deterministic, offline, and registered like any other plugin.

For your own tests and for trying msgflux without a server or a key::

    model = mf.Model.chat_completion("fake/echo")
    model("Hello").consume()                      # "Hello" (echo of the last user message)

    model = mf.Model.chat_completion("fake/scripted", responses=[
        "first answer",
        {"content": "42", "reasoning": "6 * 7"},
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    ])

Scripted answers are used in order, then the model echoes again. With a
``generation_schema`` and no script, it answers with the simplest JSON that fits the
schema. Streams are cut into ``chunk_size``-character chunks. ``model.client.requests``
records every request the pipeline sent.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from msgflux.hookspecs import hookimpl
from msgflux.models.clients import ChatClients
from msgflux.providers import CAPABILITIES, ProviderSpec

__all__ = ["FakeAnswer", "FakeChunk", "FakeClient"]

PROVIDER = ProviderSpec(
    name="fake",
    api_key_required=False,
    default_base_url="fake://offline",
    options={"responses": None, "chunk_size": 4},
    supports=CAPABILITIES - {"web_search", "audio_output"},
    description="deterministic offline provider for tests and demos",
)


@dataclass
class FakeAnswer:
    """One whole answer of the fake provider."""

    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str = "stop"


@dataclass
class FakeChunk:
    """One stream chunk of the fake provider (at most one kind of payload set)."""

    content: str | None = None
    reasoning: str | None = None
    tool_call: tuple[int, str | None, str | None, str | None] | None = None
    usage: dict[str, int] | None = None
    finish_reason: str | None = None


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    part.get("text", "") for part in content if part.get("type") == "text"
                )
    return ""


def _example(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """The simplest value valid for a JSON schema (first enum member, empty string, 0...)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _example(defs.get(name, {}), defs, depth + 1) if depth < 8 else None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [option for option in schema[key] if option.get("type") != "null"]
            return _example(options[0], defs, depth + 1) if options else None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _example(sub, defs, depth + 1) for name, sub in properties.items()}
    if not isinstance(kind, str):
        return None  # no type (or only "null"): the simplest value is null
    return {"array": [], "string": "", "integer": 0, "number": 0.0, "boolean": False}.get(kind)


class _Script:
    """The answers a fake model gives, in order, shared by its sync and async clients."""

    def __init__(self, responses: list[Any] | None) -> None:
        self._queue: deque[Any] = deque(responses or [])
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []

    def answer(self, params: dict[str, Any]) -> FakeAnswer:
        with self._lock:
            self.requests.append(params)
            scripted = self._queue.popleft() if self._queue else None
        if isinstance(scripted, FakeAnswer):
            return scripted
        if isinstance(scripted, str):
            return FakeAnswer(content=scripted)
        if isinstance(scripted, dict):
            calls = [
                {
                    "id": call.get("id", f"call_{index}"),
                    "name": call["name"],
                    "arguments": call.get("arguments", {}),
                }
                for index, call in enumerate(scripted.get("tool_calls", []))
            ]
            return FakeAnswer(
                content=scripted.get("content"),
                reasoning=scripted.get("reasoning"),
                tool_calls=calls,
                finish_reason="tool_calls" if calls else "stop",
            )
        if scripted is not None:
            raise TypeError(f"fake responses must be str, dict or FakeAnswer, got {scripted!r}")
        response_format = params.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            schema = response_format["json_schema"]["schema"]
            return FakeAnswer(content=json.dumps(_example(schema, schema.get("$defs", {}))))
        return FakeAnswer(content=_last_user_text(params["messages"]))


def _usage(params: dict[str, Any], answer: FakeAnswer) -> dict[str, int]:
    if answer.usage:
        return answer.usage
    prompt = sum(len(str(message.get("content") or "").split()) for message in params["messages"])
    completion = len((answer.content or "").split()) + len((answer.reasoning or "").split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chunks(answer: FakeAnswer, params: dict[str, Any], size: int) -> list[FakeChunk]:
    def pieces(text: str) -> list[str]:
        return [text[i : i + size] for i in range(0, len(text), size)]

    chunks = [FakeChunk(reasoning=piece) for piece in pieces(answer.reasoning or "")]
    chunks += [FakeChunk(content=piece) for piece in pieces(answer.content or "")]
    for index, call in enumerate(answer.tool_calls):
        arguments = call["arguments"]
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        chunks.append(FakeChunk(tool_call=(index, call["id"], call["name"], "")))
        chunks += [FakeChunk(tool_call=(index, None, None, piece)) for piece in pieces(text)]
    chunks.append(FakeChunk(finish_reason=answer.finish_reason))
    chunks.append(FakeChunk(usage=_usage(params, answer)))
    return chunks


class _FakeStream:
    def __init__(self, chunks: list[FakeChunk]) -> None:
        self._chunks = iter(chunks)
        self.closed = False

    def __iter__(self) -> Iterator[FakeChunk]:
        for chunk in self._chunks:
            if self.closed:
                return
            yield chunk

    async def __aiter__(self) -> AsyncIterator[FakeChunk]:
        for chunk in self._chunks:
            if self.closed:
                return
            yield chunk

    def close(self) -> None:
        self.closed = True


class _Completions:
    def __init__(self, script: _Script, chunk_size: int, is_async: bool) -> None:
        self._script = script
        self._chunk_size = chunk_size
        self._is_async = is_async

    def _create(self, params: dict[str, Any]) -> Any:
        answer = self._script.answer(params)
        if params.get("stream"):
            return _FakeStream(_chunks(answer, params, self._chunk_size))
        answer.usage = _usage(params, answer)
        return answer

    def create(self, **params: Any) -> Any:
        if self._is_async:
            return self._acreate(params)
        return self._create(params)

    async def _acreate(self, params: dict[str, Any]) -> Any:
        return self._create(params)


class _Chat:
    def __init__(self, completions: _Completions) -> None:
        self.completions = completions


class FakeClient:
    """The fake provider's client; ``requests`` lists every request it received."""

    def __init__(self, script: _Script, chunk_size: int, is_async: bool = False) -> None:
        self._script = script
        self.chat = _Chat(_Completions(script, chunk_size, is_async))

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self._script.requests


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def initialize_client(model: Any, clients: ChatClients | None) -> ChatClients | None:
    if clients is not None:
        return None
    script = _Script(model.options.get("responses"))
    size = model.options.get("chunk_size") or 4
    return ChatClients(FakeClient(script, size), FakeClient(script, size, is_async=True))


@hookimpl
def process_output(model: Any, output: Any, response: Any) -> None:
    if isinstance(output, FakeChunk):
        if output.reasoning:
            response.add_reasoning(output.reasoning)
        if output.content:
            response.add(output.content)
        if output.tool_call:
            response.add_tool_call(*output.tool_call)
        if output.finish_reason:
            response.update_metadata(finish_reason=output.finish_reason)
        if output.usage:
            response.update_metadata(usage=output.usage)
        return
    response.reasoning = output.reasoning
    for index, call in enumerate(output.tool_calls):
        arguments = call["arguments"]
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        response.add_tool_call(index, call["id"], call["name"], text)
    if output.content is not None:
        response.add(output.content)
        response.set_response_type("text_generation")
    response.update_metadata(usage=output.usage, finish_reason=output.finish_reason)
