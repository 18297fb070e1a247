"""The asyncio transport: a protocol per connection, one connection pool per event loop.

Each connection is an :class:`asyncio.Protocol` whose ``data_received`` feeds the response
parser directly and wakes the waiting task only when there is something for it: the head,
the whole response for a plain request, or a batch of body bytes for a stream (every event
that arrived in one read is handed over at once: one loop wake-up per network read, not
per event).

Timeouts: one timer per wait. The read limit is a gap between bytes, so the timer, when it
fires, measures from the last ``data_received`` and sleeps again if bytes arrived
meanwhile: a trickling server is not cut off, a stalled one is, and the cost per received
packet is one clock read.

A request is written once: an idle pooled connection that the server closed (or wrote
to) is discarded before use, and nothing is resent after the request was written.

Event loops: asyncio connections belong to the loop that opened them, yet one client may
be used from several loops in its life (each pytest test has its own loop;
``asyncio.run`` may be called twice). So pools are kept per loop, created on the first
request made from a loop. Each pool registers a tiny async generator with its loop;
``asyncio.run``, ``asyncio.Runner`` (and so pytest-asyncio) finalize async generators
before closing the loop, which closes that pool's connections while the loop can still
run their cleanup. A loop closed by hand without that step is noticed the next time the
client is used from another loop, or when it is closed, and its sockets are closed then.
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from msgflux.errors import MsgfluxError
from msgflux.http._config import Budget, Config
from msgflux.http._parser import ContentDecodingError, HTTPProtocolError, ResponseParser
from msgflux.http._proxy import connect_request
from msgflux.http._response import Response
from msgflux.http._sse import ServerSentEvent, SSEReader
from msgflux.http._timeout import Timeout

__all__ = ["AsyncEventStream", "AsyncTransport"]

_get_running_loop = asyncio.get_running_loop
_monotonic = time.monotonic
_HEAD, _FULL, _BODY = 0, 1, 2  # what wakes the waiting task: head, whole response, body bytes
_HIGH_WATER = 1024 * 1024  # unread stream bytes before we stop reading from the socket


class _Connection(asyncio.Protocol):
    """One connection and the response being read on it."""

    __slots__ = (
        "buffered",
        "error",
        "last",
        "lost",
        "mode",
        "parser",
        "paused",
        "poller",
        "pool",
        "sock",
        "timer",
        "transport",
        "waiter",
    )

    def __init__(self, pool: _Pool, sock: socket.socket) -> None:
        self.pool = pool
        self.sock = sock
        # Readiness of the raw socket while idle: readable means EOF, stray bytes or a TLS
        # close_notify (a FIN may not have reached the protocol yet). A poll consumes nothing.
        self.poller = select.poll()
        self.poller.register(sock.fileno(), select.POLLIN)
        self.transport: Any = None
        self.parser: ResponseParser | None = None
        self.waiter: asyncio.Future[str | None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.mode = _FULL
        self.error: BaseException | None = None
        self.lost = False
        self.paused = False
        self.buffered = 0
        self.last = 0.0

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
        self.last = _monotonic()
        try:
            parser.feed(data)
        except (HTTPProtocolError, ContentDecodingError) as exc:
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
            waiter.set_result(None)

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

    async def wait(
        self, budget: Budget, connect_until: float | None = None, *, connecting: bool = False
    ) -> str | None:
        """Wait until :meth:`satisfied`; return the phase that ran out, or None.

        Args:
            budget: The attempt's limits (read gap from the last received byte,
                first_token and total deadlines).
            connect_until: The connect deadline, used instead of the read limits when
                ``connecting`` (a proxy tunnel).
            connecting: Whether this wait is part of opening the connection.
        """
        if self.satisfied():
            return None
        loop = self.pool.loop
        waiter: asyncio.Future[str | None] = loop.create_future()
        self.waiter = waiter
        self.last = _monotonic()  # the gap counts from when we start waiting at the earliest
        self._arm(loop, budget, connect_until, connecting)
        try:
            return await waiter
        finally:
            self.waiter = None
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None

    def _arm(
        self,
        loop: asyncio.AbstractEventLoop,
        budget: Budget,
        connect_until: float | None,
        connecting: bool,
    ) -> None:
        """(Re)start the timer for what is left; expire the wait when nothing is."""
        self.timer = None
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if connecting:
            wait, phase = budget.connect_wait(connect_until)
        else:
            wait, phase = budget.read_wait(self.last)  # bytes since the last check reset it
        if wait is None:
            return
        if wait <= 0:
            waiter.set_result(phase)
            return
        self.timer = loop.call_at(
            loop.time() + wait, self._arm, loop, budget, connect_until, connecting
        )

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


async def _sentinel(pool: _Pool) -> AsyncGenerator[None, None]:
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
    """The connections of one transport on one event loop."""

    def __init__(self, config: Config, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.loop = loop
        self.idle: deque[_Connection] = deque()
        self.open: set[_Connection] = set()
        self.active = 0
        self.waiters: deque[asyncio.Future[bool]] = deque()
        self.closed = False
        self.sentinel: Any = None

    async def start_sentinel(self) -> None:
        if self.sentinel is None:
            gen = _sentinel(self)
            self.sentinel = gen
            await gen.asend(None)

    async def acquire(self, budget: Budget) -> _Connection:
        if self.closed:
            raise RuntimeError("this msgflux HTTP client was closed")
        until = budget.connect_deadline()
        if self.active >= self.config.max_connections:
            await self._wait_slot(budget, until)
        else:
            self.active += 1
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.lost and not conn.poller.poll(0):
                return conn
            # Closed by the server while idle (its FIN may not have reached our protocol
            # yet): nothing was written to it, so another connection may take its place.
            conn.abort()
        try:
            return await self._connect(budget, until)
        except BaseException:
            self._release_slot()
            raise

    async def _wait_slot(self, budget: Budget, until: float | None) -> None:
        """Wait until a request ends and hands its connection slot to us."""
        loop = self.loop
        waiter: asyncio.Future[bool] = loop.create_future()
        self.waiters.append(waiter)
        wait, phase = budget.connect_wait(until)
        handle = loop.call_later(max(wait, 0), _expire, waiter) if wait is not None else None
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
            raise self.config.timeout_error(phase, budget, "waiting for a free connection")

    def _release_slot(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)  # the slot passes to that waiter
                return
        self.active -= 1

    async def _connect(self, budget: Budget, until: float | None) -> _Connection:
        config = self.config
        wait, phase = budget.connect_wait(until)
        try:
            if wait is None:
                conn = await self._open()
            else:
                conn = await asyncio.wait_for(self._open(), max(wait, 0))
        except TimeoutError as exc:
            raise config.timeout_error(phase, budget, "connecting") from exc
        except OSError as exc:
            raise config.connection_error(exc, "connecting to") from exc
        try:
            if config.tunnel:
                await self._tunnel(conn, budget, until)
            if config.endpoint.tls:
                await self._start_tls(conn, budget, until)
        except BaseException:
            conn.abort()
            raise
        return conn

    async def _open(self) -> _Connection:
        host, port = self.config.address
        loop = self.loop
        infos = _literal_address(host, port)
        if infos is None:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
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
            raise error or OSError(f"no address for {host!r}")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Connection(self, sock)
        try:
            await loop.create_connection(lambda: conn, sock=sock)
        except BaseException:
            sock.close()
            raise
        self.open.add(conn)
        return conn

    async def _tunnel(self, conn: _Connection, budget: Budget, until: float | None) -> None:
        """Ask the proxy for a tunnel (``CONNECT``) and wait for its 2xx."""
        config = self.config
        assert config.proxy is not None
        parser = ResponseParser()
        conn.parser = parser
        conn.mode = _HEAD
        conn.transport.write(connect_request(config.endpoint, config.proxy))
        phase = await conn.wait(budget, until, connecting=True)
        conn.parser = None
        if phase is not None:
            raise config.timeout_error(phase, budget, "opening a tunnel through the proxy")
        error = conn.error
        if error is None and not parser.head_done:
            error = HTTPProtocolError("the proxy closed the connection")
        elif error is None and not 200 <= parser.status < 300:
            error = HTTPProtocolError(
                f"the proxy refused the tunnel: HTTP {parser.status} {parser.reason}".rstrip()
            )
        elif error is None and parser.has_body:
            error = HTTPProtocolError("the proxy sent data after accepting the tunnel")
        if error is not None:
            raise config.connection_error(error, "opening a tunnel through the proxy to") from error

    async def _start_tls(self, conn: _Connection, budget: Budget, until: float | None) -> None:
        config = self.config
        wait, phase = budget.connect_wait(until)
        start = self.loop.start_tls(
            conn.transport,
            conn,
            config.ssl_context(),
            server_hostname=config.endpoint.host,
        )
        try:
            transport = await (start if wait is None else asyncio.wait_for(start, max(wait, 0)))
        except TimeoutError as exc:
            raise config.timeout_error(phase, budget, "TLS handshake") from exc
        except (OSError, ConnectionError) as exc:
            raise config.connection_error(exc, "TLS handshake with") from exc
        conn.transport = transport

    def release(self, conn: _Connection, reusable: bool) -> None:
        conn.parser = None
        conn.error = None
        if reusable and not conn.lost and not self.closed:
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


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


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


class AsyncTransport:
    """The asyncio half of :class:`msgflux.http.Client`: one pool per event loop."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._pools: dict[asyncio.AbstractEventLoop, _Pool] = {}
        self._lock = threading.Lock()

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

        The transport stays usable: a later request opens new connections.
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

    async def _current_pool(self) -> _Pool:
        loop = _get_running_loop()
        pool = self._pools.get(loop)
        if pool is None or pool.closed:
            pool = self._pool(loop)
        if pool.sentinel is None:
            await pool.start_sentinel()
        return pool

    async def request(self, request: bytes, timeout: Timeout) -> Response:
        """Send ``request`` and read the whole response."""
        budget = Budget(timeout)
        pool = await self._current_pool()
        conn = await self._exchange(pool, request, budget, _FULL)
        parser = conn.parser
        assert parser is not None
        try:
            body = parser.take_body()
        except ContentDecodingError as exc:
            pool.release(conn, False)
            raise self._config.failure(exc, "reading the response from") from exc
        pool.release(conn, parser.keep_alive)
        return Response(parser.status, parser.headers, body)

    async def stream(self, request: bytes, timeout: Timeout) -> AsyncEventStream:
        """Send ``request`` and return once the response head has arrived."""
        budget = Budget(timeout, stream=True)
        pool = await self._current_pool()
        conn = await self._exchange(pool, request, budget, _HEAD)
        parser = conn.parser
        assert parser is not None
        return AsyncEventStream(self._config, pool, conn, parser, budget)

    async def _exchange(
        self, pool: _Pool, request: bytes, budget: Budget, mode: int
    ) -> _Connection:
        """Write the request once; wait for the head (``_HEAD``) or whole response."""
        config = self._config
        conn = await pool.acquire(budget)
        parser = ResponseParser()
        conn.parser = parser
        conn.mode = mode
        what = "waiting for the response" if mode == _HEAD else "reading the response"
        try:
            conn.transport.write(request)
            while True:
                phase = await conn.wait(budget)
                if phase is not None:
                    raise config.timeout_error(phase, budget, what)
                error = conn.error
                lost_early = conn.lost and not parser.done
                if error is None and lost_early and (mode == _FULL or not parser.head_done):
                    error = HTTPProtocolError("the server closed the connection")
                if error is not None:
                    raise config.failure(error, "request to") from error
                if parser.done or (mode == _HEAD and parser.head_done):
                    return conn
        except BaseException:
            pool.release(conn, False)
            raise


