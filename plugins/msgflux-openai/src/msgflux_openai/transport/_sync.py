"""The blocking client: keep-alive sockets, one request per connection at a time.

Thread-safe: any number of threads share one :class:`SyncClient`; each request takes an
idle connection from the pool (or opens one) and gives it back when the response is
fully read. At most ``max_connections`` connections are open at once; a request that
finds none free waits for one up to its timeout.

Timeouts are per operation (connect, each send, each read), like the ``openai`` SDK's
float timeout, so a stalled stream raises after ``timeout`` seconds without bytes.

Closing a stream from another thread (:meth:`SyncStream.close`): a thread blocked in
``recv`` is not woken by closing the file descriptor, so ``close`` calls
``shutdown(SHUT_RDWR)`` on it, which makes the blocked ``recv`` return at once; the
reading thread then sees the stream closed, stops iterating and closes the socket itself.
A small lock orders the two so that the descriptor is never closed while a ``recv`` may
still use it.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from collections import deque
from collections.abc import Iterator
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

__all__ = ["SyncClient", "SyncStream"]

_RECV = 256 * 1024
_DRAIN_AFTER_DONE = 1.0  # seconds to wait for the end of the body after ``[DONE]``
_raw_shutdown = socket.socket.shutdown  # bypasses SSLSocket.shutdown, which drops its state


class _Connection:
    """One socket, its readiness poller and whether it served a request before."""

    __slots__ = ("poller", "reused", "sock", "timeout")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reused = False
        self.timeout: float | None = -1.0  # what settimeout was last given
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

    def acquire(self, timeouts: Timeouts) -> _Connection:
        if self._closed:
            raise RuntimeError("this msgflux client was closed")
        if self._pid != os.getpid():
            self._after_fork()
        if not self._take_slot(timeouts.connect):
            raise self._config.timeout_error(timeouts, "waiting for a free connection")
        idle = self._idle
        while idle:
            try:
                conn = idle.pop()
            except IndexError:
                break
            if conn.idle_ok():
                return conn
            conn.close()
        try:
            return self._connect(timeouts)
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

    def _connect(self, timeouts: Timeouts) -> _Connection:
        endpoint = self._config.endpoint
        try:
            sock = socket.create_connection((endpoint.host, endpoint.port), timeouts.connect)
        except TimeoutError as exc:
            raise self._config.timeout_error(timeouts, "connecting") from exc
        except OSError as exc:
            raise self._config.connection_error(exc, "connecting to") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if endpoint.tls:
                sock = self._config.ssl_context().wrap_socket(sock, server_hostname=endpoint.host)
        except TimeoutError as exc:
            sock.close()
            raise self._config.timeout_error(timeouts, "connecting") from exc
        except OSError as exc:
            sock.close()
            raise self._config.connection_error(exc, "TLS handshake with") from exc
        conn = _Connection(sock)
        conn.timeout = timeouts.connect
        return conn

    def release(self, conn: _Connection, reusable: bool) -> None:
        if reusable and not self._closed:
            conn.reused = True
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


class SyncClient:
    """Blocking client with the ``openai`` SDK's ``chat.completions.create`` shape."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._pool = _Pool(config)
        self.chat = _Chat(self)

    def close(self) -> None:
        """Close idle connections; connections in use close when their response ends.

        The client stays usable: later requests open new connections in a fresh pool.
        """
        retired, self._pool = self._pool, _Pool(self._config)
        retired.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _create(self, params: dict[str, Any]) -> ChatCompletion | SyncStream:
        config = self._config
        request, stream, timeouts = prepare(config, params)
        conn, parser = self._exchange(request, timeouts)
        pool = self._pool
        try:
            headers = parser.headers
            ok = 200 <= parser.status < 300
            if stream and ok and not headers.get("content-type", "").startswith("application/json"):
                sse = SyncStream(config, pool, conn, parser, timeouts)
                conn = None  # the stream owns it now
                return sse
            _read_all(config, conn, parser, timeouts)
            body = parser.take_body()
        except BaseException:
            if conn is not None:
                pool.release(conn, False)
            raise
        pool.release(conn, parser.keep_alive)
        if not ok:
            raise_for_status(config, parser.status, parser.reason, headers, body)
        if stream:
            raise stream_content_error(config, headers, body)
        return decode_completion(config, body, headers)

    def _exchange(self, request: bytes, timeouts: Timeouts) -> tuple[_Connection, ResponseParser]:
        """Send the request and read the response head.

        A kept-alive connection that the server closed while idle fails at once (EOF or
        reset before any response byte); the request is then sent again on a new
        connection, once. That is connection reuse hygiene, not a retry: the server
        never started answering.
        """
        config = self._config
        pool = self._pool
        for attempt in range(2):  # a stale pooled connection gets one fresh resend, no more
            conn = pool.acquire(timeouts)
            parser = ResponseParser()
            got_bytes = False
            send_error: OSError | None = None
            try:
                conn.set_timeout(timeouts.read)
                sock = conn.sock
                try:
                    sock.sendall(request)
                except (BrokenPipeError, ConnectionResetError) as exc:
                    # The server may have answered before closing (413 for a large body):
                    # read what it sent before reporting the failed send.
                    send_error = exc
                while not parser.head_done:
                    data = sock.recv(_RECV)
                    if not data:
                        parser.feed_eof()
                    got_bytes = True
                    parser.feed(data)
                return conn, parser
            except TimeoutError as exc:
                pool.release(conn, False)
                raise config.timeout_error(timeouts, "waiting for the response") from exc
            except (OSError, HTTPProtocolError) as exc:
                pool.release(conn, False)
                if conn.reused and not got_bytes and attempt < 1:
                    continue
                error = send_error or exc
                raise config.connection_error(error, "request to") from error
            except BaseException:
                pool.release(conn, False)
                raise
        raise AssertionError("unreachable")  # pragma: no cover


