"""Stage 2 of the pipeline: send a prepared request with the model's retry policy.

The transport client (``ChatClients``, built by the provider's ``initialize_client``) is
called here and nowhere else. A plain call is retried as a whole; a stream is retried until
its first chunk has arrived (``open_stream``): after that, chunks have reached the caller and
a failure is the stream's error, never a silent restart.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from msgflux.errors import UnsupportedParameterError

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["END", "aclose_quietly", "aopen_stream", "asend", "close_quietly", "open_stream", "send"]

logger = logging.getLogger("msgflux.models")

END = object()  #: The first "chunk" of a stream that ended before sending any.


def send(model: ChatCompletionModel, params: dict[str, Any]) -> Any:
    """The provider's whole answer to ``params`` (retried as the model's policy says)."""
    from msgflux.utils.retry import call_with_retry

    return call_with_retry(model, lambda: _create(model, params), deadline=_deadline(params))


async def asend(model: ChatCompletionModel, params: dict[str, Any]) -> Any:
    """Async ``send``."""
    from msgflux.utils.retry import acall_with_retry

    # tenacity awaits only coroutine *functions*, so pass one, not a lambda.
    return await acall_with_retry(model, _acreate, model, params, deadline=_deadline(params))


def open_stream(
    model: ChatCompletionModel, params: dict[str, Any]
) -> tuple[Any, Iterator[Any], Any]:
    """Open a stream and read its first chunk (``END`` if none), retrying as a whole.

    Returns:
        ``(stream, chunks, first)``: the transport's stream (to close), the iterator of
        the remaining chunks, and the first chunk.
    """
    from msgflux.utils.retry import call_with_retry

    return call_with_retry(model, lambda: _open_once(model, params), deadline=_deadline(params))


async def aopen_stream(
    model: ChatCompletionModel, params: dict[str, Any]
) -> tuple[Any, AsyncIterator[Any], Any]:
    """Async ``open_stream``."""
    from msgflux.utils.retry import acall_with_retry

    return await acall_with_retry(model, _aopen_once, model, params, deadline=_deadline(params))


def _deadline(params: dict[str, Any]) -> float | None:
    """The call's total deadline (``msgflux.Timeout(total=...)``): it bounds the retries too."""
    from msgflux.http._timeout import deadline_of

    return deadline_of(params.get("timeout"))


def _create(model: ChatCompletionModel, params: dict[str, Any], stream: bool = False) -> Any:
    client = model.client
    if client is None:
        raise UnsupportedParameterError(f"provider {model.provider!r} has no sync client")
    # The neutral protocol (send/stream, any wire format) or OpenAI's (models.clients).
    if hasattr(client, "send"):
        return client.stream(params) if stream else client.send(params)
    return client.chat.completions.create(**params)


async def _acreate(model: ChatCompletionModel, params: dict[str, Any], stream: bool = False) -> Any:
    client = model.aclient
    if client is None:
        raise UnsupportedParameterError(f"provider {model.provider!r} has no async client")
    if hasattr(client, "send"):
        return await (client.stream(params) if stream else client.send(params))
    return await client.chat.completions.create(**params)


def _open_once(
    model: ChatCompletionModel, params: dict[str, Any]
) -> tuple[Any, Iterator[Any], Any]:
    stream = _create(model, params, stream=True)
    try:
        chunks = iter(stream)
        first = next(chunks, END)
    except BaseException:
        close_quietly(stream)
        raise
    return stream, chunks, first


async def _aopen_once(
    model: ChatCompletionModel, params: dict[str, Any]
) -> tuple[Any, AsyncIterator[Any], Any]:
    stream = await _acreate(model, params, stream=True)
    try:
        chunks = aiter(stream)
        first = await anext(chunks, END)
    except BaseException:
        await aclose_quietly(stream)
        raise
    return stream, chunks, first


def close_quietly(stream: Any) -> None:
    """Close a transport stream from sync code; closing is best effort."""
    close = getattr(stream, "close", None)
    if close is None:
        return
    try:
        result = close()
        if inspect.iscoroutine(result):  # an async stream closed from sync code
            result.close()
    except Exception:  # the stream may already be broken
        logger.debug("closing a stream failed", exc_info=True)


async def aclose_quietly(stream: Any) -> None:
    """Close a transport stream from async code; closing is best effort."""
    close = getattr(stream, "aclose", None) or getattr(stream, "close", None)
    if close is None:
        return
    try:
        result = close()
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.debug("closing a stream failed", exc_info=True)
