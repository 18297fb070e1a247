"""Streams through a gateway: failed over while nothing has reached the consumer, never after.

The gateway's stream is a ``ModelStreamResponse`` of its own, fed by a relay (a thread
for sync callers, a task for async ones) that runs the routing loop with ``stream=True``:

1. A deployment's stream call returns once its first chunk arrived and raises when the
   stream failed before that (refused, reset, 5xx, no first token in time): the relay
   fails over, as for a plain call.
2. Then the relay forwards content and reasoning chunks as they come. Tool-call
   fragments are not forwarded one by one: the calls are handed over whole when the
   deployment's stream ends, so a tool-call stream that breaks halfway is failed over too.
3. A deployment's stream that fails, or ends without its finish reason (cut before its
   last event: no ``[DONE]``), is failed over while the relay has forwarded nothing. After
   that, the gateway's stream ends with ``StreamInterruptedError``, which says how many
   chunks and characters were delivered: never a truncated answer presented as complete.
   A stream that stalls mid-answer is ended by the deployment's read timeout.

``gateway(..., stream=True)`` returns once the relay forwarded its first chunk (or raises
what ended the call before that), like a model's stream call.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from msgflux.errors import ProviderConnectionError, StreamInterruptedError
from msgflux.models._producer import start_task, start_thread
from msgflux.models.response import ModelStreamResponse

if TYPE_CHECKING:
    from msgflux.gateway._route import Route
    from msgflux.gateway._state import Ticket

__all__ = ["astream", "stream"]


class _Relay:
    """One streamed gateway call: the routing loop plus the chunk relay, shared with close()."""

    def __init__(self, route: Route, messages: Any, options: Mapping[str, Any], mode: str) -> None:
        self.route = route
        self.messages = messages
        self.options = options
        self.out = ModelStreamResponse(mode)
        self.inner: ModelStreamResponse | None = None
        self.ticket: Ticket | None = None
        self.cancelled = False
        # Written by one pump each (content here, reasoning on the helper): no lock needed.
        self.content_chunks = self.content_chars = 0
        self.reasoning_chunks = self.reasoning_chars = 0

    @property
    def delivered(self) -> bool:
        """Whether any chunk reached the gateway's stream (after which it cannot fail over)."""
        return bool(self.content_chunks or self.reasoning_chunks)

    def _add(self, chunk: str) -> None:
        self.content_chunks += 1
        self.content_chars += len(chunk)
        self.out.add(chunk)

    def _add_reasoning(self, chunk: str) -> None:
        self.reasoning_chunks += 1
        self.reasoning_chars += len(chunk)
        self.out.add_reasoning(chunk)

    def _options(self, ticket: Ticket) -> dict[str, Any]:
        return {**self.route.options(ticket, self.options), "stream": True}

    # -- the end of one deployment's stream ------------------------------------------------------

    def settle(self, ticket: Ticket, inner: ModelStreamResponse, latency: float) -> bool:
        """Decide after ``inner`` ended: ``True`` when the call is over, ``False`` to fail over."""
        if self.cancelled:
            self.route.released(ticket)
            return True
        failure = _failure(ticket, inner)
        if failure is None:
            self.route.answered(ticket, latency)
            self._hand_over(ticket, inner)
            return True
        if self.delivered:
            raise self._interrupted(ticket, failure) from failure
        self.route.failed(ticket, failure)  # raises when not failed over
        return False

    def _hand_over(self, ticket: Ticket, inner: ModelStreamResponse) -> None:
        """What the relay held back: the tool calls, and the metadata with its accounting."""
        if inner.tool_calls is not None and inner.tool_calls:
            self.out.tool_calls = inner.tool_calls
        metadata: Mapping[str, Any] = inner.metadata or {}
        self.out.update_metadata(**metadata, gateway=self.route.metadata(ticket))

    def _interrupted(self, ticket: Ticket, failure: BaseException) -> StreamInterruptedError:
        self.route.interrupted(ticket, failure)
        chunks = self.content_chunks + self.reasoning_chunks
        characters = self.content_chars + self.reasoning_chars
        deployment = ticket.deployment
        return StreamInterruptedError(
            f"the stream from deployment {deployment.name!r} ({deployment.model_path}) broke "
            f"after {chunks} chunks ({characters} characters) had been delivered, so the "
            f"answer is incomplete: {type(failure).__name__}: {failure}",
            deployment=deployment.name,
            model=deployment.model_path,
            chunks=chunks,
            characters=characters,
            provider=getattr(failure, "provider", None),
            status=getattr(failure, "status", None),
            request_id=getattr(failure, "request_id", None),
        )

    def finish(self, error: BaseException | None) -> None:
        if self.ticket is not None:  # cancelled or interrupted mid-attempt: no verdict
            self.route.released(self.ticket)
        model = self.ticket.deployment.model if self.ticket is not None else None
        self.out.finish(
            None if self.cancelled else error,
            reasoning_in_tool_call=bool(getattr(model, "reasoning_in_tool_call", False)),
        )

    # -- sync: a producer thread -----------------------------------------------------------------

    def cancel_sync(self) -> None:
        self.cancelled = True
        if self.inner is not None:
            self.inner.close()

    def run_sync(self) -> None:
        error: BaseException | None = None
        route = self.route
        try:
            while not self.cancelled and (ticket := route.next()) is not None:
                self.ticket = ticket
                try:
                    inner = ticket.caller(self.messages, **self._options(ticket))
                except Exception as exc:
                    route.failed(ticket, exc)
                    continue
                latency = route.elapsed(ticket)
                self.inner = inner
                if self.cancelled:  # closed while the deployment's stream was opening
                    inner.close()
                self._pump_sync(inner)
                if self.settle(ticket, inner, latency):
                    return
            if not self.cancelled:
                raise route.exhausted()
        except BaseException as exc:  # delivered to the consumer with its original type
            error = exc
        finally:
            if self.inner is not None:
                self.inner.close()
            self.finish(error)

    def _pump_sync(self, inner: ModelStreamResponse) -> None:
        helper = threading.Thread(
            target=_drain,
            args=(inner.iter_reasoning(), self._add_reasoning),
            name="msgflux-stream-gateway-reasoning",
            daemon=True,
        )
        helper.start()
        try:
            _drain(iter(inner), self._add)
        finally:
            helper.join()

    # -- async: a producer task ------------------------------------------------------------------

    async def run_async(self) -> None:
        import asyncio

        error: BaseException | None = None
        route = self.route
        try:
            while (ticket := route.next()) is not None:
                self.ticket = ticket
                try:
                    inner = await ticket.caller.acall(self.messages, **self._options(ticket))
                except Exception as exc:
                    route.failed(ticket, exc)
                    continue
                latency = route.elapsed(ticket)
                self.inner = inner
                await self._pump_async(inner)
                if self.settle(ticket, inner, latency):
                    return
            raise route.exhausted()
        except asyncio.CancelledError:
            if not self.cancelled:
                error = asyncio.CancelledError("the gateway stream's task was cancelled")
        except Exception as exc:  # delivered to the consumer with its original type
            error = exc
        finally:
            if self.inner is not None:
                await self.inner.aclose()
            self.finish(error)

    async def _pump_async(self, inner: ModelStreamResponse) -> None:
        import asyncio

        reasoning = asyncio.get_running_loop().create_task(
            _adrain(inner.consume_reasoning(), self._add_reasoning)
        )
        try:
            await _adrain(aiter(inner), self._add)
            await reasoning
        except BaseException:
            reasoning.cancel()
            await asyncio.gather(reasoning, return_exceptions=True)
            raise


