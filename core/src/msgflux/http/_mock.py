"""An in-process transport for unit tests: no sockets, a function answers each request.

``Client(base_url, transport=MockTransport(handler))`` builds and validates requests
exactly as on the wire (the handler sees the parsed bytes the server would get), then
hands them to ``handler(request) -> Response``. For a stream, the response body is read as
server-sent events. The handler may be a plain function or a coroutine function (the
latter only for async calls); an exception it raises reaches the caller unchanged, so a
test can raise ``msgflux.errors.ProviderConnectionError`` to play a broken network.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, NamedTuple

from httptools import HttpRequestParser

from msgflux.http._response import Response
from msgflux.http._sse import ServerSentEvent, SSEReader
from msgflux.http._timeout import Timeout

__all__ = ["AsyncMockEventStream", "MockEventStream", "MockTransport", "Request"]


class Request(NamedTuple):
    """A request as the server would receive it.

    Attributes:
        method: ``"POST"``...
        target: The request target (path and query, or the absolute URL behind a proxy).
        headers: Headers with lower-case names.
        body: The body bytes.
        timeout: The call's :class:`Timeout` (not sent on the wire; for assertions).
    """

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    timeout: Timeout

    @property
    def path(self) -> str:
        """The target's path, without the query."""
        return self.target.split("?", 1)[0]


class _Collect:
    __slots__ = ("body", "headers", "target")

    def __init__(self) -> None:
        self.target = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []

    def on_url(self, url: bytes) -> None:
        self.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)


def _parse(data: bytes, timeout: Timeout) -> Request:
    collect = _Collect()
    parser = HttpRequestParser(collect)
    parser.feed_data(data)
    return Request(
        parser.get_method().decode("ascii"),
        collect.target.decode("latin-1"),
        collect.headers,
        b"".join(collect.body),
        timeout,
    )


class MockTransport:
    """A transport whose responses come from ``handler(request)``.

    Args:
        handler: ``handler(Request) -> Response``; sync, or async for async calls.

    Attributes:
        requests: Every request handled, in order.
    """

    def __init__(self, handler: Callable[[Request], Any]) -> None:
        self._handler = handler
        self.requests: list[Request] = []

    def _call(self, data: bytes, timeout: Timeout) -> Response:
        request = _parse(data, timeout)
        self.requests.append(request)
        response = self._handler(request)
        if inspect.isawaitable(response):
            close = getattr(response, "close", None)
            if close is not None:
                close()
            raise TypeError("an async MockTransport handler serves async calls only")
        return _checked(response)

    async def _acall(self, data: bytes, timeout: Timeout) -> Response:
        request = _parse(data, timeout)
        self.requests.append(request)
        response = self._handler(request)
        if inspect.isawaitable(response):
            response = await response
        return _checked(response)

    def request(self, request: bytes, timeout: Timeout) -> Response:
        return self._call(request, timeout)

    def stream(self, request: bytes, timeout: Timeout) -> MockEventStream:
        return MockEventStream(self._call(request, timeout))

    async def arequest(self, request: bytes, timeout: Timeout) -> Response:
        return await self._acall(request, timeout)

    async def astream(self, request: bytes, timeout: Timeout) -> AsyncMockEventStream:
        return AsyncMockEventStream(await self._acall(request, timeout))

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def _checked(response: Any) -> Response:
    if not isinstance(response, Response):
        raise TypeError(
            f"a MockTransport handler must return msgflux.http.Response, got {response!r}"
        )
    headers = {name.lower(): value for name, value in response.headers.items()}
    return Response(response.status, headers, response.body)


class MockEventStream:
    """The events of a mocked response body; both a sync and an async event stream."""

    def __init__(self, response: Response) -> None:
        self.status = response.status
        self.headers = response.headers
        self.request_id = response.request_id
        self._body = response.body
        reader = SSEReader()
        events = reader.feed(response.body) + reader.finish()
        self._failure = reader.failure
        self._events: deque[ServerSentEvent] = deque(events)
        self.closed = False

    def next_batch(self) -> list[ServerSentEvent]:
        if self.closed:
            return []
        if not self._events:
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure
            return []
        batch = list(self._events)
        self._events.clear()
        return batch

    def __iter__(self) -> Iterator[ServerSentEvent]:
        while True:
            batch = self.next_batch()
            if not batch:
                return
            yield from batch

    def batches(self) -> Iterator[list[ServerSentEvent]]:
        while batch := self.next_batch():
            yield batch

    def read(self) -> bytes:
        self.closed = True
        return self._body

    def finish(self, grace: float = 1.0) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> MockEventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncMockEventStream:
    """The async twin of :class:`MockEventStream`."""

    def __init__(self, response: Response) -> None:
        self._inner = MockEventStream(response)
        self.status = response.status
        self.headers = self._inner.headers
        self.request_id = response.request_id

    async def next_batch(self) -> list[ServerSentEvent]:
        return self._inner.next_batch()

    def __aiter__(self) -> AsyncIterator[ServerSentEvent]:
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[ServerSentEvent]:
        for event in self._inner:
            yield event

    async def batches(self) -> AsyncIterator[list[ServerSentEvent]]:
        while batch := self._inner.next_batch():
            yield batch

    async def read(self) -> bytes:
        return self._inner.read()

    async def finish(self, grace: float = 1.0) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        self._inner.close()

    close = aclose

    async def __aenter__(self) -> AsyncMockEventStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._inner.close()
