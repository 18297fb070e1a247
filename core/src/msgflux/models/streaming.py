"""Stage 3 of the pipeline: produce a ``ModelStreamResponse`` from a streamed answer.

A producer (a thread for sync callers, a task on the caller's loop for async ones) opens the
stream (``sending.open_stream``: retried until the first chunk), feeds every chunk to the
provider chain's ``process_output``, and finishes the response with the stream's error, if
any. The call returns once the first chunk has arrived; a stream that fails before that
raises at the call, so retries and gateways can act. Closing the response early (a
consumer that stops) cancels the producer and closes the transport stream.

With a response cache, a stream recorded earlier replays at once (``StreamRecord.replay``),
and a stream is recorded only when it finished without error and was read to its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from msgflux.errors import redact_secret
from msgflux.models._producer import start_task, start_thread
from msgflux.models.response import ModelStreamResponse
from msgflux.models.sending import END, aclose_quietly, aopen_stream, close_quietly, open_stream

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel
    from msgflux.models.request import PreparedCall

__all__ = ["astream", "stream"]


@dataclass(slots=True)
class _Handle:
    """Shared between a stream's producer and whoever closes the response early."""

    stream: Any = None
    cancelled: bool = False


def stream(model: ChatCompletionModel, call: PreparedCall) -> ModelStreamResponse:
    """Start a producer thread; return once the first chunk arrived (raise if none did)."""
    if call.cache_key is not None and model._response_cache is not None:
        replay = _replay(model, model._response_cache.get(call.cache_key), "sync")
        if replay is not None:
            return replay
    response = ModelStreamResponse("sync", keep_reasoning=model.return_reasoning)
    handle = _Handle()

    def cancel() -> None:
        handle.cancelled = True
        if handle.stream is not None:
            close_quietly(handle.stream)

    start_thread(
        response,
        lambda: _produce(model, call, response, handle),
        cancel=cancel,
        delivered=lambda: _delivered(response),
        name=f"msgflux-stream-{model.provider}",
    )
    return response


def _produce(
    model: ChatCompletionModel, call: PreparedCall, response: ModelStreamResponse, handle: _Handle
) -> None:
    error: BaseException | None = None
    process = model._hooks.process_output
    try:
        handle.stream, chunks, first = open_stream(model, call.params)
        if first is not END and not handle.cancelled:
            _begin(model, call, response, first, handle.stream)
            for chunk in chunks:
                if handle.cancelled:
                    break
                process(model, chunk, response)
    except BaseException as exc:  # delivered to the consumer with its original type
        if not handle.cancelled:
            error = redact_secret(exc, model.api_key)
    finally:
        if handle.stream is not None:
            close_quietly(handle.stream)
        response.finish(error, reasoning_in_tool_call=model.reasoning_in_tool_call)
        cache = model._response_cache  # set whenever the call has a cache key
        if (
            error is None
            and not handle.cancelled
            and call.cache_key is not None
            and cache is not None
        ):
            cache.set(call.cache_key, response, call.cache_ttl)


async def astream(model: ChatCompletionModel, call: PreparedCall) -> ModelStreamResponse:
    """Start a producer task on this loop; return once the first chunk arrived."""

    if call.cache_key is not None and model._response_cache is not None:
        replay = _replay(model, await model._response_cache.aget(call.cache_key), "async")
        if replay is not None:
            return replay
    response = ModelStreamResponse("async", keep_reasoning=model.return_reasoning)
    handle = _Handle()

    def cancel() -> None:
        handle.cancelled = True

    await start_task(
        response,
        _aproduce(model, call, response, handle),
        cancel=cancel,
        delivered=lambda: _delivered(response),
    )
    return response


async def _aproduce(
    model: ChatCompletionModel, call: PreparedCall, response: ModelStreamResponse, handle: _Handle
) -> None:
    import asyncio

    error: BaseException | None = None
    process = model._hooks.process_output
    try:
        handle.stream, chunks, first = await aopen_stream(model, call.params)
        if first is not END and not handle.cancelled:
            _begin(model, call, response, first, handle.stream)
            async for chunk in chunks:
                if handle.cancelled:
                    break
                process(model, chunk, response)
    except asyncio.CancelledError:
        if not handle.cancelled:
            error = asyncio.CancelledError("the stream's task was cancelled")
    except Exception as exc:  # delivered to the consumer with its original type
        if not handle.cancelled:
            error = redact_secret(exc, model.api_key)
    finally:
        if handle.stream is not None:
            await aclose_quietly(handle.stream)
        response.finish(error, reasoning_in_tool_call=model.reasoning_in_tool_call)
        cache = model._response_cache  # set whenever the call has a cache key
        if (
            error is None
            and not handle.cancelled
            and call.cache_key is not None
            and cache is not None
        ):
            await cache.aset(call.cache_key, response, call.cache_ttl)


def _begin(
    model: ChatCompletionModel,
    call: PreparedCall,
    response: ModelStreamResponse,
    first: Any,
    stream: Any,
) -> None:
    """The stream's rate-limit headers, the prefilled start of the answer, the first chunk."""
    rate_limit = getattr(stream, "rate_limit", None)  # set by transports that can
    if rate_limit is not None:
        response.update_metadata(rate_limit=rate_limit)
    if call.prefilling:
        response.add(call.prefilling)
    model._hooks.process_output(model, first, response)


def _replay(
    model: ChatCompletionModel, found: tuple[bool, Any], mode: str
) -> ModelStreamResponse | None:
    """The recorded stream a cache lookup found, replayed; ``None`` on a miss."""
    from msgflux.cache import StreamRecord

    _, record = found
    if not isinstance(record, StreamRecord):
        return None
    return record.replay(
        mode,
        keep_reasoning=model.return_reasoning,
        reasoning_in_tool_call=model.reasoning_in_tool_call,
    )


def _delivered(response: ModelStreamResponse) -> bool:
    return bool(response._content.items or response._all_reasoning or response.tool_calls)
