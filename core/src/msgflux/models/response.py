"""What a model call returns: ``ModelResponse`` and ``ModelStreamResponse``.

Both keep the answer and the reasoning apart: ``consume()`` is always the answer in its
natural type (``str`` text, ``dotdict`` structured output, ``ToolCallAggregator`` tool
calls, ``dotdict`` audio) and ``consume_reasoning()`` / ``reasoning`` the model's chain of
thought. Provider plugins fill them through the same small builder API (``add``,
``add_reasoning``, ``add_tool_call``, ``update_metadata``, ``set_response_type``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from msgflux.dotdict import dotdict
from msgflux.models._stream import Channel, Signal

if TYPE_CHECKING:  # asyncio loads on first async use: `import msgflux` stays light
    import asyncio

    from msgflux.tools import ToolCallAggregator

__all__ = ["ModelResponse", "ModelStreamResponse"]

# Guards a stream's done callbacks against its end: taken once per stream end and per
# registration (telemetry), never per chunk, so one lock for every stream is enough.
_CALLBACKS_LOCK = threading.Lock()


def _new_aggregator() -> ToolCallAggregator:
    from msgflux.tools import ToolCallAggregator

    return ToolCallAggregator()


class _ResponseBase:
    """What both response kinds share: type, metadata and the provider-facing builder API."""

    response_type: str | None
    metadata: dotdict | None

    def set_response_type(self, response_type: str) -> None:
        """Set ``response_type`` (``"text_generation"``, ``"structured"``, ``"tool_call"``...)."""
        self.response_type = response_type

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        """Replace ``metadata`` (usage, finish_reason, annotations, logprobs...)."""
        self.metadata = metadata if isinstance(metadata, dotdict) else dotdict(metadata)


class ModelResponse(_ResponseBase):
    """The complete answer of a non-streaming call.

    Attributes:
        data: The answer: ``str``, ``dotdict`` (structured or audio) or ``ToolCallAggregator``.
        reasoning: The reasoning trace, or ``None`` when the model returned none (or
            ``return_reasoning=False``).
        response_type: ``"text_generation"``, ``"structured"``, ``"tool_call"``,
            ``"audio_generation"`` or ``"audio_text_generation"``.
        metadata: ``usage``, ``finish_reason``, and where present ``annotations``,
            ``logprobs``, ``refusal``, ``id``.
        provider_data: What the provider's wire format needs to find again in the next
            request, keyed by provider name (``{"anthropic": {"content": [...]}}``: thinking
            blocks and their signatures). Empty for most answers. The tool-call aggregator
            of the answer carries it into the assistant message of ``get_messages()``.
    """

    def __init__(self) -> None:
        self.data: Any = None
        self.reasoning: str | None = None
        self.response_type: str | None = None
        self.metadata: dotdict = dotdict()
        self.tool_calls: ToolCallAggregator | None = None
        self.provider_data: dict[str, Any] = {}

    @property
    def has_reasoning(self) -> bool:
        """``True`` when ``reasoning`` is not ``None``."""
        return self.reasoning is not None

    def consume(self) -> Any:
        """The answer, in its natural type."""
        return self.data

    def consume_reasoning(self) -> str | None:
        """The reasoning trace, or ``None``."""
        return self.reasoning

    # -- builder API (providers) -------------------------------------------------------------

    def add(self, data: Any) -> None:
        """Add answer content; text appends to text already added."""
        if isinstance(data, str) and isinstance(self.data, str):
            self.data += data
        else:
            self.data = data

    def add_reasoning(self, text: str | None) -> None:
        """Add reasoning text (appends)."""
        if text:
            self.reasoning = text if self.reasoning is None else self.reasoning + text

    def add_tool_call(
        self, index: int, id: str | None, name: str | None, arguments: str | None
    ) -> None:
        """Add a tool call (or a fragment of one) of the assistant message."""
        if self.tool_calls is None:
            self.tool_calls = _new_aggregator()
        self.tool_calls.process(index, id, name, arguments)

    def update_metadata(self, **items: Any) -> None:
        """Merge ``items`` into ``metadata``."""
        self.metadata.update(items)

    def __repr__(self) -> str:
        return (
            f"ModelResponse(response_type={self.response_type!r}, data={self.data!r}, "
            f"has_reasoning={self.has_reasoning})"
        )


class ModelStreamResponse(_ResponseBase):
    """A streaming answer: content and reasoning arrive as chunks, in two independent channels.

    Read it any of these ways, as many times as you like (each reader starts from the
    first chunk; chunks that arrived before you started are not lost):

    - ``async for chunk in response.consume()`` (works for sync and async calls; plugs
      into FastAPI's ``StreamingResponse``), ``async for chunk in response.consume_reasoning()``;
    - ``for chunk in response`` and ``for chunk in response.iter_reasoning()`` from sync code;
    - ``response.result()`` / ``await response.aresult()``: wait for the end and get ``data``.

    When the stream is a tool call, ``consume()`` returns the ``ToolCallAggregator`` once
    the stream has finished (blocking a sync caller); async code uses
    ``await response.aresult()``. Leaving a reading loop early (``break``, a client that
    disconnects) closes the HTTP stream; ``close()`` / ``aclose()`` do it explicitly.

    Attributes:
        data: ``None`` while streaming; then the full text (or the tool-call aggregator).
        reasoning: ``None`` while streaming; then the full reasoning text (or ``None``).
        has_reasoning: Becomes ``True`` on the first reasoning chunk.
        response_type: Set with the first content (``"text_generation"``) or tool-call chunk
            (``"tool_call"``); a stream that sends text and then tool calls ends as
            ``"tool_call"`` with the text in ``data.content``.
        metadata: ``None`` while streaming (a completion signal); then usage, finish_reason...
        provider_data: As for ``ModelResponse``; the provider fills it while streaming.
        first_chunk_event: Set on the first chunk of any kind.
    """

    def __init__(self, mode: str = "sync", *, keep_reasoning: bool = True) -> None:
        if mode not in ("sync", "async"):
            raise ValueError("mode must be 'sync' or 'async'")
        self.mode = mode
        self.data: Any = None
        self.reasoning: str | None = None
        self.has_reasoning = False
        self.response_type: str | None = None
        self.metadata: dotdict | None = None
        self.tool_calls: ToolCallAggregator | None = None
        self.provider_data: dict[str, Any] = {}
        self.first_chunk_event = Signal()
        self._response_type_event = Signal()
        self._done = Signal()
        self._content = Channel()
        self._reasoning = Channel()
        self._pending_metadata = dotdict()
        self._keep_reasoning = keep_reasoning
        self._all_reasoning: list[str] = []
        self._error: BaseException | None = None
        self._closing = False
        self._cancel: Callable[[], None] | None = None
        self._producer_loop: asyncio.AbstractEventLoop | None = None
        self._producer: threading.Thread | asyncio.Task[Any] | None = None
        self._done_callbacks: list[Callable[[ModelStreamResponse], None]] = []
        self._ended = False  # published (guarded by _CALLBACKS_LOCK)

    # -- state -------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """``True`` once the stream has ended (completed, failed or closed)."""
        return self._done.is_set()

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the stream, if any."""
        return self._error

    @property
    def closed_early(self) -> bool:
        """``True`` when ``close()`` (or a reader leaving its loop) stopped the stream."""
        return self._closing

    def add_done_callback(self, callback: Callable[[ModelStreamResponse], None]) -> None:
        """Call ``callback(response)`` once the stream has ended (completed, failed or closed).

        It runs on the producer's thread or task once the data, reasoning and metadata are
        published and before any reader sees the end, or at once (on this thread) when the
        stream has already ended. An exception it raises is logged on ``msgflux.models``
        and never reaches the stream's readers.
        """
        with _CALLBACKS_LOCK:
            if not self._ended:
                self._done_callbacks.append(callback)
                return
        self._call_back(callback)

    def _call_back(self, callback: Callable[[ModelStreamResponse], None]) -> None:
        try:
            callback(self)
        except Exception:
            logging.getLogger("msgflux.models").exception("a stream's done callback failed")

    # -- builder API (producer side) ---------------------------------------------------------

    def add(self, chunk: str | None) -> None:
        """Add a content chunk. (``None`` is accepted and ignored: the old end sentinel.)"""
        if not chunk:
            return
        if self.response_type is None:
            self.response_type = "text_generation"
            self._response_type_event.set()
        self._content.put(chunk)
        if not self.first_chunk_event.is_set():
            self.first_chunk_event.set()

    def add_reasoning(self, chunk: str | None) -> None:
        """Add a reasoning chunk."""
        if not chunk:
            return
        if self._keep_reasoning:
            self.has_reasoning = True
            self._reasoning.put(chunk)
        # Kept for reasoning_in_tool_call even when return_reasoning=False.
        self._all_reasoning.append(chunk)
        if not self.first_chunk_event.is_set():
            self.first_chunk_event.set()

    def add_tool_call(
        self, index: int, id: str | None, name: str | None, arguments: str | None
    ) -> None:
        """Add a tool-call fragment (assembled by ``index``)."""
        if self.tool_calls is None:
            self.tool_calls = _new_aggregator()
        self.tool_calls.process(index, id, name, arguments)
        if self.response_type is None:
            self.response_type = "tool_call"
            self._response_type_event.set()
        if not self.first_chunk_event.is_set():
            self.first_chunk_event.set()

    def update_metadata(self, **items: Any) -> None:
        """Merge items into the metadata published when the stream ends."""
        self._pending_metadata.update(items)

    @property
    def pending_metadata(self) -> dotdict:
        """Metadata gathered so far (providers merge logprobs etc. into it)."""
        return self._pending_metadata

    # -- lifecycle (the pipeline's side) -----------------------------------------------------

    def finish(
        self, error: BaseException | None = None, *, reasoning_in_tool_call: bool = False
    ) -> None:
        """End the stream (producer side): publish data, reasoning and metadata, wake readers.

        For code that produces a stream of its own (e.g. ``nn.Agent`` relaying several model
        streams into one). Call it exactly once, last, from a ``finally``; later calls are
        ignored.

        Args:
            error: The exception that ended the stream; readers get it, with its type, when
                they reach the end (``consume()``, iteration, ``result()``).
            reasoning_in_tool_call: Copy the reasoning into the tool-call aggregator, if the
                stream ended as tool calls.
        """
        if self._done.is_set():
            return
        self._publish(error, reasoning_in_tool_call)

    def bind_producer(
        self,
        producer: threading.Thread | asyncio.Task[Any],
        cancel: Callable[[], None],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """Register the stream's producer (producer side), before handing the stream out.

        Args:
            producer: The thread or task that fills the stream (``aclose()`` waits for a task).
            cancel: Called (once, from any thread) by ``close()`` and by a reader that stops
                early: it must make the producer stop and ``finish()`` soon.
            loop: The event loop a task producer runs on, so that blocking waits on that
                loop's thread fail with a clear error instead of deadlocking.
        """
        self._producer = producer
        self._cancel = cancel
        self._producer_loop = loop

    def _publish(self, error: BaseException | None, reasoning_in_tool_call: bool) -> None:
        """Publish data, reasoning and metadata, then wake every reader."""
        self._error = error
        text = "".join(self._content.items)
        if self._keep_reasoning and self._reasoning.items:
            self.reasoning = "".join(self._reasoning.items)
        if self.tool_calls is not None and self.tool_calls:
            self.tool_calls.content = text or None
            if reasoning_in_tool_call and self._all_reasoning:
                self.tool_calls.reasoning = "".join(self._all_reasoning)
            self.tool_calls.provider_data = self.provider_data
            self.data = self.tool_calls
            self.response_type = "tool_call"
        else:
            self.data = text
            if self.response_type is None:
                self.response_type = "text_generation"
        self.metadata = self._pending_metadata
        with _CALLBACKS_LOCK:
            self._ended = True
            callbacks, self._done_callbacks = self._done_callbacks, []
        for callback in callbacks:
            self._call_back(callback)
        self._reasoning.close()
        self._content.close()
        self._response_type_event.set()
        self.first_chunk_event.set()
        self._done.set()

    # -- reading -----------------------------------------------------------------------------

    def consume(self) -> Any:
        """Async generator of content chunks; or, for a tool-call stream, the aggregator.

        For a tool call this blocks until the stream ends (sync calls). In async code use
        ``await response.aresult()``.
        """
        if self.response_type == "tool_call":
            return self.result()
        return self._aiter_channel(self._content)

    def consume_reasoning(self) -> AsyncIterator[str]:
        """Async generator of reasoning chunks (empty when the model sent none)."""
        return self._aiter_channel(self._reasoning)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._aiter_channel(self._content)

    def __iter__(self) -> Iterator[str]:
        """Iterate content chunks from sync code."""
        return self._iter_channel(self._content)

    def iter_reasoning(self) -> Iterator[str]:
        """Iterate reasoning chunks from sync code."""
        return self._iter_channel(self._reasoning)

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the end of the stream and return ``data`` (raises the stream's error)."""
        self._check_can_block()
        if not self._done.wait(timeout):
            raise TimeoutError(f"the stream did not finish within {timeout} s")
        if self._error is not None:
            raise self._error
        return self.data

    async def aresult(self) -> Any:
        """Await the end of the stream and return ``data`` (raises the stream's error)."""
        await self._done.wait_async()
        if self._error is not None:
            raise self._error
        return self.data

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the stream ends; ``False`` on timeout. Does not raise the error."""
        self._check_can_block()
        return self._done.wait(timeout)

    async def wait_async(self) -> None:
        """Await the end of the stream. Does not raise the error."""
        await self._done.wait_async()

    def close(self) -> None:
        """Stop the stream now and release its HTTP connection (idempotent)."""
        if self._done.is_set() or self._closing:
            return
        self._closing = True
        if self._cancel is not None:
            self._cancel()

    async def aclose(self) -> None:
        """Stop the stream and wait until its producer has released the connection."""
        self.close()
        await self._done.wait_async()
        producer = self._producer
        import asyncio

        if isinstance(producer, asyncio.Task) and not producer.done():
            await asyncio.gather(producer, return_exceptions=True)

    def __enter__(self) -> ModelStreamResponse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
        if self.mode == "sync":
            self._done.wait()

    async def __aenter__(self) -> ModelStreamResponse:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _check_can_block(self) -> None:
        loop = self._producer_loop
        if loop is not None and not self._done.is_set():
            import asyncio

            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                raise RuntimeError(
                    "this stream is produced on the running event loop, so waiting for it "
                    "synchronously would deadlock; use `await response.aresult()` or "
                    "`async for chunk in response.consume()`"
                )

    def _iter_channel(self, channel: Channel) -> Iterator[str]:
        self._check_can_block()
        return self._follow_sync(channel)

    def _follow_sync(self, channel: Channel) -> Iterator[str]:
        finished = False
        try:
            yield from channel.follow()
            finished = True
        finally:
            if not finished:
                self.close()
        if self._error is not None and not self._closing:
            raise self._error

    async def _aiter_channel(self, channel: Channel) -> AsyncIterator[str]:
        finished = False
        try:
            async for chunk in channel.afollow():
                yield chunk
            finished = True
        finally:
            if not finished:
                self.close()
        if self._error is not None and not self._closing:
            raise self._error

    def __repr__(self) -> str:
        state = "done" if self.done else "streaming"
        kind = self.response_type
        return f"ModelStreamResponse(mode={self.mode!r}, {state}, response_type={kind!r})"
