"""Response decoding: OpenAI completions and stream chunks -> msgflux responses.

Wire objects are read by attribute in OpenAI's shape, so the SDK's pydantic models and the
fast transport's msgspec structs decode through the same code.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from msgflux.dotdict import dotdict
from msgflux.errors import ResponseDecodeError
from msgflux.models.response import ModelStreamResponse
from msgflux_openai.think_tags import take_reasoning, think_tags_enabled

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel
    from msgflux.models.response import ModelResponse

__all__ = ["decode_output", "to_builtins"]


def to_builtins(value: Any) -> Any:
    """Plain dicts/lists from SDK pydantic models, msgspec structs or builtins."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump(exclude_none=True)
    if isinstance(value, dict):
        return {key: to_builtins(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_builtins(item) for item in value]
    import msgspec

    return msgspec.to_builtins(value)


def _field_path(value: Any, path: str) -> Any:
    """``value.a.b`` for ``path="a.b"``, reading attributes or mapping keys; ``None`` if absent."""
    for name in path.split("."):
        if value is None:
            return None
        value = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
    return value


def decode_output(
    model: ChatCompletionModel, output: Any, response: ModelResponse | ModelStreamResponse
) -> None:
    """Fill ``response`` from a whole completion, or from one chunk of a stream."""
    if isinstance(response, ModelStreamResponse):
        _decode_chunk(model, output, response)
    else:
        _decode_completion(model, output, response)


def _decode_completion(
    model: ChatCompletionModel, completion: Any, response: ModelResponse
) -> None:
    choices = getattr(completion, "choices", None)
    if not choices:
        raise ResponseDecodeError(
            f"{model.provider} returned a completion without choices: {to_builtins(completion)!r}"
        )
    choice = choices[0]
    message = choice.message
    reasoning = model.extract_reasoning(message)
    if reasoning:
        response.add_reasoning(reasoning)
    tool_calls = message.tool_calls or ()
    for index, call in enumerate(tool_calls):
        function = call.function
        response.add_tool_call(index, call.id, function.name, function.arguments)
    content = message.content
    if think_tags_enabled(model):
        content = take_reasoning(model, response, content)
    audio = getattr(message, "audio", None)
    if content:
        response.add(content)
        response.set_response_type("text_generation")
    elif audio is not None and not tool_calls:
        transcript = getattr(audio, "transcript", None)
        response.add(
            dotdict(id=audio.id, audio=base64.b64decode(audio.data or ""), text=transcript or None)
        )
        response.set_response_type("audio_text_generation" if transcript else "audio_generation")

    metadata = response.metadata
    usage = getattr(completion, "usage", None)
    if usage is not None:
        metadata.usage = to_builtins(usage)
    if choice.finish_reason is not None:
        metadata.finish_reason = choice.finish_reason
    annotations = getattr(message, "annotations", None)
    if annotations:
        metadata.annotations = to_builtins(annotations)
    logprobs = getattr(choice, "logprobs", None)
    if logprobs is not None:
        metadata.logprobs = to_builtins(logprobs)
    refusal = getattr(message, "refusal", None)
    if refusal:
        metadata.refusal = refusal
    completion_id = getattr(completion, "id", None)
    if completion_id:
        metadata.id = completion_id
    answering_model = getattr(completion, "model", None)
    if answering_model:
        metadata.model = answering_model  # the model that answered (may name a snapshot)


def _decode_chunk(model: ChatCompletionModel, chunk: Any, response: ModelStreamResponse) -> None:
    choices = chunk.choices
    if choices:
        choice = choices[0]
        delta = choice.delta
        if delta is not None:
            reasoning = model.extract_reasoning(delta)
            if reasoning:
                response.add_reasoning(reasoning)
            content = delta.content
            if think_tags_enabled(model):
                final = choice.finish_reason is not None
                content = take_reasoning(model, response, content, final=final)
            if content:
                response.add(content)
            tool_calls = delta.tool_calls
            if tool_calls:
                for call in tool_calls:
                    function = call.function
                    response.add_tool_call(
                        call.index,
                        call.id,
                        function.name if function is not None else None,
                        function.arguments if function is not None else None,
                    )
            annotations = getattr(delta, "annotations", None)
            if annotations:
                pending = response.pending_metadata
                pending.annotations = [*pending.get("annotations", []), *to_builtins(annotations)]
            refusal = getattr(delta, "refusal", None)
            if refusal:
                pending = response.pending_metadata
                pending.refusal = pending.get("refusal", "") + refusal
        if choice.finish_reason is not None:
            response.update_metadata(finish_reason=choice.finish_reason)
        logprobs = getattr(choice, "logprobs", None)
        if logprobs is not None:
            _merge_logprobs(response, to_builtins(logprobs))
    usage = getattr(chunk, "usage", None)
    if usage is not None:
        response.update_metadata(usage=to_builtins(usage))
    elif model.quirks.stream_usage and "usage" not in response.pending_metadata:
        # A provider's own place for stream usage (Groq: x_groq.usage); a standard usage
        # chunk wins when both are sent.
        usage = _field_path(chunk, model.quirks.stream_usage)
        if usage is not None:
            response.update_metadata(usage=to_builtins(usage))
    chunk_id = getattr(chunk, "id", None)
    if chunk_id and "id" not in response.pending_metadata:
        response.update_metadata(id=chunk_id)
        # The answering model, read with the id (once per stream, not per chunk).
        chunk_model = getattr(chunk, "model", None)
        if chunk_model:
            response.update_metadata(model=chunk_model)


def _merge_logprobs(response: ModelStreamResponse, logprobs: dict[str, Any]) -> None:
    pending = response.pending_metadata
    existing = pending.get("logprobs")
    if existing is None:
        pending.logprobs = logprobs
        return
    for key in ("content", "refusal"):
        if logprobs.get(key):
            existing[key] = [*(existing.get(key) or []), *logprobs[key]]
