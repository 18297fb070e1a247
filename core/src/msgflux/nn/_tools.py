"""Running the tool calls of one model answer, the way an Agent does.

Every call gets a result, whatever happens: a tool that raises, arguments that do not fit,
or a name the model made up become an ``"Error: ..."`` result the model reads in the next
round, so it can correct itself. Several calls of one answer run in parallel: sync tools on
threads, async tools together on an event loop (``asyncio.gather``).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from msgflux.nn._verbose import Reporter
from msgflux.telemetry import state as _telemetry

if TYPE_CHECKING:
    from msgflux.tools import Tool, ToolCallAggregator

__all__ = ["ToolRunner"]

logger = logging.getLogger("msgflux.nn")

# Threads for the sync tools of one answer; a model rarely asks for more calls at once.
_MAX_THREADS = 16


@dataclass(slots=True)
class _Call:
    id: str
    name: str | None
    arguments: str
    tool: Tool | None


@dataclass(slots=True)
class _Outcome:
    result: Any
    failed: bool
    error: BaseException | str | None = None  # what went wrong, for the tool's span


def _is_async(func: Any) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(type(func), "__call__", None)  # noqa: B004 - an async callable object
    return not inspect.isroutine(func) and inspect.iscoroutinefunction(call)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class ToolRunner:
    """Executes tool calls against the tools of an Agent.

    Args:
        tools: The agent's tools by name (``ToolDefinitions.tools``).
        reporter: Prints the calls and their results when the agent is verbose.
    """

    __slots__ = ("_reporter", "_tools")

    def __init__(self, tools: Mapping[str, Tool], reporter: Reporter) -> None:
        self._tools = dict(tools)
        self._reporter = reporter

    # -- planning and reporting ----------------------------------------------------------------

    def _plan(self, aggregator: ToolCallAggregator) -> list[_Call]:
        calls = []
        for raw in aggregator.tool_calls:  # raw JSON arguments: one bad call stays one error
            function = raw["function"]
            name = function["name"]
            calls.append(_Call(raw["id"], name, function["arguments"], self._tools.get(name)))
        for call in calls:
            self._reporter.tool_call(call.name, call.arguments)
        return calls

    def _record(
        self, aggregator: ToolCallAggregator, calls: Sequence[_Call], outcomes: Sequence[_Outcome]
    ) -> None:
        for call, outcome in zip(calls, outcomes, strict=True):
            self._reporter.tool_result(call.name, outcome.result, outcome.failed)
        aggregator.insert_results(
            {call.id: outcome.result for call, outcome in zip(calls, outcomes, strict=True)}
        )

    def _unknown(self, call: _Call) -> _Outcome:
        available = ", ".join(self._tools) or "none (this agent has no tools)"
        return _Outcome(
            f"Error: there is no tool named {call.name!r}; the available tools are: {available}.",
            failed=True,
            error="_OTHER",  # the conventions' error.type when no exception names it
        )

    @staticmethod
    def _failure(call: _Call, exc: Exception) -> _Outcome:
        from msgflux.tools import ToolArgumentsError

        if isinstance(exc, ToolArgumentsError):
            return _Outcome(f"Error: {exc}", failed=True, error=exc)
        logger.info("tool %r raised; the error goes back to the model", call.name, exc_info=exc)
        return _Outcome(
            f"Error: the tool {call.name!r} raised {type(exc).__name__}: {exc}",
            failed=True,
            error=exc,
        )

    # -- sync ----------------------------------------------------------------------------------

    def run(self, aggregator: ToolCallAggregator) -> None:
        """Run every call of ``aggregator`` and insert the results (sync agents).

        Several calls run on threads at once. An async tool runs to completion on an event
        loop of its own (on a worker thread when the calling thread already runs a loop).
        """
        calls = self._plan(aggregator)
        inline = len(calls) == 1 and not (
            calls[0].tool is not None and _is_async(calls[0].tool.func) and _loop_running()
        )
        if inline:
            outcomes = [self._execute(calls[0])]
        else:
            # Each call runs in a copy of this context, as a task would (the agent's span
            # and the caller's context variables reach the tool).
            contexts = [contextvars.copy_context() for _ in calls]
            workers = min(len(calls), _MAX_THREADS)
            with ThreadPoolExecutor(workers, thread_name_prefix="msgflux-agent-tool") as pool:
                outcomes = list(
                    pool.map(lambda ctx, call: ctx.run(self._execute, call), contexts, calls)
                )
        self._record(aggregator, calls, outcomes)

    def _execute(self, call: _Call) -> _Outcome:
        observer = _telemetry.observer
        if observer is None:
            return self._execute_untraced(call)
        with observer.tool_call(call.id, call.name, call.tool, call.arguments) as record:
            outcome = self._execute_untraced(call)
            record.outcome(outcome.result, outcome.error)
        return outcome

    def _execute_untraced(self, call: _Call) -> _Outcome:
        if call.tool is None:
            return self._unknown(call)
        try:
            return _Outcome(self._invoke(call), failed=False)
        except Exception as exc:
            return self._failure(call, exc)

    @staticmethod
    def _invoke(call: _Call) -> Any:
        tool = call.tool
        assert tool is not None
        kwargs = tool.parse_arguments(call.arguments)
        result = tool.func(**kwargs)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
        return result

    # -- async ---------------------------------------------------------------------------------

    async def arun(self, aggregator: ToolCallAggregator) -> None:
        """Run every call of ``aggregator`` concurrently and insert the results (async agents).

        Async tools are awaited together; sync tools run on the loop's default executor so
        they never block the event loop.
        """
        calls = self._plan(aggregator)
        outcomes = await asyncio.gather(*(self._aexecute(call) for call in calls))
        self._record(aggregator, calls, outcomes)

    async def _aexecute(self, call: _Call) -> _Outcome:
        observer = _telemetry.observer
        if observer is None:
            return await self._aexecute_untraced(call)
        with observer.tool_call(call.id, call.name, call.tool, call.arguments) as record:
            outcome = await self._aexecute_untraced(call)
            record.outcome(outcome.result, outcome.error)
        return outcome

    async def _aexecute_untraced(self, call: _Call) -> _Outcome:
        tool = call.tool
        if tool is None:
            return self._unknown(call)
        try:
            if _is_async(tool.func):
                result = await tool.acall(call.arguments)
            else:
                result = await asyncio.to_thread(self._invoke, call)
        except Exception as exc:
            return self._failure(call, exc)
        return _Outcome(result, failed=False)
