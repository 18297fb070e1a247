"""A scriptable OpenAI-compatible HTTP server on 127.0.0.1, for wire tests.

The server runs an asyncio HTTP/1.1 server on its own thread, records every request and answers
chat completions with scripted `Reply` objects (or, by default, by echoing the last user message),
as one JSON body or as an SSE stream depending on the request's ``"stream"`` flag.

Example::

    import openai
    from msgflux.testing.server import LoopbackServer, Reply, ToolCall

    with LoopbackServer() as server:
        server.enqueue(
            Reply.text("Hello world", reasoning="Say hi.", reasoning_field="reasoning"),
            Reply.calls(ToolCall("get_weather", {"city": "Paris"}, id="call_1")),
            Reply.error(429, "slow down", headers={"Retry-After": "1"}),
        )
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        messages = [{"role": "user", "content": "hi"}]
        out = client.chat.completions.create(model="m", messages=messages)
        assert out.choices[0].message.content == "Hello world"
        assert server.last_request.headers["authorization"] == "Bearer k"

To measure a client without sharing its process (and GIL) with the server, run it on its own:
``python -m msgflux.testing.server --port 8000`` serves echo replies (one stream chunk per word of
the last user message) and prints its ``base_url``.

Routes: ``POST /v1/chat/completions`` (any path ending in ``/chat/completions`` is accepted, for
clients with other prefixes), ``GET /v1/models``, ``GET /health``. Anything else is a 404 in
OpenAI's error shape.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import itertools
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Self

import msgspec

from msgflux.testing._protocol import HTTPConnection
from msgflux.testing._recorded import Headers, RecordedRequest
from msgflux.testing._render import Plan, error_body, render
from msgflux.testing._replies import Audio, Reply, ToolCall, Usage, last_user_text

__all__ = [
    "Audio",
    "Headers",
    "LoopbackServer",
    "RecordedRequest",
    "Reply",
    "ToolCall",
    "Usage",
]

logger = logging.getLogger("msgflux.testing")

#: A function choosing the reply to a chat request; may be ``async``; ``None`` means "echo".
Handler = Callable[[RecordedRequest], "Reply | Awaitable[Reply | None] | None"]

_JSON = [("content-type", "application/json")]
_encode = msgspec.json.Encoder().encode


class LoopbackServer:
    """An OpenAI-compatible chat-completions server on 127.0.0.1, scripted by tests.

    Use it as a (sync or async) context manager, or call `start` and `stop`. Everything public is
    thread-safe; replies and handlers run on the server's own event-loop thread.

    Args:
        port: TCP port; ``0`` picks a free one.
        host: Interface to bind.
        models: Model ids listed by ``GET /v1/models``.
        record: Keep every request in `requests` (turn off for long benchmark runs).

    Attributes:
        host: The bound interface.
        port: The bound port (known once started).
        errors: Exceptions raised by handlers or by rendering a bad `Reply` (each was answered
            with a 500 error); assert it is empty to catch mistakes in a test's script.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        models: Sequence[str] = ("loopback-model",),
        record: bool = True,
    ) -> None:
        self.host = host
        self._record = record
        self.port = port
        self._requested_port = port
        self._models_body = _encode(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "msgflux-loopback"}
                    for m in models
                ],
            }
        )
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queue: collections.deque[Reply] = collections.deque()
        self._handler: Handler | None = None
        self._seq = itertools.count(1)
        self.errors: list[BaseException] = []
        self._connections: set[HTTPConnection] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._startup_error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve on a background thread; returns once the port accepts connections.

        Raises:
            RuntimeError: If the server is already running.
            OSError: If the port cannot be bound.
        """
        if self._thread is not None:
            raise RuntimeError("LoopbackServer is already running")
        ready = threading.Event()
        self._startup_error = None
        thread = threading.Thread(
            target=self._run, args=(ready,), name="msgflux-loopback-server", daemon=True
        )
        self._thread = thread
        thread.start()
        ready.wait()
        if self._startup_error is not None:
            thread.join()
            self._thread = None
            raise self._startup_error
        return self

    def stop(self) -> None:
        """Close the listening socket and every connection, and join the server thread.

        Stalled and delayed answers are cancelled. Calling it twice is harmless.
        """
        thread = self._thread
        if thread is None:
            return
        if thread is threading.current_thread():
            raise RuntimeError("LoopbackServer.stop() cannot be called from a handler")
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already finished
                loop.call_soon_threadsafe(_resolve, stopping)
        thread.join()
        self._thread = None
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the ``base_url`` for OpenAI-compatible clients."""
        return f"http://{self.host}:{self.port}/v1"

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this server, e.g. ``url("/health")``."""
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    # -- scripting ---------------------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies; each chat request consumes the oldest one before any handler runs."""
        for reply in replies:
            if not isinstance(reply, Reply):
                raise TypeError(f"enqueue() takes Reply objects, got {reply!r}")
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """How many enqueued replies have not been used yet."""
        with self._lock:
            return len(self._queue)

    def set_handler(self, handler: Handler | None) -> None:
        """Choose replies with ``handler(request)`` when the queue is empty.

        The handler runs on the server thread and must not block; it may be ``async`` (so it can
        ``await asyncio.sleep``). Returning ``None`` falls back to the echo reply. ``None``
        removes the handler.
        """
        self._handler = handler

    # -- recording ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request.

        Raises:
            LookupError: If no request was received yet.
        """
        with self._lock:
            if not self._requests:
                raise LookupError("the loopback server has not received any request yet")
            return self._requests[-1]

    def clear(self) -> None:
        """Forget the recorded requests (queued replies and the handler stay)."""
        with self._lock:
            self._requests.clear()

    def reset(self) -> None:
        """Forget requests, queued replies, the handler and recorded errors."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self.errors.clear()
        self._handler = None

    # -- serving (server thread) -------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:
            if not ready.is_set():
                self._startup_error = exc
                ready.set()
            else:
                logger.exception("loopback server thread failed")

    async def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stopping = loop.create_future()
        connections = self._connections
        server = await loop.create_server(
            lambda: HTTPConnection(self._dispatch, connections),
            self.host,
            self._requested_port,
            backlog=4096,  # many clients connect at once in concurrency tests
            reuse_address=True,
        )
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stopping
        finally:
            server.close()
            for connection in list(connections):
                connection.abort()
            await server.wait_closed()
            # Aborted transports close their sockets in connection_lost, one loop turn later.
            for _ in range(3):
                await asyncio.sleep(0)

    def _dispatch(self, request: RecordedRequest) -> Plan | Awaitable[Plan]:
        if self._record:
            with self._lock:
                self._requests.append(request)
        method, path = request.method, request.path
        if path.endswith("/chat/completions"):
            if method != "POST":
                return _error_plan(405, f"Method not allowed ({method} {path})")
            return self._chat(request)
        if path == "/health" and method == "GET":
            return Plan(200, _JSON, body=b'{"status":"ok"}')
        if path.endswith("/models") and method == "GET":
            return Plan(200, _JSON, body=self._models_body)
        return _error_plan(404, f"Invalid URL ({method} {path})", "invalid_request_error")

    def _chat(self, request: RecordedRequest) -> Plan | Awaitable[Plan]:
        seq = next(self._seq)
        if not isinstance(request.json, dict):
            return _error_plan(400, "could not parse the JSON body of the request")
        with self._lock:
            reply = self._queue.popleft() if self._queue else None
        if reply is None and self._handler is not None:
            try:
                handled = self._handler(request)
            except Exception as exc:
                return self._failed(exc)
            if inspect.isawaitable(handled):
                return self._await_handler(handled, request, seq)
            reply = handled
        return self._render(reply, request, seq)

    async def _await_handler(
        self, pending: Awaitable[Reply | None], request: RecordedRequest, seq: int
    ) -> Plan:
        try:
            reply = await pending
        except Exception as exc:
            return self._failed(exc)
        return self._render(reply, request, seq)

    def _render(self, reply: Reply | None, request: RecordedRequest, seq: int) -> Plan:
        if reply is None:
            reply = Reply(content="echo: " + last_user_text(request.json))
        try:
            if not isinstance(reply, Reply):
                raise TypeError(f"a loopback handler must return a Reply or None, got {reply!r}")
            return render(reply, request.json, seq)
        except Exception as exc:
            return self._failed(exc)

    def _failed(self, exc: Exception) -> Plan:
        with self._lock:
            self.errors.append(exc)
        logger.error("loopback server script failed", exc_info=exc)
        return _error_plan(500, f"loopback server script failed: {exc!r}")


