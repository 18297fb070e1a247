"""The codec: every kind of answer survives encode -> decode with its types, and nothing else
decodes."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from msgflux.cache import FORMAT_VERSION, RecordError, StreamRecord
from msgflux.cache.codec import decode, encode, encode_stream
from msgflux.dotdict import dotdict
from msgflux.models.response import ModelResponse, ModelStreamResponse
from msgflux.tools import ToolCallAggregator

USAGE = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


def response(data, response_type, **metadata) -> ModelResponse:
    made = ModelResponse()
    made.data = data
    made.response_type = response_type
    made.reasoning = "because"
    made.metadata = dotdict({"usage": USAGE, "finish_reason": "stop", **metadata})
    return made


def roundtrip(original: ModelResponse) -> ModelResponse:
    decoded = decode(encode(original))
    assert isinstance(decoded, ModelResponse) and decoded is not original
    assert decoded.response_type == original.response_type
    assert decoded.reasoning == original.reasoning
    assert type(decoded.metadata) is dotdict and decoded.metadata == original.metadata
    assert decoded.metadata.usage.total_tokens == 8  # nested dotdicts again
    return decoded


def test_text():
    decoded = roundtrip(response("Paris.", "text_generation", logprobs=[{"token": "P"}]))
    assert decoded.data == "Paris." and decoded.tool_calls is None


def test_structured_output_decodes_to_a_dotdict_again():
    data = dotdict({"name": "party", "when": {"day": "Friday"}, "guests": [1, 2.5, None, True]})
    decoded = roundtrip(response(data, "structured"))
    assert type(decoded.data) is dotdict and decoded.data == data
    assert decoded.data.when.day == "Friday"


def test_audio():
    data = dotdict({"id": "audio_1", "data": "UklGRg==", "transcript": "hi", "expires_at": 1})
    decoded = roundtrip(response(data, "audio_text_generation"))
    assert type(decoded.data) is dotdict and decoded.data.transcript == "hi"


def test_tool_calls_come_back_as_an_aggregator_without_results():
    calls = ToolCallAggregator(reasoning="think first")
    calls.process(0, "c1", "get_weather", '{"city": "Pa')
    calls.process(0, None, None, 'ris"}')
    calls.process(1, None, "get_time", "")  # no id: a synthetic one, the same after decoding
    calls.content = "Let me look."
    original = response(calls, "tool_call", finish_reason="tool_calls")
    original.tool_calls = calls
    calls.insert_results("c1", "sunny")
    decoded = roundtrip(original)
    assert isinstance(decoded.data, ToolCallAggregator) and decoded.data is decoded.tool_calls
    assert decoded.data.get_calls() == calls.get_calls()
    assert decoded.data.tool_calls == calls.tool_calls
    assert (decoded.data.content, decoded.data.reasoning) == ("Let me look.", "think first")
    assert decoded.data.results == {}


def test_empty_and_missing_answers():
    assert roundtrip(response("", "text_generation")).data == ""
    assert roundtrip(response(None, None)).data is None


def test_an_answer_of_another_type_is_not_stored():
    class Answer(msgspec.Struct):
        value: int

    with pytest.raises(RecordError, match="Answer"):
        encode(response(Answer(1), "structured"))
    with pytest.raises(RecordError, match="cannot store"):
        encode(response("x", "text_generation", handle=object()))


def test_other_versions_and_garbage_are_not_records():
    stored = encode(response("x", "text_generation"))
    version, body = msgspec.msgpack.decode(stored, type=tuple[int, msgspec.Raw])
    assert version == FORMAT_VERSION
    newer = msgspec.msgpack.encode((FORMAT_VERSION + 1, body))
    for bad in (newer, b"", b"\x00garbage", stored[:-3], msgspec.msgpack.encode({"a": 1})):
        with pytest.raises(RecordError):
            decode(bad)


def finished_stream(*, keep_reasoning: bool = True) -> ModelStreamResponse:
    stream = ModelStreamResponse("sync", keep_reasoning=keep_reasoning)
    for piece in ("Let ", "me ", "think."):
        stream.add_reasoning(piece)
    for piece in ("The ", "answer ", "is ", "42."):
        stream.add(piece)
    stream.update_metadata(usage=USAGE, finish_reason="stop", id="chatcmpl-1")
    stream.finish()
    return stream


def replayed(original: ModelStreamResponse, mode: str = "sync") -> ModelStreamResponse:
    record = decode(encode_stream(original))
    assert isinstance(record, StreamRecord)
    return record.replay(mode, keep_reasoning=True, reasoning_in_tool_call=False)


def test_a_stream_replays_its_chunks_reasoning_and_metadata():
    original = finished_stream()
    replay = replayed(original)
    assert replay.done and replay.error is None
    assert list(replay) == list(original) == ["The ", "answer ", "is ", "42."]
    assert list(replay.iter_reasoning()) == ["Let ", "me ", "think."]
    assert replay.data == original.data == "The answer is 42."
    assert replay.reasoning == original.reasoning and replay.has_reasoning
    assert replay.metadata == original.metadata and replay.metadata.usage.total_tokens == 8
    assert replay.response_type == "text_generation"
    assert list(replay) == list(original)  # readable again


def test_a_replayed_stream_reads_asynchronously():
    async def read(stream: ModelStreamResponse) -> tuple[list[str], list[str], str]:
        content = [chunk async for chunk in stream.consume()]
        reasoning = [chunk async for chunk in stream.consume_reasoning()]
        return content, reasoning, await stream.aresult()

    replay = replayed(finished_stream(), "async")
    assert asyncio.run(read(replay)) == (
        ["The ", "answer ", "is ", "42."],
        ["Let ", "me ", "think."],
        "The answer is 42.",
    )


def test_a_tool_call_stream_replays_its_calls():
    original = ModelStreamResponse("sync")
    original.add("Checking.")
    original.add_tool_call(0, "c1", "get_weather", '{"city":')
    original.add_tool_call(1, "c2", "get_time", "{}")
    original.add_tool_call(0, None, None, ' "Paris"}')
    original.update_metadata(finish_reason="tool_calls")
    original.finish()
    replay = replayed(original)
    assert replay.response_type == "tool_call"
    assert replay.consume().get_calls() == original.consume().get_calls()
    assert replay.data.content == "Checking."


def test_reasoning_kept_out_of_the_answer_still_reaches_tool_calls():
    original = finished_stream(keep_reasoning=False)
    record = decode(encode_stream(original))
    replay = record.replay("sync", keep_reasoning=False, reasoning_in_tool_call=True)
    assert replay.reasoning is None and not replay.has_reasoning
    assert list(replay.iter_reasoning()) == []
