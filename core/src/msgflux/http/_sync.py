"""The blocking transport: keep-alive sockets, one request per connection at a time.

Thread-safe: any number of threads share one pool; a request takes an idle connection
(or opens one) and gives it back when its response has been read. At most
``max_connections`` connections are open at once; a request finding none free waits up to
the connect timeout.

A request is written once. An idle pooled connection is checked before use (a readable
idle socket means the server closed it, or sent bytes nobody asked for) and replaced if
so; once the request has been written, any failure is raised, and only the caller's retry
policy may send it again.

Closing a stream from another thread (:meth:`EventStream.close`): a thread blocked in
``recv`` is not woken by closing the file descriptor, so ``close`` calls
``shutdown(SHUT_RDWR)`` on it, which makes the blocked ``recv`` return at once; the reading
thread then sees the stream closed and closes the socket itself. A small lock orders the
two so that the descriptor is never closed while a ``recv`` may still use it.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from collections import deque
from collections.abc import Iterator

from msgflux.errors import MsgfluxError, RequestTimeoutError
from msgflux.http._config import Budget, Config
from msgflux.http._parser import ContentDecodingError, HTTPProtocolError, ResponseParser
from msgflux.http._proxy import connect_request
from msgflux.http._response import Response
from msgflux.http._sse import ServerSentEvent, SSEReader
from msgflux.http._timeout import Timeout

__all__ = ["EventStream", "SyncTransport"]

_RECV = 256 * 1024
_raw_shutdown = socket.socket.shutdown  # bypasses SSLSocket.shutdown, which drops its state
_BROKEN = (OSError, HTTPProtocolError, ContentDecodingError)


class _Connection:
    """One socket, its readiness poller and the timeout it was last given."""

    __slots__ = ("poller", "sock", "timeout")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.timeout: float | None = -1.0
        self.poller = select.poll()
        self.poller.register(sock.fileno(), select.POLLIN)

    def set_timeout(self, timeout: float | None) -> None:
        if timeout != self.timeout:
            self.sock.settimeout(timeout)
            self.timeout = timeout

    def idle_ok(self) -> bool:
        """False when the server closed (or wrote to) this idle connection."""
        return not self.poller.poll(0)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _recv(config: Config, conn: _Connection, budget: Budget, what: str) -> bytes:
    """One read, bounded by the budget's current limit."""
    wait, phase = budget.read_wait()
    if wait is not None and wait <= 0:
        raise config.timeout_error(phase, budget, what)
    conn.set_timeout(wait)
    try:
        return conn.sock.recv(_RECV)
    except TimeoutError as exc:
        raise config.timeout_error(phase, budget, what) from exc


class _Pool:
    """Idle connections (LIFO, so the warmest socket is reused) and the connection cap."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._idle: deque[_Connection] = deque()
        # A counter under a C-level lock: threading.Semaphore is pure Python and costs more
        # than the rest of a pooled request's bookkeeping together.
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)
        self._active = 0
        self._waiting = 0
        self._max = config.max_connections
        self._closed = False
        self._pid = os.getpid()

    def acquire(self, budget: Budget) -> _Connection:
        if self._closed:
            raise RuntimeError("this msgflux HTTP client was closed")
        if self._pid != os.getpid():
            self._after_fork()
        until = budget.connect_deadline()
        wait, phase = budget.connect_wait(until)
        if not self._take_slot(wait):
            raise self._config.timeout_error(phase, budget, "waiting for a free connection")
        idle = self._idle
        while idle:
            try:
                conn = idle.pop()
            except IndexError:
                break
            if conn.idle_ok():
                return conn
            conn.close()  # closed by the server while idle: nothing was written to it
        try:
            return self._connect(budget, until)
        except BaseException:
            self._give_slot()
            raise

    def _after_fork(self) -> None:
        """In a forked child, never share the parent's connections (their bytes would mix)."""
        self._pid = os.getpid()
        inherited, self._idle = self._idle, deque()
        for conn in inherited:
            conn.close()  # our copy only: the parent's connection stays open for the parent
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)
        self._active = 0
        self._waiting = 0

    def _take_slot(self, timeout: float | None) -> bool:
        with self._lock:
            if self._active < self._max:
                self._active += 1
                return True
            if timeout is not None and timeout <= 0:
                return False
            self._waiting += 1
            try:
                if not self._free.wait_for(lambda: self._active < self._max, timeout):
                    return False
            finally:
                self._waiting -= 1
            self._active += 1
            return True

    def _give_slot(self) -> None:
        with self._lock:
            self._active -= 1
            if self._waiting:
                self._free.notify()

    def _connect(self, budget: Budget, until: float | None) -> _Connection:
        config = self._config
        endpoint = config.endpoint
        wait, phase = budget.connect_wait(until)
        if wait is not None and wait <= 0:
            raise config.timeout_error(phase, budget, "connecting")
        try:
            sock = socket.create_connection(config.address, wait)
        except TimeoutError as exc:
            raise config.timeout_error(phase, budget, "connecting") from exc
        except OSError as exc:
            raise config.connection_error(exc, "connecting to") from exc
        step = "connecting to"
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if config.tunnel:
                step = "opening a tunnel through the proxy to"
                self._tunnel(sock, budget, until)
            if endpoint.tls:
                step = "TLS handshake with"
                wait, phase = budget.connect_wait(until)
                if wait is not None and wait <= 0:
                    raise TimeoutError
                sock.settimeout(wait)
                sock = config.ssl_context().wrap_socket(sock, server_hostname=endpoint.host)
        except TimeoutError as exc:
            sock.close()
            raise config.timeout_error(phase, budget, step.removesuffix(" to")) from exc
        except (OSError, HTTPProtocolError) as exc:
            sock.close()
            raise config.connection_error(exc, step) from exc
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _tunnel(self, sock: socket.socket, budget: Budget, until: float | None) -> None:
        """Ask the proxy for a tunnel (``CONNECT``) and wait for its 2xx."""
        config = self._config
        assert config.proxy is not None
        parser = ResponseParser()
        sock.sendall(connect_request(config.endpoint, config.proxy))
        while not parser.head_done:
            wait, _ = budget.connect_wait(until)
            if wait is not None and wait <= 0:
                raise TimeoutError
            sock.settimeout(wait)
            data = sock.recv(_RECV)
            if not data:
                parser.feed_eof()
            parser.feed(data)
        if not 200 <= parser.status < 300:
            raise HTTPProtocolError(
                f"the proxy refused the tunnel: HTTP {parser.status} {parser.reason}".rstrip()
            )
        if parser.has_body:
            raise HTTPProtocolError("the proxy sent data after accepting the tunnel")

    def release(self, conn: _Connection, reusable: bool) -> None:
        if reusable and not self._closed:
            self._idle.append(conn)
        else:
            conn.close()
        self._give_slot()

    def close(self) -> None:
        self._closed = True
        while self._idle:
            try:
                self._idle.pop().close()
            except IndexError:
                break


