"""The Messages API client, on :mod:`msgflux.http`: msgflux's neutral client protocol.

``send(params)`` posts a request built by ``adapt_params`` (``msgflux_anthropic.params``)
and returns the decoded :class:`~msgflux_anthropic.wire.Message`; ``stream(params)`` returns
a :class:`MessageStream` of decoded events. ``params`` is the request body plus two transport
keys, ``extra_headers`` and ``timeout``; it is never changed (the retry policy may send it
again).

Authentication is the ``x-api-key`` header; every request names the pinned API version
(``anthropic-version: 2023-06-01``). An ``error`` event inside a stream is raised as the
exception of the same failure answered over HTTP (``msgflux_anthropic.errors``); one that
arrives before any content block is raised when the stream is opened, so the retry policy
can send the request again (nothing reached the caller).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from msgflux.errors import ProviderConnectionError, ResponseDecodeError
from msgflux.http import Client, ServerSentEvent
from msgflux.models.clients import ChatClients
from msgflux_anthropic.errors import error_from_event
from msgflux_anthropic.stream import BlockAssembler
from msgflux_anthropic.wire import Event, Message, event_decoder, message_decoder

if TYPE_CHECKING:
    from msgflux.http import AsyncEventStream, EventStream
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = [
    "API_VERSION",
    "AsyncMessagesClient",
    "MessageStream",
    "MessagesClient",
    "build_clients",
]

#: The Messages API version every request is sent with.
API_VERSION = "2023-06-01"

_TRANSPORT_KEYS = frozenset({"extra_headers", "timeout"})
_UNSET: Any = object()
_encode = msgspec.json.Encoder().encode


def build_clients(model: ChatCompletionModel) -> ChatClients:
    """The sync and async clients of ``model`` (one connection pool shared by both)."""
    headers = {
        "anthropic-version": API_VERSION,
        "content-type": "application/json",
    }
    if model.api_key:
        headers["x-api-key"] = model.api_key
    http = Client(
        model.base_url,
        headers=headers,
        timeout=model.timeout,
        provider=model.provider,
        verify=model.verify,
        ssl_context=getattr(model, "ssl_context", None),
    )
    path = messages_path(model.base_url)
    return ChatClients(
        client=MessagesClient(http, path),
        aclient=AsyncMessagesClient(http, path),
        close=http.close,
        aclose=http.aclose,
    )


def messages_path(base_url: str) -> str:
    """``/v1/messages`` under the API root; ``/messages`` under a base URL ending in ``/v1``.

    The ``anthropic`` SDK's ``ANTHROPIC_BASE_URL`` is the root (``https://api.anthropic.com``);
    msgflux's other providers include the version (``.../v1``): both spellings work.
    """
    path = base_url.split("?", 1)[0].rstrip("/")
    return "/messages" if path.endswith("/v1") else "/v1/messages"


class _Prepared:
    __slots__ = ("body", "options")

    def __init__(self, params: Mapping[str, Any]) -> None:
        body = {name: value for name, value in params.items() if name not in _TRANSPORT_KEYS}
        try:
            self.body = _encode(body)
        except TypeError as exc:
            raise TypeError(f"request parameters are not JSON serializable: {exc}") from None
        self.options: dict[str, Any] = {"headers": params.get("extra_headers") or None}
        timeout = params.get("timeout", _UNSET)
        if timeout is not _UNSET:
            self.options["timeout"] = timeout


def _decode_message(provider: str, body: bytes, headers: Mapping[str, str]) -> Message:
    try:
        message = message_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        text = body.decode("utf-8", "replace")
        raise ResponseDecodeError(
            f"{provider} returned a response that is not a message ({exc}): {text[:200]!r}",
            raw_text=text,
            provider=provider,
        ) from exc
    if message.type == "error" or message.error is not None:
        raise error_from_event(body, headers, provider)
    return message


def _not_a_stream(provider: str, headers: Mapping[str, str], body: bytes) -> Exception:
    """The exception for a 2xx answer to a stream request that is not an event stream."""
    if b'"error"' in body:
        return error_from_event(body, headers, provider)
    text = body.decode("utf-8", "replace")
    return ResponseDecodeError(
        f"{provider} answered a stream request with "
        f"{headers.get('content-type', 'no content type')!r} instead of an event stream: "
        f"{text[:200]!r}",
        raw_text=text,
        provider=provider,
    )


def _is_event_stream(headers: Mapping[str, str]) -> bool:
    return headers.get("content-type", "").startswith("text/event-stream")


class MessagesClient:
    """The blocking client (thread-safe: threads share its connection pool)."""

    def __init__(self, http: Client, path: str = "/v1/messages") -> None:
        self._http = http
        self._path = path

    def send(self, params: dict[str, Any]) -> Message:
        """Post a request and return the whole answer."""
        prepared = _Prepared(params)
        response = self._http.request("POST", self._path, prepared.body, **prepared.options)
        return _decode_message(self._http.provider, response.body, response.headers)

    def stream(self, params: dict[str, Any]) -> MessageStream:
        """Post a streamed request (``params["stream"]`` is ``True``) and return its events."""
        prepared = _Prepared(params)
        events = self._http.stream("POST", self._path, prepared.body, **prepared.options)
        if not _is_event_stream(events.headers):
            raise _not_a_stream(self._http.provider, events.headers, events.read())
        return MessageStream(events, self._http.provider)


class AsyncMessagesClient:
    """The asyncio client (one connection pool per event loop)."""

    def __init__(self, http: Client, path: str = "/v1/messages") -> None:
        self._http = http
        self._path = path

    async def send(self, params: dict[str, Any]) -> Message:
        """Post a request and return the whole answer."""
        prepared = _Prepared(params)
        response = await self._http.arequest("POST", self._path, prepared.body, **prepared.options)
        return _decode_message(self._http.provider, response.body, response.headers)

    async def stream(self, params: dict[str, Any]) -> AsyncMessageStream:
        """Post a streamed request and return its events."""
        prepared = _Prepared(params)
        events = await self._http.astream("POST", self._path, prepared.body, **prepared.options)
        if not _is_event_stream(events.headers):
            raise _not_a_stream(self._http.provider, events.headers, await events.read())
        return AsyncMessageStream(events, self._http.provider)


class _EventDecoder:
    """Server-sent events in, :class:`Event` objects out (``ping`` dropped, blocks assembled).

    A failure (an ``error`` event, an undecodable one) waits in :attr:`failure` until the
    events before it were handed out.
    """

    __slots__ = ("_assembler", "_headers", "_provider", "done", "failure")

    def __init__(self, provider: str, headers: Mapping[str, str]) -> None:
        self._provider = provider
        self._headers = headers
        self._assembler = BlockAssembler()
        self.done = False  # message_stop arrived
        self.failure: BaseException | None = None

    def feed(self, batch: list[ServerSentEvent], into: deque[Event]) -> None:
        for name, data in batch:
            if self.done or self.failure is not None:
                return
            if name == "ping":
                continue
            if name == "error":
                self.failure = error_from_event(data, self._headers, self._provider)
                return
            try:
                event = event_decoder.decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                text = data.decode("utf-8", "replace")
                self.failure = ResponseDecodeError(
                    f"{self._provider} sent a stream event that is not a Messages API event "
                    f"({exc}): {text[:200]!r}",
                    raw_text=text,
                    provider=self._provider,
                )
                return
            if event.type == "ping":
                continue
            if event.type == "error":
                self.failure = error_from_event(data, self._headers, self._provider)
                return
            self._assembler.feed(event)
            into.append(event)
            if event.type == "message_stop":
                self.done = True

    def cut_short(self) -> bool:
        """The body ended: without ``message_stop`` the answer is incomplete, an error.

        Returns whether there is a failure to raise (``True``: keep reading, to raise it).
        """
        if self.done or self.failure is not None:
            return self.failure is not None
        self.failure = ProviderConnectionError(
            "the stream ended before its message_stop event: the answer is incomplete",
            provider=self._provider,
        )
        return True

    def preamble_only(self, ready: deque[Event]) -> bool:
        """Whether nothing but ``message_start`` has arrived (no content block yet)."""
        return all(event.type == "message_start" for event in ready)


class MessageStream:
    """Iterator of :class:`Event` over one streamed answer; ``close()`` from any thread.

    Attributes:
        status: The HTTP status.
        headers: Response headers (lower-case names).
        request_id: The provider's request id (``request-id``), if it sent one.
    """

    def __init__(self, events: EventStream, provider: str) -> None:
        self._events = events
        self._decoder = _EventDecoder(provider, events.headers)
        self._ready: deque[Event] = deque()
        self._ended = False
        self._primed = False
        self.status = events.status
        self.headers = events.headers
        self.request_id = events.request_id

    def __iter__(self) -> MessageStream:
        return self

    def __next__(self) -> Event:
        if not self._primed:
            self._prime()
        ready = self._ready
        while not ready:
            if not self._fill():
                raise StopIteration
        return ready.popleft()

    def _prime(self) -> None:
        """Read past ``message_start``: a failure before any content fails the opening."""
        self._primed = True
        decoder = self._decoder
        while decoder.preamble_only(self._ready) and decoder.failure is None and not self._ended:
            if not self._read():
                break
        if decoder.failure is not None and decoder.preamble_only(self._ready):
            self._raise_failure()

    def _fill(self) -> bool:
        if self._decoder.failure is not None:
            self._raise_failure()
        if self._ended:
            return False
        return self._read()

    def _read(self) -> bool:
        batch = self._events.next_batch()
        if not batch:
            self._ended = True
            return self._decoder.cut_short()
        self._decoder.feed(batch, self._ready)
        if self._decoder.done:
            self._ended = True
            self._events.finish()  # read the end of the body: the connection is reused
        elif self._decoder.failure is not None:
            self._ended = True
        return True

    def _raise_failure(self) -> None:
        failure, self._decoder.failure = self._decoder.failure, None
        self._ready.clear()
        self._events.close()
        assert failure is not None
        raise failure

    def close(self) -> None:
        """Stop the stream and release its connection (idempotent)."""
        self._ready.clear()
        self._events.close()


class AsyncMessageStream:
    """Async iterator of :class:`Event` over one streamed answer; ``await aclose()`` it."""

    def __init__(self, events: AsyncEventStream, provider: str) -> None:
        self._events = events
        self._decoder = _EventDecoder(provider, events.headers)
        self._ready: deque[Event] = deque()
        self._ended = False
        self._primed = False
        self.status = events.status
        self.headers = events.headers
        self.request_id = events.request_id

    def __aiter__(self) -> AsyncMessageStream:
        return self

    async def __anext__(self) -> Event:
        if not self._primed:
            await self._prime()
        ready = self._ready
        while not ready:
            if not await self._fill():
                raise StopAsyncIteration
        return ready.popleft()

    async def _prime(self) -> None:
        self._primed = True
        decoder = self._decoder
        while decoder.preamble_only(self._ready) and decoder.failure is None and not self._ended:
            if not await self._read():
                break
        if decoder.failure is not None and decoder.preamble_only(self._ready):
            await self._raise_failure()

    async def _fill(self) -> bool:
        if self._decoder.failure is not None:
            await self._raise_failure()
        if self._ended:
            return False
        return await self._read()

    async def _read(self) -> bool:
        batch = await self._events.next_batch()
        if not batch:
            self._ended = True
            return self._decoder.cut_short()
        self._decoder.feed(batch, self._ready)
        if self._decoder.done:
            self._ended = True
            await self._events.finish()
        elif self._decoder.failure is not None:
            self._ended = True
        return True

    async def _raise_failure(self) -> None:
        failure, self._decoder.failure = self._decoder.failure, None
        self._ready.clear()
        await self._events.aclose()
        assert failure is not None
        raise failure

    async def aclose(self) -> None:
        """Stop the stream and release its connection (idempotent)."""
        self._ready.clear()
        await self._events.aclose()
