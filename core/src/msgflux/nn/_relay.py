"""Streaming agents: one response that relays every model stream of a run.

A model stream decides its ``response_type`` on its first chunk, so a stream that starts
with text and ends with tool calls cannot be handed to the user as it is: the agent would
either lose the calls or hand out a "tool call" response. Instead the agent returns its own
:class:`AgentStreamResponse` and a producer (a thread for ``agent(...)``, a task for
``await agent.acall(...)``) runs the whole run behind it:

1. call the model with ``stream=True``;
2. forward its content chunks and its reasoning chunks, as they arrive, into the agent's
   response (two channels, followed concurrently);
3. when that model stream ends as tool calls, run them, append the round to the
   conversation and go back to 1; otherwise finish the agent's response.

The agent's response is never a ``"tool_call"`` response: its ``response_type`` is
``"text_generation"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from msgflux.dotdict import dotdict
from msgflux.models._producer import start_task, start_thread
from msgflux.models.response import ModelStreamResponse

if TYPE_CHECKING:
    from msgflux.nn.agent import Agent

__all__ = ["TURN_SEPARATOR", "AgentStreamResponse", "stream_async", "stream_sync"]

#: Put between the text (and the reasoning) of two model calls of one streamed run.
TURN_SEPARATOR = "\n\n"


class AgentStreamResponse(ModelStreamResponse):
    """The stream of an agent run (``config={"stream": True}``); a ``ModelStreamResponse``.

    Read it as any model stream: ``async for chunk in response.consume()``,
    ``response.consume_reasoning()``, ``for chunk in response``, ``response.result()``...

    What a reader sees when the model calls tools first:

    - ``consume()`` yields the text of every model call of the run, in order. Text a model
      sends *before* its tool calls (a preamble such as "Let me look that up.") is streamed
      as it arrives; after the tools ran, the text of the answer follows, separated from the
      earlier text by one ``TURN_SEPARATOR`` chunk (``"\\n\\n"``). The tool calls and results
      themselves are not content: they are in ``messages``. (The preamble also stays in the
      conversation, as the content of the assistant message that made the calls.)
    - ``consume_reasoning()`` yields the reasoning of every model call, in order, separated
      the same way.
    - ``data`` / ``reasoning``: all of that text, once the stream has ended.
    - ``metadata``: the last model call's metadata, with ``usage`` summed over every call.

    Attributes:
        messages: ``None`` while streaming; then the conversation of the run (the task, each
            tool round with its results, the final assistant message).
    """

    def __init__(self, mode: str = "sync", *, keep_reasoning: bool = True) -> None:
        super().__init__(mode, keep_reasoning=keep_reasoning)
        self.messages: list[dict[str, Any]] | None = None


class _Relay:
    """One streamed agent run: the producer's state, shared with ``close()``."""

    def __init__(self, agent: Agent, messages: list[dict[str, Any]], mode: str) -> None:
        self.agent = agent
        self.messages = messages
        keep_reasoning = getattr(agent.model, "return_reasoning", True)
        self.out = AgentStreamResponse(mode, keep_reasoning=keep_reasoning)
        self.forward_reasoning = keep_reasoning
        self.cancelled = False
        self.forwarded = False  # whether any chunk reached `out` (errors before that raise)
        # Per channel: text seen in an earlier turn / none seen yet in this turn.
        self.content_before = self.content_fresh = False
        self.reasoning_before = self.reasoning_fresh = False
        self.inner: ModelStreamResponse | None = None
        self.metadata: dict[str, Any] = {}
        self.usage: dict[str, Any] | None = None

    # -- shared steps --------------------------------------------------------------------------

    def _new_turn(self) -> None:
        self.content_fresh = self.reasoning_fresh = True

    def _add(self, chunk: str) -> None:
        self.forwarded = True
        if self.content_fresh:
            self.content_fresh = False
            if self.content_before:
                self.out.add(TURN_SEPARATOR)
            self.content_before = True
        self.out.add(chunk)

    def _add_reasoning(self, chunk: str) -> None:
        self.forwarded = True
        if self.reasoning_fresh:
            self.reasoning_fresh = False
            if self.reasoning_before:
                self.out.add_reasoning(TURN_SEPARATOR)
            self.reasoning_before = True
        self.out.add_reasoning(chunk)

    def _absorb(self, inner: ModelStreamResponse) -> None:
        metadata = dict(inner.metadata or {})
        usage = metadata.pop("usage", None)
        self.metadata = metadata
        if isinstance(usage, dict):
            self.usage = usage if self.usage is None else _add_usage(self.usage, usage)

    def _after_turn(self, turn: int, inner: ModelStreamResponse) -> Any:
        """The tool calls to run, or ``None`` when ``inner`` was the final answer."""
        self._absorb(inner)
        if inner.response_type != "tool_call":
            self.agent._reporter.reasoning(inner.reasoning)
            self.agent._reporter.response(inner.data)
            self.messages.append({"role": "assistant", "content": inner.data or ""})
            return None
        aggregator = inner.data
        self.agent._before_tools(turn, inner.reasoning, aggregator, self.messages)
        return aggregator

    def _finish(self, error: BaseException | None) -> None:
        out = self.out
        out.messages = self.messages
        if self.metadata or self.usage is not None:
            extra = {"usage": dotdict(self.usage)} if self.usage is not None else {}
            out.update_metadata(**self.metadata, **extra)
        out.finish(None if self.cancelled else error)

    # -- sync: a producer thread ---------------------------------------------------------------

    def cancel_sync(self) -> None:
        self.cancelled = True
        inner = self.inner
        if inner is not None:
            inner.close()

    def run_sync(self) -> None:
        error: BaseException | None = None
        agent = self.agent
        try:
            turn = 0
            while not self.cancelled:
                inner = agent.model(self.messages, **agent._call_options(turn, stream=True))
                self.inner = inner
                if self.cancelled:  # closed while the call was opening
                    break
                self._new_turn()
                self._pump_both(inner)
                inner.result()  # the model stream's error, with its type
                if self.cancelled:
                    break
                aggregator = self._after_turn(turn, inner)
                if aggregator is None:
                    break
                agent._runner.run(aggregator)
                self.messages.extend(aggregator.get_messages())
                turn += 1
        except BaseException as exc:  # delivered to the reader with its original type
            error = exc
        finally:
            if self.inner is not None:
                self.inner.close()
            self._finish(error)

    def _pump_both(self, inner: ModelStreamResponse) -> None:
        helper = None
        if self.forward_reasoning:
            helper = threading.Thread(
                target=_pump,
                args=(inner.iter_reasoning(), self._add_reasoning),
                name="msgflux-agent-reasoning",
                daemon=True,
            )
            helper.start()
        try:
            _pump(iter(inner), self._add)
        finally:
            if helper is not None:
                helper.join()

    # -- async: a producer task ----------------------------------------------------------------

    async def run_async(self) -> None:
        error: BaseException | None = None
        agent = self.agent
        try:
            turn = 0
            while True:
                inner = await agent.model.acall(
                    self.messages, **agent._call_options(turn, stream=True)
                )
                self.inner = inner
                self._new_turn()
                await self._apump_both(inner)
                await inner.aresult()
                aggregator = self._after_turn(turn, inner)
                if aggregator is None:
                    break
                await agent._runner.arun(aggregator)
                self.messages.extend(aggregator.get_messages())
                turn += 1
        except asyncio.CancelledError:
            if not self.cancelled:
                error = asyncio.CancelledError("the agent's stream task was cancelled")
        except Exception as exc:  # delivered to the reader with its original type
            error = exc
        finally:
            if self.inner is not None:
                await self.inner.aclose()
            self._finish(error)

    async def _apump_both(self, inner: ModelStreamResponse) -> None:
        if not self.forward_reasoning:
            await _apump(aiter(inner), self._add)
            return
        reasoning = asyncio.get_running_loop().create_task(
            _apump(inner.consume_reasoning(), self._add_reasoning)
        )
        try:
            await _apump(aiter(inner), self._add)
            await reasoning
        except BaseException:
            reasoning.cancel()
            await asyncio.gather(reasoning, return_exceptions=True)
            raise


