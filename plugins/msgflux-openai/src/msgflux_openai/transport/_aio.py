"""The asyncio façade: ``await chat.completions.create`` over :class:`msgflux.http.Client`.

Usable from any number of event loops and threads, like the client underneath.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from msgflux.http import AsyncEventStream, Client
from msgflux.utils.rate_limits import rate_limit_headers
from msgflux_openai.transport._base import (
    PATH,
    StreamDecoder,
    decode_completion,
    is_event_stream,
    prepare,
    stream_content_error,
    timeout_kwargs,
)
from msgflux_openai.transport.structs import ChatCompletion, ChatCompletionChunk

__all__ = ["AsyncClient", "AsyncStream"]


class AsyncClient:
    """Asyncio client with the ``openai`` SDK's ``chat.completions.create`` shape."""

    def __init__(self, http: Client) -> None:
        self._http = http
        self.chat = _Chat(self)

    def close(self) -> None:
        """Close every event loop's connections (from any thread); stays usable."""
        self._http.close()

    async def aclose(self) -> None:
        """:meth:`close`, returning once this loop's sockets are closed."""
        await self._http.aclose()

    async def _create(self, params: dict[str, Any]) -> ChatCompletion | AsyncStream:
        http = self._http
        prepared = prepare(params)
        if prepared.stream:
            events = await http.astream(
                "POST",
                PATH,
                prepared.body,
                headers=prepared.headers,
                params=prepared.query,
                **timeout_kwargs(prepared),
            )
            if not is_event_stream(events.headers):
                raise stream_content_error(http.provider, events.headers, await events.read())
            return AsyncStream(events, http.provider)
        response = await http.arequest(
            "POST",
            PATH,
            prepared.body,
            headers=prepared.headers,
            params=prepared.query,
            **timeout_kwargs(prepared),
        )
        return decode_completion(http.provider, response.body, response.headers)


class AsyncStream:
    """Async iterator of :class:`ChatCompletionChunk` over one streamed response.

    ``async for chunk in stream``, or :meth:`batches` for one list per network read.
    Always ``await stream.aclose()`` (alias ``close``) when stopping early, or use
    ``async with``; a stream read to its end releases its connection by itself.

    Attributes:
        status: The HTTP status.
        headers: Response headers (lower-case names).
        request_id: The provider's request id, if it sent one.
        rate_limit: The rate-limit headers (``msgflux.utils.rate_limits``), or ``None``.
    """

    def __init__(self, events: AsyncEventStream, provider: str) -> None:
        self._events = events
        self._decoder = StreamDecoder(provider, events.headers)
        self._ready: deque[ChatCompletionChunk] = deque()
        self._ended = False
        self.status = events.status
        self.headers = events.headers
        self.request_id = events.request_id
        self.rate_limit = rate_limit_headers(events.headers)

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        ready = self._ready
        while not ready:
            if not await self._fill():
                raise StopAsyncIteration
        return ready.popleft()

    async def batches(self) -> AsyncIterator[list[ChatCompletionChunk]]:
        """Yield the chunks in lists, one list per network read that completed any."""
        ready = self._ready
        while True:
            if ready:
                batch = list(ready)
                ready.clear()
                yield batch
            elif not await self._fill():
                return

    async def _fill(self) -> bool:
        """Decode the next batch of events; False once nothing more will come."""
        decoder = self._decoder
        if decoder.failure is not None:
            failure, decoder.failure = decoder.failure, None
            await self._events.aclose()
            raise failure
        if self._ended:
            return False
        batch = await self._events.next_batch()
        if not batch:
            self._ended = True
            return False
        self._ready.extend(decoder.feed(batch))
        if decoder.done:
            self._ended = True
            await self._events.finish()  # read the end of the body so the connection is reused
        elif decoder.failure is not None:
            self._ended = True
        return True

    async def aclose(self) -> None:
        """Stop the stream and release its connection (idempotent)."""
        self._ready.clear()
        await self._events.aclose()

    close = aclose

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _Completions:
    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, **params: Any) -> ChatCompletion | AsyncStream:
        """Send a chat completion request (the ``openai`` SDK's keyword arguments).

        Returns:
            A :class:`ChatCompletion`, or an :class:`AsyncStream` when ``stream=True``.

        Raises:
            msgflux.errors.ProviderError: And its subclasses, see
                :mod:`msgflux_openai.transport`.
            msgflux.errors.ResponseDecodeError: The answer could not be decoded.
        """
        return await self._client._create(params)


class _Chat:
    __slots__ = ("completions",)

    def __init__(self, client: AsyncClient) -> None:
        self.completions = _Completions(client)
