"""The asyncio client: a protocol per connection, one connection pool per event loop.

Each connection is an :class:`asyncio.Protocol` whose ``data_received`` feeds the
incremental HTTP parser directly, and wakes the waiting task only when there is something
for it: the whole response for a plain request, or a batch of body bytes for a stream
(every SSE event that arrived in one read is decoded in one go, so a stream costs one
loop wake-up per network read, not per chunk).

Event loops: asyncio connections belong to the loop that opened them, yet one model
object may be used from several loops in its life (each pytest test has its own loop;
``asyncio.run`` may be called twice). So pools are kept per loop, created lazily on the
first request made from a loop. Each pool registers a tiny async generator with its loop;
``asyncio.run``, ``asyncio.Runner`` (and so pytest-asyncio) finalize async generators
before closing the loop, which closes that pool's connections while the loop can still
run their cleanup. A loop closed by hand without that step is noticed the next time the
client is used from another loop, or when it is closed, and its sockets are closed then.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from msgflux.utils.rate_limits import rate_limit_headers
from msgflux_openai.transport._base import (
    Config,
    StreamDecoder,
    Timeouts,
    decode_completion,
    prepare,
    raise_for_status,
    stream_content_error,
)
from msgflux_openai.transport._http11 import HTTPProtocolError, ResponseParser
from msgflux_openai.transport.structs import ChatCompletion, ChatCompletionChunk

__all__ = ["AsyncClient", "AsyncStream"]

_get_running_loop = asyncio.get_running_loop
_HEAD, _FULL, _BODY = 0, 1, 2  # what wakes the waiting task: head, whole response, body bytes
_HIGH_WATER = 1024 * 1024  # unread stream bytes before we stop reading from the socket
_DRAIN_AFTER_DONE = 1.0


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(False)


class _Connection(asyncio.Protocol):
    """One connection and the response being read on it."""

    __slots__ = (
        "buffered",
        "error",
        "lost",
        "mode",
        "parser",
        "paused",
        "pool",
        "received",
        "reused",
        "sock",
        "transport",
        "waiter",
    )

    def __init__(self, pool: _Pool, sock: socket.socket) -> None:
        self.pool = pool
        self.sock = sock
        self.transport: Any = None
        self.parser: ResponseParser | None = None
        self.waiter: asyncio.Future | None = None
        self.mode = _FULL
        self.error: BaseException | None = None
        self.lost = False
        self.reused = False
        self.received = False
        self.paused = False
        self.buffered = 0

    # -- asyncio callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:
            # Bytes on an idle keep-alive connection: it cannot serve another request.
            self.lost = True
            self.transport.close()
            return
        self.received = True
        try:
            parser.feed(data)
        except HTTPProtocolError as exc:
            self.error = exc
            self._wake()
            return
        mode = self.mode
        if mode == _BODY:
            self.buffered += len(data)
            if self.buffered > _HIGH_WATER and not self.paused:
                self.paused = True
                self.transport.pause_reading()
            if parser.has_body or parser.done:
                self._wake()
        elif parser.done or (mode == _HEAD and parser.head_done):
            self._wake()

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)
        self.pool.forget(self)

    # -- helpers -----------------------------------------------------------------------

    def _ended(self, exc: BaseException | None) -> None:
        self.lost = True
        parser = self.parser
        if parser is not None and self.error is None:
            try:
                parser.feed_eof()
            except HTTPProtocolError as eof_error:
                self.error = exc or eof_error
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def satisfied(self) -> bool:
        parser = self.parser
        if self.error is not None or self.lost or parser is None:
            return True
        if parser.done:
            return True
        if self.mode == _HEAD:
            return parser.head_done
        if self.mode == _BODY:
            return parser.has_body
        return False

    async def wait(self, timeout: float | None) -> bool:
        """Wait until :meth:`satisfied`; return False on timeout."""
        if self.satisfied():
            return True
        loop = self.pool.loop
        waiter = loop.create_future()
        self.waiter = waiter
        handle = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            return await waiter
        finally:
            self.waiter = None
            if handle is not None:
                handle.cancel()

    def taken(self) -> None:
        """The consumer took the buffered body: resume reading if we had paused."""
        self.buffered = 0
        if self.paused:
            self.paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        self.lost = True
        transport = self.transport
        if transport is not None:
            transport.abort()


async def _sentinel(pool: _Pool) -> AsyncIterator[None]:
    """Registered with the loop as an async generator: finalized when the loop shuts down."""
    try:
        yield
    finally:
        pool.shutdown()


def _finish_sentinel(gen: Any) -> None:
    """Run a sentinel's ``finally`` now (synchronously), so it is never finalized later."""
    closer = gen.aclose()
    try:
        closer.send(None)
    except StopIteration:
        pass
    except RuntimeError:  # already running or closed from the loop's own thread
        closer.close()