def _failure(ticket: Ticket, inner: ModelStreamResponse) -> BaseException | None:
    """What ended ``inner`` early: its error, or a missing finish reason (a cut stream)."""
    if inner.error is not None:
        return inner.error
    if inner.metadata is None or inner.metadata.get("finish_reason") is None:
        return ProviderConnectionError(
            f"the stream of deployment {ticket.deployment.name!r} ended before its last event "
            "(no finish_reason, e.g. no [DONE]): the answer may be cut short",
            provider=getattr(ticket.deployment.model, "provider", None),
        )
    return None


def _drain(chunks: Iterator[str], sink: Callable[[str], None]) -> None:
    """Forward every chunk; the stream's own error is read from the response afterwards."""
    with contextlib.closing(chunks):  # type: ignore[type-var]
        with contextlib.suppress(Exception):
            for chunk in chunks:
                sink(chunk)


async def _adrain(chunks: AsyncIterator[str], sink: Callable[[str], None]) -> None:
    """Async ``_drain``."""
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]
        with contextlib.suppress(Exception):
            async for chunk in chunks:
                sink(chunk)


# -- entry points ----------------------------------------------------------------------------------


def stream(route: Route, messages: Any, options: Mapping[str, Any]) -> ModelStreamResponse:
    """Start a relay thread; return once its first chunk was forwarded (raise if none was)."""
    relay = _Relay(route, messages, options, "sync")
    start_thread(
        relay.out,
        relay.run_sync,
        cancel=relay.cancel_sync,
        delivered=lambda: relay.delivered,
        name="msgflux-stream-gateway",
    )
    return relay.out


async def astream(route: Route, messages: Any, options: Mapping[str, Any]) -> ModelStreamResponse:
    """Start a relay task on this loop; return once its first chunk was forwarded."""
    relay = _Relay(route, messages, options, "async")

    def cancel() -> None:
        relay.cancelled = True

    await start_task(relay.out, relay.run_async(), cancel=cancel, delivered=lambda: relay.delivered)
    return relay.out
