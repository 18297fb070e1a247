"""The batch runner: start calls as the limits allow, retry 429s, keep results in order.

One scheduler coroutine starts calls; each call is a task that records its outcome, so
nothing waits on a slow call but its own task. The scheduler asks three things before a
start: is there room in the window (``AIMD``), has the pace (and any ``Retry-After``
gate) come, do the caller's budgets (``TokenBucket``) allow it.

The model's retry policy and the batch do not multiply attempts: inside a batch a 429 is
not retried by the model (``msgflux.utils.retry.rate_limits_to_caller``) but reaches the
batch, which slows down and sends the item again later (up to ``max_rate_limit_retries``
times). Other errors (connection errors, timeouts, 5xx) are retried by the model's own
policy within the call; what still fails is that item's result. A gateway's
``ModelRouterError`` that says only rate limits stood in the way (``rate_limited``, with
``retry_after``) is a 429 here (``is_rate_limit``).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from msgflux.batch._aimd import AIMD
from msgflux.batch._budget import TokenBucket
from msgflux.batch._declared import DeclaredLimits, source_of
from msgflux.batch._inputs import Call, normalize
from msgflux.batch._progress import Progress, check_progress
from msgflux.batch._results import BatchItem, BatchResults, BatchStats
from msgflux.utils.http import parse_retry_after
from msgflux.utils.rate_limits import RateLimit
from msgflux.utils.retry import is_rate_limit, rate_limits_to_caller

__all__ = ["abatch"]

_DEFAULT_COMPLETION_TOKENS = 256  # a guess for a tokens_per_minute budget before any answer
_CHARS_PER_TOKEN = 4


async def abatch(
    target: Any,
    inputs: Iterable[Any],
    *,
    max_concurrency: int = 64,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    adaptive: bool = True,
    max_rate_limit_retries: int = 25,
    progress: bool | None = None,
    on_result: Callable[[BatchItem], Any] | None = None,
    **call_options: Any,
) -> BatchResults:
    """Call ``target`` once per input, as fast as the server allows; results in input order.

    Args:
        target: A model, a gateway, or anything with ``async acall(messages, **kwargs)``
            or a sync ``__call__(messages, **kwargs)`` (run on worker threads).
        inputs: Prompts (``str``), message lists, or dicts of call arguments
            (``{"messages": ..., "temperature": 0}``).
        max_concurrency: Most calls in flight at once.
        requests_per_minute: A budget the batch never exceeds (``None``: none).
        tokens_per_minute: A token budget (prompt plus answer, estimated before a call and
            settled with the reported usage after it).
        adaptive: Adapt concurrency and pace to the server (429s, rate-limit headers).
            ``False`` keeps ``max_concurrency`` and only honours ``Retry-After``.
        max_rate_limit_retries: How often one item is sent again after a 429 before the
            429 becomes its result.
        progress: Draw a progress bar (tqdm) on stderr; ``None``: when stderr is a terminal.
        on_result: Called with each ``BatchItem`` as soon as it is final (in completion
            order); may be ``async``. An exception from it stops the batch and is raised.
        **call_options: Keyword arguments for every call (an input dict's own win).

    Returns:
        ``BatchResults``: one ``BatchItem`` per input, in input order, and ``stats``.
    """
    given, calls = normalize(inputs, call_options)
    _check_settings(max_concurrency, requests_per_minute, tokens_per_minute, max_rate_limit_retries)
    run = _Run(
        _caller(target, max_concurrency),
        calls,
        given,
        max_concurrency=max_concurrency,
        adaptive=adaptive,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        max_rate_limit_retries=max_rate_limit_retries,
        progress=Progress(len(calls), bar=check_progress(progress), on_result=on_result),
    )
    with rate_limits_to_caller():
        return await run.execute()


def _check_settings(max_concurrency: Any, rpm: Any, tpm: Any, max_rate_limit_retries: Any) -> None:
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
        raise TypeError(f"max_concurrency must be an integer, got {max_concurrency!r}")
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    for name, value in (("requests_per_minute", rpm), ("tokens_per_minute", tpm)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise TypeError(f"{name} must be a number or None, got {value!r}")
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    retries = max_rate_limit_retries
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"max_rate_limit_retries must be an integer >= 0, got {retries!r}")


# -- calling the target -----------------------------------------------------------------------

AsyncCall = Callable[[Any, dict[str, Any]], Awaitable[Any]]


class _Caller:
    """``await caller(messages, kwargs)`` for an async or a sync target."""

    def __init__(self, call: AsyncCall, executor: ThreadPoolExecutor | None = None) -> None:
        self.call = call
        self.executor = executor

    def close(self, *, wait: bool) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=wait, cancel_futures=True)


def _caller(target: Any, max_concurrency: int) -> _Caller:
    acall = getattr(target, "acall", None)
    if acall is not None and inspect.iscoroutinefunction(acall):

        async def call_async(messages: Any, kwargs: dict[str, Any]) -> Any:
            return await acall(messages, **kwargs)

        return _Caller(call_async)
    if inspect.iscoroutinefunction(target):

        async def call_function(messages: Any, kwargs: dict[str, Any]) -> Any:
            return await target(messages, **kwargs)

        return _Caller(call_function)
    if not callable(target):
        raise TypeError(
            f"a batch calls a model, a gateway, or a function; got {type(target).__name__}"
        )
    executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix="msgflux-batch")

    async def call_in_thread(messages: Any, kwargs: dict[str, Any]) -> Any:
        # The thread runs in a copy of this context: rate_limits_to_caller() holds there too.
        context = contextvars.copy_context()
        job = functools.partial(context.run, target, messages, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(executor, job)

    return _Caller(call_in_thread, executor)


# -- one run ----------------------------------------------------------------------------------


class _Run:
    def __init__(
        self,
        caller: _Caller,
        calls: list[Call],
        inputs: list[Any],
        *,
        max_concurrency: int,
        adaptive: bool,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        max_rate_limit_retries: int,
        progress: Progress,
    ) -> None:
        now = time.monotonic()
        self.caller = caller
        self.calls = calls
        self.items = [BatchItem(index, value) for index, value in enumerate(inputs)]
        self.limits = AIMD(max_concurrency, adaptive=adaptive, start=now)
        self.requests = TokenBucket(requests_per_minute, now) if requests_per_minute else None
        self.tokens = TokenBucket(tokens_per_minute, now) if tokens_per_minute else None
        self.max_rate_limit_retries = max_rate_limit_retries
        self.progress = progress
        self.stats = BatchStats(total=len(calls))
        self.pending: deque[int] = deque(range(len(calls)))
        self.in_flight = 0
        self.finished = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.changed = asyncio.Event()
        self.failure: BaseException | None = None  # raised by on_result
        self.tokens_per_call: float | None = None  # a running mean of reported usage
        self.declared = DeclaredLimits()
        self.started_at = now

    async def execute(self) -> BatchResults:
        completed = False
        try:
            await self._schedule()
            completed = True
        finally:
            await self._stop_tasks()
            self.progress.close()
            self.caller.close(wait=completed)
        self._finish_stats()
        return BatchResults(self.items, self.stats)

    async def _schedule(self) -> None:
        while self.finished < len(self.calls):
            if self.failure is not None:
                raise self.failure
            if not self.pending or not self.limits.has_room(self.in_flight):
                self.changed.clear()
                await self.changed.wait()
                continue
            index = self.pending[0]
            delay = self._delay(index, time.monotonic())
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            self.pending.popleft()
            self._start(index)

    def _delay(self, index: int, now: float) -> float:
        delay = self.limits.wait(now)
        if self.requests is not None:
            delay = max(delay, self.requests.wait(1, now))
        if self.tokens is not None:
            delay = max(delay, self.tokens.wait(self._estimate(index), now))
        return delay

    def _estimate(self, index: int) -> float:
        """Tokens a call is expected to use, for a tokens-per-minute budget."""
        messages, kwargs = self.calls[index]
        prompt = len(str(messages)) / _CHARS_PER_TOKEN
        answer = kwargs.get("max_tokens") or _DEFAULT_COMPLETION_TOKENS
        if self.tokens_per_call is not None:
            return max(self.tokens_per_call, prompt)
        return prompt + answer

    def _start(self, index: int) -> None:
        now = time.monotonic()
        self.limits.started(now)
        estimate = self._estimate(index) if self.tokens is not None else 0.0
        if self.requests is not None:
            self.requests.take(1, now)
        if self.tokens is not None:
            self.tokens.take(estimate, now)
        self.in_flight += 1
        self.items[index].attempts += 1
        self.stats.requests += 1
        task = asyncio.get_running_loop().create_task(self._attempt(index, now, estimate))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _attempt(self, index: int, started: float, estimate: float) -> None:
        messages, kwargs = self.calls[index]
        try:
            try:
                response = await self.caller.call(messages, kwargs)
            except Exception as exc:
                final = self._failed(index, started, estimate, exc)
            else:
                final = self._succeeded(index, started, estimate, response)
            finally:
                self.in_flight -= 1
                self.changed.set()
            if final:
                await self.progress.finished(
                    self.items[index], self.stats.rate_limited, self.limits.window
                )
                self.finished += 1  # counted once the callback is done with it
                self.changed.set()
        except Exception as exc:  # from on_result: stop the batch with it
            if self.failure is None:
                self.failure = exc
            self.changed.set()

    def _succeeded(self, index: int, started: float, estimate: float, response: Any) -> bool:
        now = time.monotonic()
        item = self.items[index]
        item.response = response
        used = self._record_usage(response)
        if self.tokens is not None:
            self.tokens.settle(used - estimate if used else 0.0, now)
        remaining, ceiling = self._declared(response)
        self.limits.succeeded(now, started, remaining=remaining, ceiling=ceiling)
        self.stats.succeeded += 1
        return True

    def _failed(self, index: int, started: float, estimate: float, error: Exception) -> bool:
        now = time.monotonic()
        item = self.items[index]
        if self.tokens is not None:
            self.tokens.settle(-estimate, now)  # a refused call used no tokens
        if is_rate_limit(error):
            self.stats.rate_limited += 1
            item.rate_limited += 1
            self.limits.rate_limited(now, started, _retry_after(error))
            if item.rate_limited <= self.max_rate_limit_retries:
                self.pending.appendleft(index)  # first in line once the pace allows
                return False
        item.error = error
        self.stats.failed += 1
        return True

    def _record_usage(self, response: Any) -> int:
        metadata = getattr(response, "metadata", None)
        usage = metadata.get("usage") if isinstance(metadata, dict) else None
        if not isinstance(usage, dict):
            return 0
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        self.stats.prompt_tokens += prompt
        self.stats.completion_tokens += completion
        used = int(usage.get("total_tokens") or prompt + completion)
        if used:
            mean = self.tokens_per_call
            self.tokens_per_call = used if mean is None else 0.9 * mean + 0.1 * used
        return used

    def _declared(self, response: Any) -> tuple[float | None, float | None]:
        """``(calls left, calls per second allowed)`` from the rate-limit headers, over
        every server behind the target (a gateway's deployments add up: ``_declared``)."""
        metadata = getattr(response, "metadata", None)
        headers = metadata.get("rate_limit") if isinstance(metadata, dict) else None
        limits = RateLimit.of(headers) if headers else None
        remaining, ceiling = (None, None) if limits is None else self._read(limits)
        return self.declared.update(source_of(metadata), remaining, ceiling)

    def _read(self, limits: RateLimit) -> tuple[float | None, float | None]:
        """``(calls left, calls per second allowed)`` of one server's headers."""
        per_call = self.tokens_per_call
        remaining = [limits.remaining_requests]
        ceiling = [limits.limit_requests / 60.0 if limits.limit_requests else None]
        if per_call:
            if limits.remaining_tokens is not None:
                remaining.append(limits.remaining_tokens / per_call)
            if limits.limit_tokens:
                ceiling.append(limits.limit_tokens / 60.0 / per_call)
        return _smallest(remaining), _smallest(ceiling)

    async def _stop_tasks(self) -> None:
        """Cancel the calls still in flight (the batch failed or was cancelled)."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _finish_stats(self) -> None:
        stats = self.stats
        stats.elapsed = time.monotonic() - self.started_at
        stats.limit_cuts = self.limits.decreases
        stats.final_window = self.limits.window
        stats.final_rate = self.limits.rate


def _smallest(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def _retry_after(error: BaseException) -> float | None:
    value = getattr(error, "retry_after", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    headers = getattr(error, "headers", None)
    return parse_retry_after(headers) if hasattr(headers, "items") else None
