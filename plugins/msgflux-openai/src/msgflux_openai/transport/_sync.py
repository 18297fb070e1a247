"""The blocking façade: ``chat.completions.create`` over :class:`msgflux.http.Client`.

Thread-safe like the client underneath: any number of threads share one instance.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from msgflux.http import Client, EventStream
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

__all__ = ["SyncClient", "SyncStream"]


class SyncClient:
    """Blocking client with the ``openai`` SDK's ``chat.completions.create`` shape."""

    def __init__(self, http: Client) -> None:
        self._http = http
        self.chat = _Chat(self)

    def close(self) -> None:
        """Close idle connections; the client stays usable."""
        self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _create(self, params: dict[str, Any]) -> ChatCompletion | SyncStream:
        http = self._http
        prepared = prepare(params)
        if prepared.stream:
            events = http.stream(
                "POST",
                PATH,
                prepared.body,
                headers=prepared.headers,
                params=prepared.query,
                **timeout_kwargs(prepared),
            )
            if not is_event_stream(events.headers):
                raise stream_content_error(http.provider, events.headers, events.read())
            return SyncStream(events, http.provider)
        response = http.request(
            "POST",
            PATH,
            prepared.body,
            headers=prepared.headers,
            params=prepared.query,
            **timeout_kwargs(prepared),
        )
        return decode_completion(http.provider, response.body, response.headers)


class SyncStream:
    """Iterator of :class:`ChatCompletionChunk` over one streamed response.

    Iterate it (``for chunk in stream``) or take what each network read produced with
    :meth:`batches`. Always :meth:`close` it (or use ``with``) when stopping early; a
    stream read to its end releases its connection by itself. ``close`` may be called
    from any thread, also while another thread is blocked reading.

    Attributes:
        status: The HTTP status.
        headers: Response headers (lower-case names).
        request_id: The provider's request id, if it sent one.
        rate_limit: The rate-limit headers (``msgflux.utils.rate_limits``), or ``None``.
    """

    def __init__(self, events: EventStream, provider: str) -> None:
        self._events = events
        self._decoder = StreamDecoder(provider, events.headers)
        self._ready: deque[ChatCompletionChunk] = deque()
        self._ended = False
        self.status = events.status
        self.headers = events.headers
        self.request_id = events.request_id
        self.rate_limit = rate_limit_headers(events.headers)

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> ChatCompletionChunk:
        ready = self._ready
        while not ready:
            if not self._fill():
                raise StopIteration
        return ready.popleft()

    def batches(self) -> Iterator[list[ChatCompletionChunk]]:
        """Yield the chunks in lists, one list per network read that completed any.

        A consumer handing chunks to another thread or loop pays one hand-off per list
        instead of one per chunk.
        """
        ready = self._ready
        while True:
            if ready:
                batch = list(ready)
                ready.clear()
                yield batch
            elif not self._fill():
                return

    def _fill(self) -> bool:
        """Decode the next batch of events; False once nothing more will come."""
        decoder = self._decoder
        if decoder.failure is not None:
            failure, decoder.failure = decoder.failure, None
            self._events.close()
            raise failure
        if self._ended:
            return False
        batch = self._events.next_batch()
        if not batch:
            self._ended = True
            return False
        self._ready.extend(decoder.feed(batch))
        if decoder.done:
            self._ended = True
            self._events.finish()  # read the end of the body so the connection is reused
        elif decoder.failure is not None:
            self._ended = True
        return True

    def close(self) -> None:
        """Stop the stream and release its connection; safe from any thread, idempotent."""
        self._ready.clear()
        self._events.close()

    def __enter__(self) -> SyncStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Completions:
    __slots__ = ("_client",)

    def __init__(self, client: SyncClient) -> None:
        self._client = client

    def create(self, **params: Any) -> ChatCompletion | SyncStream:
        """Send a chat completion request (the ``openai`` SDK's keyword arguments).

        Returns:
            A :class:`ChatCompletion`, or a :class:`SyncStream` when ``stream=True``.

        Raises:
            msgflux.errors.ProviderError: And its subclasses, see
                :mod:`msgflux_openai.transport`.
            msgflux.errors.ResponseDecodeError: The answer could not be decoded.
        """
        return self._client._create(params)


class _Chat:
    __slots__ = ("completions",)

    def __init__(self, client: SyncClient) -> None:
        self.completions = _Completions(client)