class AsyncEventStream:
    """The server-sent events of one streamed response, for ``async for``.

    ``async for event in stream``, or :meth:`next_batch` for one list per network read.
    A stream read to its end gives its connection back by itself; otherwise ``await
    stream.aclose()`` (or use ``async with``).

    Attributes:
        status: The HTTP status.
        headers: Response headers (lower-case names).
        request_id: The provider's request id, if it sent one.
    """

    def __init__(
        self,
        config: Config,
        pool: _Pool,
        conn: _Connection,
        parser: ResponseParser,
        budget: Budget,
    ) -> None:
        self._config = config
        self._pool = pool
        self._conn: _Connection | None = conn
        self._parser = parser
        self._budget = budget
        self._reader = SSEReader()
        self._ready: deque[ServerSentEvent] = deque()
        self._failure: BaseException | None = None
        self._closed = False
        self._started = False
        self.status = parser.status
        self.headers = parser.headers
        self.request_id = parser.headers.get("x-request-id") or parser.headers.get("request-id")
        conn.mode = _BODY

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> ServerSentEvent:
        ready = self._ready
        if not ready:
            batch = await self.next_batch()
            if not batch:
                raise StopAsyncIteration
            ready.extend(batch)
        return ready.popleft()

    async def next_batch(self) -> list[ServerSentEvent]:
        """The events completed by the next network read(s); ``[]`` once the stream ended.

        Raises:
            msgflux.errors.RequestTimeoutError: A read, ``first_token`` or ``total`` limit ran out.
            msgflux.errors.ProviderConnectionError: The connection broke or the framing is bad.
            msgflux.errors.ResponseDecodeError: A malformed event line or compressed body.
        """
        if self._ready:
            batch = list(self._ready)
            self._ready.clear()
            return batch
        while True:
            failure = self._failure
            if failure is not None:
                self._failure = None
                raise failure
            events = await self._read()
            if events is None:
                return []
            if events:
                return events

    async def _body(self, what: str) -> bytes | None:
        """Wait for body bytes (None once the stream is closed or the body ended)."""
        conn = self._conn
        parser = self._parser
        if self._closed or conn is None:
            return None
        while not parser.has_body and not parser.done:
            if conn.error is not None:
                error = conn.error
                self._release(False)
                raise self._config.failure(error, what) from error
            if conn.lost:
                self._release(False)
                error = HTTPProtocolError("the server closed the connection")
                raise self._config.failure(error, what) from error
            phase = await conn.wait(self._budget)
            if self._closed:
                return None
            if phase is not None:
                self._release(False)
                raise self._config.timeout_error(phase, self._budget, self._what())
        try:
            body = parser.take_body()
        except ContentDecodingError as exc:
            self._release(False)
            raise self._config.failure(exc, what) from exc
        conn.taken()
        return body

    def _what(self) -> str:
        return (
            "waiting for the next stream event"
            if self._started
            else "waiting for the first stream event"
        )

    async def _read(self) -> list[ServerSentEvent] | None:
        body = await self._body("reading the stream from")
        if body is None:
            return None
        parser = self._parser
        reader = self._reader
        events = reader.feed(body) if body else []
        if parser.done:
            events.extend(reader.finish())
        if reader.failure is not None:
            self._release(False)
            if not events:
                raise reader.failure
            self._failure = reader.failure
            return events
        if events and not self._started:
            self._started = True
            self._budget.established()
        if parser.done:
            conn = self._conn
            self._release(parser.keep_alive and conn is not None and not conn.lost)
            return events or None
        return events

    async def read(self) -> bytes:
        """Read the rest of the body as bytes (for an answer that is not an event stream)."""
        parts: list[bytes] = []
        while True:
            body = await self._body("reading the response from")
            if body is None:
                break
            parts.append(body)
            if self._parser.done:
                conn = self._conn
                self._release(self._parser.keep_alive and conn is not None and not conn.lost)
                break
        return b"".join(parts)

    async def finish(self, grace: float = 1.0) -> None:
        """The consumer has what it wants: let the body end, then release the connection.

        Same contract as :meth:`msgflux.http.EventStream.finish`.
        """
        self._budget = Budget(Timeout(read=min(grace, self._budget.read or grace)))
        try:
            while await self._body("reading the stream from") is not None:
                if self._parser.done:
                    break
        except MsgfluxError:
            return
        conn = self._conn
        parser = self._parser
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

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def batches(self) -> AsyncIterator[list[ServerSentEvent]]:
        """Yield :meth:`next_batch` lists until the stream ends."""
        while True:
            batch = await self.next_batch()
            if not batch:
                return
            yield batch

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