def _read_all(
    config: Config, conn: _Connection, parser: ResponseParser, timeouts: Timeouts
) -> None:
    """Read the rest of a response body into ``parser``."""
    sock = conn.sock
    try:
        while not parser.done:
            data = sock.recv(_RECV)
            if data:
                parser.feed(data)
            else:
                parser.feed_eof()
    except TimeoutError as exc:
        raise config.timeout_error(timeouts, "reading the response") from exc
    except (OSError, HTTPProtocolError) as exc:
        raise config.connection_error(exc, "reading the response from") from exc


class SyncStream:
    """Iterator of :class:`ChatCompletionChunk` over one streamed response.

    Iterate it (``for chunk in stream``) or take what each network read produced with
    :meth:`batches`. Always :meth:`close` it (or use ``with``) when stopping early; a
    stream read to its end releases its connection by itself. ``close`` may be called
    from any thread, also while another thread is blocked reading.

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
        self._lock = threading.Lock()
        self._reading = False
        self._closed = False
        self._finished = False
        self.status = parser.status
        self.headers = parser.headers
        self.request_id = parser.headers.get("x-request-id") or parser.headers.get("request-id")
        self.rate_limit = rate_limit_headers(parser.headers)
        if parser.has_body:
            self._ready.extend(self._decoder.feed(parser.take_body()))

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> ChatCompletionChunk:
        ready = self._ready
        if ready:
            return ready.popleft()
        while not ready:
            if self._fill():
                break
        if ready:
            return ready.popleft()
        raise StopIteration

    def batches(self) -> Iterator[list[ChatCompletionChunk]]:
        """Yield the chunks in lists, one list per network read that completed any.

        A consumer handing chunks to another thread or loop pays one hand-off per list
        instead of one per chunk.
        """
        ready = self._ready
        while True:
            if ready:
                batch = list(ready)
                ready.clear()
                yield batch
                continue
            if self._fill() and not ready:
                return

    def _fill(self) -> bool:
        """Read once; return True when the stream has nothing more to give."""
        decoder = self._decoder
        if decoder.failure is not None:
            failure = decoder.failure
            decoder.failure = None
            self._abandon()
            raise failure
        if self._finished or self._closed:
            return True
        parser = self._parser
        if decoder.done or parser.done:
            if not decoder.done:
                self._ready.extend(decoder.finish())
                if decoder.failure is not None:
                    return False
            self._finish()
            return True
        with self._lock:
            if self._closed:
                return True
            self._reading = True
        conn = self._conn
        assert conn is not None
        try:
            data = conn.sock.recv(_RECV)
        except TimeoutError as exc:
            self._after_read()
            if self._closed:
                return True
            self._abandon()
            raise self._config.timeout_error(
                self._timeouts, "waiting for the next stream chunk"
            ) from exc
        except OSError as exc:
            self._after_read()
            if self._closed:
                return True
            self._abandon()
            raise self._config.connection_error(exc, "reading the stream from") from exc
        if not self._after_read():
            return True
        try:
            if data:
                parser.feed(data)
            else:
                parser.feed_eof()
        except HTTPProtocolError as exc:
            self._abandon()
            raise self._config.connection_error(exc, "reading the stream from") from exc
        if parser.has_body:
            self._ready.extend(decoder.feed(parser.take_body()))
        return False

    def _after_read(self) -> bool:
        """Leave the reading state; close the socket if ``close`` ran meanwhile."""
        with self._lock:
            self._reading = False
            closed = self._closed
        if closed:
            self._release(False)
            return False
        return True

    def _finish(self) -> None:
        """``[DONE]`` or the end of the body: release the connection, reusable if clean."""
        self._finished = True
        parser = self._parser
        conn = self._conn
        if conn is not None and not parser.done and parser.keep_alive:
            # Servers end the body right after [DONE]; read that end so the connection can
            # be reused, but never hang on a server that does not.
            with self._lock:
                if self._closed:
                    return
                self._reading = True
            try:
                conn.set_timeout(min(_DRAIN_AFTER_DONE, self._timeouts.read or _DRAIN_AFTER_DONE))
                while not parser.done:
                    data = conn.sock.recv(_RECV)
                    if not data:
                        break
                    parser.feed(data)
                    parser.take_body()
            except (OSError, HTTPProtocolError):
                pass
            if not self._after_read():
                return  # closed meanwhile; _after_read released the connection
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._release(parser.done and parser.keep_alive)

    def _abandon(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._finished = True
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

    def __enter__(self) -> SyncStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # An abandoned stream must give its connection slot back.
        if not getattr(self, "_closed", True):
            self.close()


class _Completions:
    __slots__ = ("_client",)

    def __init__(self, client: SyncClient) -> None:
        self._client = client

    def create(self, **params: Any) -> ChatCompletion | SyncStream:
        """Send a chat completion request (the ``openai`` SDK's keyword arguments).

        Returns:
            A :class:`ChatCompletion`, or a :class:`SyncStream` when ``stream=True``.

        Raises:
            msgflux.errors.ProviderError: And its subclasses, see
                :mod:`msgflux_openai.transport`.
            msgflux.errors.ResponseDecodeError: The answer could not be decoded.
        """
        return self._client._create(params)


class _Chat:
    __slots__ = ("completions",)

    def __init__(self, client: SyncClient) -> None:
        self.completions = _Completions(client)