class _Pool:
    """The connections of one client on one event loop."""

    def __init__(self, config: Config, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.loop = loop
        self.idle: deque[_Connection] = deque()
        self.open: set[_Connection] = set()
        self.active = 0
        self.waiters: deque[asyncio.Future] = deque()
        self.closed = False
        self.sentinel: Any = None

    async def start_sentinel(self) -> None:
        if self.sentinel is None:
            gen = _sentinel(self)
            self.sentinel = gen
            await gen.asend(None)

    async def acquire(self, timeouts: Timeouts) -> _Connection:
        if self.closed:
            raise RuntimeError("this msgflux client was closed")
        if self.active >= self.config.max_connections:
            await self._wait_slot(timeouts)
        else:
            self.active += 1
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.lost:
                return conn
        try:
            return await self._connect(timeouts)
        except BaseException:
            self._release_slot()
            raise

    async def _wait_slot(self, timeouts: Timeouts) -> None:
        """Wait until a request ends and hands its connection slot to us."""
        loop = self.loop
        waiter = loop.create_future()
        self.waiters.append(waiter)
        limit = timeouts.connect
        handle = loop.call_later(limit, _expire, waiter) if limit is not None else None
        try:
            handed = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self._release_slot()  # handed the slot, but cancelled before using it
            raise
        finally:
            if handle is not None:
                handle.cancel()
        if not handed:
            raise self.config.timeout_error(timeouts, "waiting for a free connection")

    def _release_slot(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)  # the slot passes to that waiter
                return
        self.active -= 1

    async def _connect(self, timeouts: Timeouts) -> _Connection:
        config = self.config
        try:
            if timeouts.connect is None:
                return await self._open()
            return await asyncio.wait_for(self._open(), timeouts.connect)
        except TimeoutError as exc:
            raise config.timeout_error(timeouts, "connecting") from exc
        except OSError as exc:
            raise config.connection_error(exc, "connecting to") from exc

    async def _open(self) -> _Connection:
        endpoint = self.config.endpoint
        loop = self.loop
        infos = _literal_address(endpoint.host, endpoint.port)
        if infos is None:
            infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
        error: OSError | None = None
        for family, type_, proto, _, address in infos:
            sock = socket.socket(family, type_, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            break
        else:
            raise error or OSError(f"no address for {endpoint.host!r}")
        conn = _Connection(self, sock)
        try:
            if endpoint.tls:
                await loop.create_connection(
                    lambda: conn,
                    sock=sock,
                    ssl=self.config.ssl_context(),
                    server_hostname=endpoint.host,
                )
            else:
                await loop.create_connection(lambda: conn, sock=sock)
        except BaseException:
            sock.close()
            raise
        self.open.add(conn)
        return conn

    def release(self, conn: _Connection, reusable: bool) -> None:
        conn.parser = None
        conn.error = None
        conn.received = False
        if reusable and not conn.lost and not self.closed:
            conn.reused = True
            self.idle.append(conn)
        else:
            conn.abort()
        self._release_slot()

    def forget(self, conn: _Connection) -> None:
        """A connection is gone (closed by either side)."""
        self.open.discard(conn)
        if conn.parser is None:
            try:
                self.idle.remove(conn)
            except ValueError:
                pass

    def shutdown(self) -> None:
        """Close every connection, from whatever thread, whatever the loop's state."""
        if self.closed:
            return
        self.closed = True
        loop = self.loop
        if loop.is_closed():
            self._close_sockets()
            return
        try:
            running = _get_running_loop()
        except RuntimeError:
            running = None
        if running is loop or not loop.is_running():
            self._abort_all()
        else:
            try:
                loop.call_soon_threadsafe(self._abort_all)
            except RuntimeError:  # closed meanwhile
                self._close_sockets()

    def _abort_all(self) -> None:
        self.idle.clear()
        for conn in list(self.open):
            try:
                conn.abort()
            except RuntimeError:  # the loop closed under us
                conn.sock.close()
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(False)

    def _close_sockets(self) -> None:
        # The loop is closed: its transports can no longer run their cleanup, so close the
        # sockets directly (asyncio may still warn about those transports when collected).
        self.idle.clear()
        for conn in list(self.open):
            conn.sock.close()
        self.open.clear()


def _literal_address(host: str, port: int) -> list[tuple[Any, ...]] | None:
    """Address info for an IP literal without a resolver call (and without a thread)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        address = (host, port) if family == socket.AF_INET else (host, port, 0, 0)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)]
    return None


class AsyncClient:
    """Asyncio client with the ``openai`` SDK's ``chat.completions.create`` shape.

    Usable from any number of event loops (one pool each) and threads.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._pools: dict[asyncio.AbstractEventLoop, _Pool] = {}
        self._lock = threading.Lock()
        self.chat = _Chat(self)

    def _pool(self, loop: asyncio.AbstractEventLoop) -> _Pool:
        with self._lock:
            pool = self._pools.get(loop)
            if pool is None or pool.closed:
                for other, stale in list(self._pools.items()):
                    if other.is_closed() or stale.closed:
                        del self._pools[other]
                        self._retire(stale)
                pool = self._pools[loop] = _Pool(self._config, loop)
            return pool

    @staticmethod
    def _retire(pool: _Pool) -> None:
        if pool.sentinel is not None:
            _finish_sentinel(pool.sentinel)
        else:
            pool.shutdown()

    def close(self) -> None:
        """Close every pool's connections (callable from any thread or loop).

        The client stays usable: a later request opens new connections (so a model can be
        closed at the end of one event loop and used again from the next).
        """
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            self._retire(pool)

    async def aclose(self) -> None:
        """:meth:`close`, then one loop turn so that this loop's sockets are really closed."""
        self.close()
        await asyncio.sleep(0)

    async def _create(self, params: dict[str, Any]) -> ChatCompletion | AsyncStream:
        config = self._config
        request, stream, timeouts = prepare(config, params)
        loop = _get_running_loop()
        pool = self._pools.get(loop)
        if pool is None or pool.closed:
            pool = self._pool(loop)
        if pool.sentinel is None:
            await pool.start_sentinel()
        conn = await self._exchange(pool, request, stream, timeouts)
        parser = conn.parser
        assert parser is not None
        try:
            headers = parser.headers
            ok = 200 <= parser.status < 300
            if stream and ok and not headers.get("content-type", "").startswith("application/json"):
                sse = AsyncStream(config, pool, conn, parser, timeouts)
                conn = None
                return sse
            if not parser.done:
                conn.mode = _FULL
                while not parser.done:
                    await self._wait(conn, timeouts, "reading the response from")
            body = parser.take_body()
            reusable = parser.keep_alive
        except BaseException:
            if conn is not None:
                pool.release(conn, False)
            raise
        pool.release(conn, reusable)
        if not ok:
            raise_for_status(config, parser.status, parser.reason, headers, body)
        if stream:
            raise stream_content_error(config, headers, body)
        return decode_completion(config, body, headers)

    async def _wait(self, conn: _Connection, timeouts: Timeouts, what: str) -> None:
        if not await conn.wait(timeouts.read):
            raise self._config.timeout_error(timeouts, "waiting for the response")
        if conn.error is not None:
            raise self._config.connection_error(conn.error, what) from conn.error

    async def _exchange(
        self, pool: _Pool, request: bytes, stream: bool, timeouts: Timeouts
    ) -> _Connection:
        """Send the request and wait for the head (stream) or whole response.

        As in the sync client, a reused connection that turns out closed before any
        response byte is replaced by a new one (see ``_sync.SyncClient._exchange``).
        """
        config = self._config
        for attempt in range(2):  # a stale pooled connection gets one fresh resend, no more
            conn = await pool.acquire(timeouts)
            parser = ResponseParser()
            conn.parser = parser
            conn.mode = _HEAD if stream else _FULL
            try:
                conn.transport.write(request)
                ready = await conn.wait(timeouts.read)
            except BaseException:
                pool.release(conn, False)
                raise
            if not ready:
                pool.release(conn, False)
                raise config.timeout_error(timeouts, "waiting for the response")
            if conn.error is not None or (conn.lost and not parser.head_done):
                error = conn.error or HTTPProtocolError("server closed the connection")
                retry = conn.reused and not conn.received and attempt < 1
                pool.release(conn, False)
                if retry:
                    continue
                raise config.connection_error(error, "request to") from error
            return conn
        raise AssertionError("unreachable")  # pragma: no cover


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

    def __init__(
        self,
        config: Config,
        pool: _Pool,
        conn: _Connection,
        parser: ResponseParser,
        timeouts: Timeouts,
    ) -> None:
        self._config = config
        self._pool = pool
        self._conn: _Connection | None = conn
        self._parser = parser
        self._timeouts = timeouts
        self._decoder = StreamDecoder(config.provider, parser.headers)
        self._ready: deque[ChatCompletionChunk] = deque()
        self._closed = False
        self.status = parser.status
        self.headers = parser.headers
        self.request_id = parser.headers.get("x-request-id") or parser.headers.get("request-id")
        self.rate_limit = rate_limit_headers(parser.headers)
        conn.mode = _BODY
        self._take()

    def _take(self) -> None:
        conn = self._conn
        parser = self._parser
        if parser.has_body:
            self._ready.extend(self._decoder.feed(parser.take_body()))
        if conn is not None:
            conn.taken()

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        ready = self._ready
        if ready:
            return ready.popleft()
        while not ready:
            if await self._fill():
                break
        if ready:
            return ready.popleft()
        raise StopAsyncIteration

    async def batches(self) -> AsyncIterator[list[ChatCompletionChunk]]:
        """Yield the chunks in lists, one list per network read that completed any."""
        ready = self._ready
        while True:
            if ready:
                batch = list(ready)
                ready.clear()
                yield batch
                continue
            if await self._fill() and not ready:
                return

    async def _fill(self) -> bool:
        """Make progress; return True when the stream has nothing more to give."""
        decoder = self._decoder
        if decoder.failure is not None:
            failure = decoder.failure
            decoder.failure = None
            self._release(False)
            raise failure
        conn = self._conn
        if self._closed or conn is None:
            return True
        parser = self._parser
        if parser.has_body:
            self._take()
            return False
        if decoder.done or parser.done:
            if not decoder.done:
                self._ready.extend(decoder.finish())
                if decoder.failure is not None:
                    return False
            await self._finish()
            return True
        if conn.error is not None:
            error = conn.error
            self._release(False)
            raise self._config.connection_error(error, "reading the stream from") from error
        if not await conn.wait(self._timeouts.read):
            self._release(False)
            raise self._config.timeout_error(self._timeouts, "waiting for the next stream chunk")
        return False

    async def _finish(self) -> None:
        """``[DONE]`` or the end of the body: release the connection, reusable if clean."""
        conn = self._conn
        parser = self._parser
        if conn is not None and not parser.done and parser.keep_alive:
            # Let the end of the body arrive so the connection can be reused; never hang.
            conn.mode = _BODY
            limit = min(_DRAIN_AFTER_DONE, self._timeouts.read or _DRAIN_AFTER_DONE)
            while not parser.done and conn.error is None and not conn.lost:
                parser.take_body()
                conn.taken()
                if not await conn.wait(limit):
                    break
        self._release(parser.done and parser.keep_alive and conn is not None and not conn.lost)

    def _release(self, reusable: bool) -> None:
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn._wake()  # a reader blocked in another task returns and sees us closed
            self._pool.release(conn, reusable)

    async def aclose(self) -> None:
        """Stop the stream and release its connection (idempotent)."""
        self._ready.clear()
        self._release(False)

    close = aclose

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is None:
            return
        pool = self._pool
        loop = pool.loop
        self._conn = None
        if loop.is_closed():
            conn.sock.close()
            return
        try:
            running = _get_running_loop()
        except RuntimeError:
            running = None
        if running is loop or not loop.is_running():
            pool.release(conn, False)
        else:
            loop.call_soon_threadsafe(pool.release, conn, False)


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
