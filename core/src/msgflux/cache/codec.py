"""What a cache stores: answers encoded with msgspec into a versioned schema.

Two records: a whole answer (``ModelResponse``) and a finished stream (its content and
reasoning chunks, tool calls, metadata), each behind ``FORMAT_VERSION``. Encoding is msgspec
MessagePack, never pickle, so reading a shared cache can never run code. Decoding rebuilds
the same Python types the pipeline produced: ``str`` text, ``dotdict`` structured output or
audio, a ``ToolCallAggregator`` (without results) for tool calls.

A value that is not a record of this version (an older msgflux, a corrupt row) raises
``RecordError``: the cache treats it as a miss. A response holding something this schema
cannot carry raises ``RecordError`` when encoded: it is simply not stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from msgflux.cache.keys import FORMAT_VERSION
from msgflux.dotdict import dotdict
from msgflux.models.response import ModelResponse

if TYPE_CHECKING:
    from msgflux.models.response import ModelStreamResponse
    from msgflux.tools import ToolCallAggregator

__all__ = ["RecordError", "StreamRecord", "decode", "encode", "encode_stream"]


class RecordError(ValueError):
    """A value that cannot be encoded, or bytes that are not a record of this version."""


class _Call(msgspec.Struct, array_like=True):
    id: str | None
    name: str | None
    arguments: str


class _ToolCalls(msgspec.Struct, array_like=True):
    calls: list[_Call]
    content: str | None
    reasoning: str | None


# How ``data`` is rebuilt: the pipeline's own types only, so a hit has the miss's type.
_DATA_KINDS = {str: "str", dotdict: "dotdict", dict: "dict", type(None): "none"}


class _Response(msgspec.Struct, tag="response"):
    response_type: str | None
    data_kind: str  # "str", "dotdict", "dict", "none" or "tool_calls"
    data: Any
    tool_calls: _ToolCalls | None
    reasoning: str | None
    metadata: dict[str, Any]
    # What the next request needs (thinking blocks...): a hit must not lose it.
    provider_data: dict[str, Any] = msgspec.field(default_factory=dict)


class StreamRecord(msgspec.Struct, tag="stream"):
    """A finished stream, ready to replay (``replay``)."""

    response_type: str | None
    content: list[str]
    reasoning: list[str]  # every reasoning chunk (kept even with return_reasoning=False)
    tool_calls: list[_Call]
    metadata: dict[str, Any]
    provider_data: dict[str, Any] = msgspec.field(default_factory=dict)

    def replay(
        self, mode: str, *, keep_reasoning: bool, reasoning_in_tool_call: bool
    ) -> ModelStreamResponse:
        """A finished ``ModelStreamResponse`` that yields the recorded chunks."""
        from msgflux.models.response import ModelStreamResponse

        response = ModelStreamResponse(mode, keep_reasoning=keep_reasoning)
        for chunk in self.reasoning:
            response.add_reasoning(chunk)
        for chunk in self.content:
            response.add(chunk)
        for index, call in enumerate(self.tool_calls):
            response.add_tool_call(index, call.id, call.name, call.arguments)
        response.update_metadata(**self.metadata)
        response.provider_data = _copy(self.provider_data)
        response.finish(None, reasoning_in_tool_call=reasoning_in_tool_call)
        if self.response_type is not None:  # what a provider set (e.g. an audio stream)
            response.response_type = self.response_type
        return response


_encoder = msgspec.msgpack.Encoder()
_header = msgspec.msgpack.Decoder(tuple[int, msgspec.Raw])
_body = msgspec.msgpack.Decoder(_Response | StreamRecord)


def _calls(aggregator: ToolCallAggregator) -> list[_Call]:
    return [
        _Call(call["id"], call["function"]["name"], call["function"]["arguments"] or "")
        for call in aggregator.tool_calls
    ]


def _seal(record: msgspec.Struct) -> bytes:
    try:
        return _encoder.encode((FORMAT_VERSION, record))
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise RecordError(f"the answer holds a value the cache cannot store: {exc}") from exc


def encode(response: ModelResponse) -> bytes:
    """``response`` as a record's bytes (raise ``RecordError`` for an unstorable one)."""
    from msgflux.tools import ToolCallAggregator

    data = response.data
    tool_calls = None
    if isinstance(data, ToolCallAggregator):
        kind, data = "tool_calls", None
        tool_calls = _ToolCalls(
            _calls(response.data), response.data.content, response.data.reasoning
        )
    else:
        known = _DATA_KINDS.get(type(data))
        if known is None:
            raise RecordError(f"the cache stores no answer of type {type(data).__name__}")
        kind = known
    record = _Response(
        response.response_type,
        kind,
        data,
        tool_calls,
        response.reasoning,
        dict(response.metadata),
        response.provider_data,
    )
    return _seal(record)


def encode_stream(response: ModelStreamResponse) -> bytes:
    """A finished stream as a record's bytes (raise ``RecordError`` for an unstorable one)."""
    # The recorded chunks, as the stream's channels hold them (the stream is finished: no
    # producer appends any more).
    record = StreamRecord(
        response.response_type,
        list(response._content.items),
        list(response._all_reasoning),
        _calls(response.tool_calls) if response.tool_calls else [],
        dict(response.metadata or {}),
        response.provider_data,
    )
    return _seal(record)


def decode(value: bytes) -> ModelResponse | StreamRecord:
    """A fresh ``ModelResponse`` (or a ``StreamRecord``) from a record's bytes.

    Raises:
        RecordError: ``value`` is not a record of this ``FORMAT_VERSION``.
    """
    try:
        version, body = _header.decode(value)
        if version != FORMAT_VERSION:
            raise RecordError(f"a record of format {version}, not {FORMAT_VERSION}")
        record = _body.decode(body)
    except (msgspec.DecodeError, TypeError) as exc:
        raise RecordError(f"not a cache record: {exc}") from exc
    if isinstance(record, StreamRecord):
        return record
    return _response(record)


def _response(record: _Response) -> ModelResponse:
    response = ModelResponse()
    response.response_type = record.response_type
    response.reasoning = record.reasoning
    response.metadata = dotdict(record.metadata)
    response.provider_data = record.provider_data
    kind = record.data_kind
    if kind == "tool_calls" and record.tool_calls is not None:
        response.data = response.tool_calls = _aggregator(record.tool_calls)
        response.tool_calls.provider_data = record.provider_data
    elif kind == "dotdict":
        response.data = dotdict(record.data)
    elif kind in ("str", "dict", "none"):
        response.data = record.data
    else:
        raise RecordError(f"unknown answer kind {kind!r}")
    return response


def _aggregator(stored: _ToolCalls) -> ToolCallAggregator:
    from msgflux.tools import ToolCallAggregator

    aggregator = ToolCallAggregator(reasoning=stored.reasoning)
    aggregator.content = stored.content
    for index, call in enumerate(stored.calls):
        aggregator.process(index, call.id, call.name, call.arguments)
    return aggregator


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    """A deep copy: each replay of a record gets data the others cannot change."""
    copied: dict[str, Any] = msgspec.msgpack.decode(_encoder.encode(value))
    return copied