def _pump(chunks: Iterator[str], sink: Callable[[str], None]) -> None:
    """Forward every chunk; the source's own error is raised later by ``result()``."""
    with contextlib.closing(chunks):  # type: ignore[type-var]
        try:
            for chunk in chunks:
                sink(chunk)
        except Exception:
            pass


async def _apump(chunks: AsyncIterator[str], sink: Callable[[str], None]) -> None:
    """Async ``_pump``."""
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]
        try:
            async for chunk in chunks:
                sink(chunk)
        except Exception:
            pass


def _add_usage(total: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """Token counts of two calls added field by field (nested details included)."""
    summed = dict(total)
    for key, value in usage.items():
        current = summed.get(key)
        if isinstance(value, bool) or current is None:
            summed[key] = value if current is None else current
        elif isinstance(value, int | float) and isinstance(current, int | float):
            summed[key] = current + value
        elif isinstance(value, dict) and isinstance(current, dict):
            summed[key] = _add_usage(current, value)
    return summed


# -- entry points ------------------------------------------------------------------------------


def stream_sync(agent: Agent, messages: list[dict[str, Any]]) -> AgentStreamResponse:
    """Start a streamed run on a producer thread; return once its first chunk arrived.

    A run that fails before any chunk (the first model call fails, the tool-turn limit...)
    raises here, like a model stream that fails before its first chunk.
    """
    relay = _Relay(agent, messages, "sync")
    start_thread(
        relay.out,
        relay.run_sync,
        cancel=relay.cancel_sync,
        delivered=lambda: relay.forwarded,
        name="msgflux-agent-stream",
    )
    return relay.out


async def stream_async(agent: Agent, messages: list[dict[str, Any]]) -> AgentStreamResponse:
    """Start a streamed run as a task; return once its first chunk arrived (async)."""
    relay = _Relay(agent, messages, "async")

    def cancel() -> None:
        relay.cancelled = True

    await start_task(relay.out, relay.run_async(), cancel=cancel, delivered=lambda: relay.forwarded)
    return relay.out