class SyncTransport:
    """The blocking half of :class:`msgflux.http.Client` (one connection pool)."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._pool = _Pool(config)

    def close(self) -> None:
        """Close idle connections; connections in use close when their response ends.

        The transport stays usable: later requests open new connections in a fresh pool.
        """
        retired, self._pool = self._pool, _Pool(self._config)
        retired.close()

    def request(self, request: bytes, timeout: Timeout) -> Response:
        """Send ``request`` and read the whole response."""
        config = self._config
        budget = Budget(timeout)
        pool = self._pool
        conn, parser = self._exchange(pool, request, budget)
        try:
            while not parser.done:
                data = _recv(config, conn, budget, "reading the response")
                if data:
                    parser.feed(data)
                else:
                    parser.feed_eof()
            body = parser.take_body()
        except MsgfluxError:
            pool.release(conn, False)
            raise
        except _BROKEN as exc:
            pool.release(conn, False)
            raise config.failure(exc, "reading the response from") from exc
        except BaseException:
            pool.release(conn, False)
            raise
        pool.release(conn, parser.keep_alive)
        return Response(parser.status, parser.headers, body)

    def stream(self, request: bytes, timeout: Timeout) -> EventStream:
        """Send ``request`` and return once the response head has arrived."""
        budget = Budget(timeout, stream=True)
        pool = self._pool
        conn, parser = self._exchange(pool, request, budget)
        return EventStream(self._config, pool, conn, parser, budget)

    def _exchange(
        self, pool: _Pool, request: bytes, budget: Budget
    ) -> tuple[_Connection, ResponseParser]:
        """Write the request once and read the response head."""
        config = self._config
        conn = pool.acquire(budget)
        parser = ResponseParser()
        send_error: OSError | None = None
        try:
            wait, phase = budget.read_wait()
            if wait is not None and wait <= 0:
                raise config.timeout_error(phase, budget, "sending the request")
            conn.set_timeout(wait)
            try:
                conn.sock.sendall(request)
            except TimeoutError as exc:
                raise config.timeout_error(phase, budget, "sending the request") from exc
            except (BrokenPipeError, ConnectionResetError) as exc:
                # The server may have answered before closing (413 for a large body):
                # read what it sent before reporting the failed send.
                send_error = exc
            while not parser.head_done:
                data = _recv(config, conn, budget, "waiting for the response")
                if data:
                    parser.feed(data)
                else:
                    parser.feed_eof()
            return conn, parser
        except MsgfluxError:
            pool.release(conn, False)
            raise
        except _BROKEN as exc:
            pool.release(conn, False)
            error = send_error if isinstance(exc, HTTPProtocolError) and send_error else exc
            raise config.failure(error, "request to") from error
        except BaseException:
            pool.release(conn, False)
            raise


class EventStream:
    """The server-sent events of one streamed response.

    Iterate it (``for event in stream``), or take one list per network read with
    :meth:`next_batch`. A stream read to its end gives its connection back by itself;
    otherwise :meth:`close` it (or use ``with``). ``close`` may be called from any thread,
    also while another thread is blocked reading.

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
        self._lock = threading.Lock()
        self._reading = False
        self._closed = False
        self._started = False  # the first event arrived
        self.status = parser.status
        self.headers = parser.headers
        self.request_id = parser.headers.get("x-request-id") or parser.headers.get("request-id")

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> ServerSentEvent:
        ready = self._ready
        if not ready:
            batch = self.next_batch()
            if not batch:
                raise StopIteration
            ready.extend(batch)
        return ready.popleft()

    def next_batch(self) -> list[ServerSentEvent]:
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
            events = self._read()
            if events is None:
                return []
            if events:
                return events

    def _read(self) -> list[ServerSentEvent] | None:
        """Read once; the events that completed, or None when nothing more will come."""
        if self._closed:
            return None
        parser = self._parser
        if not parser.done and not parser.has_body:
            data = self._recv_locked()
            if data is None:
                return None
            try:
                if data:
                    parser.feed(data)
                else:
                    parser.feed_eof()
                body = parser.take_body()
            except _BROKEN as exc:
                self._abandon()
                raise self._config.failure(exc, "reading the stream from") from exc
        else:
            try:
                body = parser.take_body()
            except ContentDecodingError as exc:
                self._abandon()
                raise self._config.failure(exc, "reading the stream from") from exc
        reader = self._reader
        events = reader.feed(body) if body else []
        if parser.done:
            events.extend(reader.finish())
        if reader.failure is not None:
            self._abandon()
            if not events:
                raise reader.failure
            self._failure = reader.failure
            return events
        if events and not self._started:
            self._started = True
            self._budget.established()
        if parser.done:
            self._end()
            return events or None
        return events

    def _recv_locked(self) -> bytes | None:
        """One read that a concurrent :meth:`close` can interrupt (None: closed meanwhile)."""
        with self._lock:
            if self._closed:
                return None
            self._reading = True
        conn = self._conn
        assert conn is not None
        try:
            data = _recv(self._config, conn, self._budget, self._what())
        except RequestTimeoutError:
            if not self._after_read():
                return None
            self._abandon()
            raise
        except OSError as exc:
            if not self._after_read():
                return None
            self._abandon()
            raise self._config.failure(exc, "reading the stream from") from exc
        if not self._after_read():
            return None
        return data

    def _what(self) -> str:
        return (
            "waiting for the next stream event"
            if self._started
            else "waiting for the first stream event"
        )

    def read(self) -> bytes:
        """Read the rest of the body as bytes (for an answer that is not an event stream).

        Releases the connection. Raises as :meth:`next_batch` does.
        """
        parser = self._parser
        parts: list[bytes] = []
        while not parser.done:
            data = self._recv_locked()
            if data is None:
                break
            try:
                if data:
                    parser.feed(data)
                else:
                    parser.feed_eof()
                parts.append(parser.take_body())
            except _BROKEN as exc:
                self._abandon()
                raise self._config.failure(exc, "reading the response from") from exc
        try:
            parts.append(parser.take_body())
        except ContentDecodingError as exc:
            self._abandon()
            raise self._config.failure(exc, "reading the response from") from exc
        if parser.done:
            self._end()
        return b"".join(parts)

    def finish(self, grace: float = 1.0) -> None:
        """The consumer has what it wants: let the body end, then release the connection.

        Servers end the body right after their last event (``data: [DONE]``); reading that
        end lets the connection be reused. Events still arriving are discarded; after
        ``grace`` seconds without the end, the connection is closed instead.
        """
        parser = self._parser
        if parser.done:
            self._end()
            return
        if self._closed:
            return
        self._budget = Budget(Timeout(read=min(grace, self._budget.read or grace)))
        try:
            while not parser.done:
                data = self._recv_locked()
                if data is None:
                    return
                if data:
                    parser.feed(data)
                else:
                    parser.feed_eof()
                parser.take_body()
        except (MsgfluxError, *_BROKEN):
            self.close()
            return
        self._end()

    def _after_read(self) -> bool:
        """Leave the reading state; close the socket if ``close`` ran meanwhile."""
        with self._lock:
            self._reading = False
            closed = self._closed
        if closed:
            self._release(False)
            return False
        return True

    def _end(self) -> None:
        """The body ended: give the connection back, reusable if the server allows."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._release(self._parser.keep_alive)

    def _abandon(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._release(False)

    def _release(self, reusable: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn, reusable)

    def close(self) -> None:
        """Stop the stream and release its connection; safe from any thread, idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            reading = self._reading
            conn = self._conn
        self._ready.clear()
        if reading and conn is not None:
            # Wake the reader; it closes the socket when it leaves recv (see module doc).
            try:
                _raw_shutdown(conn.sock, socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self._release(False)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # An abandoned stream must give its connection slot back.
        if not getattr(self, "_closed", True):
            self.close()

    def batches(self) -> Iterator[list[ServerSentEvent]]:
        """Yield :meth:`next_batch` lists until the stream ends."""
        while True:
            batch = self.next_batch()
            if not batch:
                return
            yield batch