def main(argv: Sequence[str] | None = None) -> None:
    """Serve echo replies until SIGINT/SIGTERM: ``python -m msgflux.testing.server``.

    With ``--rate`` the server admits that many chat requests a second and answers 429
    past it (``msgflux.testing.ratelimit.RateLimiter``); when it stops it prints one JSON
    line of what it admitted and refused.
    """
    import argparse
    import json
    import signal

    parser = argparse.ArgumentParser(
        prog="python -m msgflux.testing.server",
        description="Loopback OpenAI-compatible server answering chat completions with echoes.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--rate", type=float, help="requests a second admitted (token bucket)")
    parser.add_argument("--burst", type=float, help="the bucket's size (default: --rate)")
    parser.add_argument("--retry-after", default="always", choices=["always", "never", "alternate"])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per admitted answer")
    parser.add_argument(
        "--no-limit-headers", action="store_true", help="no x-ratelimit-* headers on answers"
    )
    args = parser.parse_args(argv)
    limiter = None
    if args.rate:
        from msgflux.testing.ratelimit import RateLimiter

        limiter = RateLimiter(
            args.rate,
            args.burst,
            retry_after=args.retry_after,
            latency=args.latency,
            limit_headers=not args.no_limit_headers,
        )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with LoopbackServer(args.port, host=args.host, record=False) as server:
        if limiter is not None:
            server.set_handler(limiter)
        print(server.base_url, flush=True)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
    if limiter is not None:
        stats = {
            "admitted": limiter.admitted,
            "refused": limiter.refused,
            "refused_with_retry_after": limiter.refused_with_retry_after,
            "duplicates": len(limiter.duplicates()),
            "admitted_rate": limiter.admitted_rate(),
        }
        print(json.dumps(stats), flush=True)


def _error_plan(status: int, message: str, type_: str | None = None) -> Plan:
    return Plan(status, _JSON, body=error_body(status, message, type_))


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


if __name__ == "__main__":
    main()
