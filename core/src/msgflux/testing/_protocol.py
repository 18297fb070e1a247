"""A minimal HTTP/1.1 server connection (asyncio Protocol) that executes rendered `Plan`s.

It parses requests (Content-Length or chunked bodies, keep-alive, pipelining), hands each one to
the server, and writes the answer. Plans without faults or delays are written synchronously from
``data_received`` so that the common case costs one parse, one render and one ``write``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from msgflux.testing._recorded import Headers, RecordedRequest
from msgflux.testing._render import Plan, error_body

logger = logging.getLogger("msgflux.testing")

_MAX_HEAD = 64 * 1024
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_FRAMING = frozenset({"content-length", "transfer-encoding"})
_decode = msgspec.json.decode

#: Called with each complete request; returns the plan, or an awaitable of it.
Dispatch = Callable[[RecordedRequest], "Plan | Awaitable[Plan]"]


class HTTPConnection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, dispatch: Dispatch, connections: set[HTTPConnection]) -> None:
        self._dispatch = dispatch
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._head: tuple[str, str, str, Headers, int] | None = None
        self._continued = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._peer: tuple[str, int] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)
        peer = transport.get_extra_info("peername")
        self._peer = (peer[0], peer[1]) if isinstance(peer, tuple) else None

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._task is None:
            self._process()

    def eof_received(self) -> bool:
        # A client that half-closes has gone away (HTTP clients do not half-close and wait):
        # closing here is what ends a stalled answer.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._connections.discard(self)
        if self._task is not None:
            self._task.cancel()
        self._wake_drain()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_drain()

    def abort(self) -> None:
        """Drop the connection now (used by server shutdown)."""
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()

    # -- request parsing --------------------------------------------------------------------

    def _process(self) -> None:
        while not self._closed and self._task is None:
            parsed = self._parse()
            if parsed is None:
                return
            request, keep_alive = parsed
            result = self._dispatch(request)
            if isinstance(result, Plan) and _is_plain(result):
                must_close = self._write_all(result, keep_alive)
                if must_close:
                    self._transport.close()  # type: ignore[union-attr]
                    return
            else:
                self._task = asyncio.get_running_loop().create_task(
                    self._respond(result, keep_alive)
                )
                self._task.add_done_callback(self._on_done)

    def _parse(self) -> tuple[RecordedRequest, bool] | None:
        buf = self._buf
        if self._head is None:
            while buf[:2] == b"\r\n":  # tolerated between requests (RFC 9112 section 2.2)
                del buf[:2]
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._reject(431, "request headers too large")
                return None
            lines = buf[:end].decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self._reject(400, f"malformed request line {lines[0]!r}")
                return None
            raw = []
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    self._reject(400, f"malformed header line {line!r}")
                    return None
                raw.append((name.strip(), value.strip()))
            self._head = (parts[0], parts[1], parts[2], Headers(raw), end + 4)
            self._continued = False
        method, target, version, headers, start = self._head

        if "chunked" in headers.get("transfer-encoding", "").lower():
            try:
                dechunked = _dechunk(buf, start)
            except ValueError:
                self._reject(400, "malformed chunked body")
                return None
            if dechunked is None:
                self._send_continue(headers)
                return None
            body, consumed = dechunked
        else:
            try:
                length = int(headers.get("content-length") or 0)
            except ValueError:
                self._reject(400, "invalid Content-Length")
                return None
            if len(buf) - start < length:
                self._send_continue(headers)
                return None
            consumed = start + length
            body = bytes(buf[start:consumed])
        del buf[:consumed]
        self._head = None

        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.1":
            keep_alive = "close" not in connection
        else:
            keep_alive = "keep-alive" in connection
        path, _, qs = target.partition("?")
        try:
            decoded = _decode(body) if body else None
        except msgspec.DecodeError:
            decoded = None
        query = dict(parse_qsl(qs, keep_blank_values=True)) if qs else None
        request = RecordedRequest(method, path, headers, body, decoded, query, self._peer)
        return request, keep_alive

    def _send_continue(self, headers: Headers) -> None:
        if not self._continued and headers.get("expect", "").lower() == "100-continue":
            self._continued = True
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # type: ignore[union-attr]

    def _reject(self, status: int, message: str) -> None:
        body = error_body(status, message)
        head = _head_bytes(status, [("content-type", "application/json")], len(body), True)
        self._transport.write(head + body)  # type: ignore[union-attr]
        self._transport.close()  # type: ignore[union-attr]
        self._closed = True

    # -- responses --------------------------------------------------------------------------

    def _write_all(self, plan: Plan, keep_alive: bool) -> bool:
        """Write a whole plan at once; returns whether the connection must close afterwards."""
        head, chunked, must_close = _plan_head(plan, keep_alive)
        if plan.frames is None:
            data = head + plan.body if plan.body else head
        elif chunked:
            data = head + b"".join(_chunk(f) for f in plan.frames if f) + b"0\r\n\r\n"
        else:
            data = head + b"".join(plan.frames)
        self._transport.write(data)  # type: ignore[union-attr]
        return must_close

    async def _respond(self, result: Plan | Awaitable[Plan], keep_alive: bool) -> None:
        plan = result if isinstance(result, Plan) else await result
        transport = self._transport
        assert transport is not None
        reply = plan.reply
        if reply is None or _is_plain(plan):
            if self._write_all(plan, keep_alive):
                transport.close()
            return
        if reply.delay > 0:
            await asyncio.sleep(reply.delay)
        if reply.reset_before:
            transport.close()
            return

        head, chunked, must_close = _plan_head(plan, keep_alive)
        transport.write(head)
        fault, at = _first_fault(reply)
        if plan.frames is None:
            body = plan.body or b""
            if fault is None:
                transport.write(body)
            else:
                transport.write(body[:at])
                await self._fault(fault, chunked=False)
                return
        else:
            frames = plan.frames
            for i in range(len(frames) + 1):
                if fault is not None and i == at:
                    if fault == "close" and chunked:
                        break  # end the HTTP response cleanly, without the rest
                    await self._fault(fault, chunked=chunked)
                    return
                if i == len(frames):
                    break
                if i and reply.chunk_delay > 0:
                    await asyncio.sleep(reply.chunk_delay)
                if frames[i]:
                    transport.write(_chunk(frames[i]) if chunked else frames[i])
                    await self._drain()
            if chunked:
                transport.write(b"0\r\n\r\n")
        if must_close or not keep_alive:
            transport.close()

    async def _fault(self, fault: str, *, chunked: bool) -> None:
        transport = self._transport
        assert transport is not None
        if fault == "stall":
            # Hold the connection open until the client leaves; stop() cancels this wait.
            self._lost = asyncio.get_running_loop().create_future()
            if not self._closed:
                await self._lost
        elif fault == "reset":
            # Let what was written reach the kernel, then close with SO_LINGER 0: a RST.
            transport.set_write_buffer_limits(high=0)
            await self._drain()
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()

    async def _drain(self) -> None:
        if self._paused and not self._closed:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    def _wake_drain(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        self._task = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error("loopback server failed to answer", exc_info=exc)
            if self._transport is not None:
                self._transport.abort()
            return
        if not self._closed and self._transport is not None and not self._transport.is_closing():
            self._process()


def _is_plain(plan: Plan) -> bool:
    reply = plan.reply
    return reply is None or (
        reply.delay <= 0
        and reply.chunk_delay <= 0
        and reply.stall_after is None
        and reply.reset_after is None
        and reply.close_after is None
        and not reply.reset_before
    )


def _first_fault(reply: Any) -> tuple[str | None, int]:
    faults = [
        (at, name)
        for name, at in (
            ("stall", reply.stall_after),
            ("reset", reply.reset_after),
            ("close", reply.close_after),
        )
        if at is not None
    ]
    if not faults:
        return None, 0
    at, name = min(faults)
    return name, max(0, at)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _plan_head(plan: Plan, keep_alive: bool) -> tuple[bytes, bool, bool]:
    """Status line and headers; returns (head, chunked framing, close afterwards)."""
    custom_framing = any(name.lower() in _FRAMING for name, _ in plan.headers)
    if custom_framing:
        # The test controls the framing (e.g. a Content-Length larger than the body): the
        # connection cannot be reused after it.
        return _head_bytes(plan.status, plan.headers, None, True), False, True
    if plan.frames is None:
        length = len(plan.body) if plan.body else 0
        return _head_bytes(plan.status, plan.headers, length, not keep_alive), False, not keep_alive
    headers = [*plan.headers, ("cache-control", "no-cache")]
    return (
        _head_bytes(plan.status, headers, None, not keep_alive, chunked=True),
        True,
        not keep_alive,
    )


def _head_bytes(
    status: int,
    headers: list[tuple[str, str]],
    length: int | None,
    close: bool,
    *,
    chunked: bool = False,
) -> bytes:
    lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, 'Unknown')}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if length is not None:
        lines.append(f"content-length: {length}")
    if chunked:
        lines.append("transfer-encoding: chunked")
    if close:
        lines.append("connection: close")
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


def _dechunk(buf: bytearray, pos: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at ``pos``; None while incomplete."""
    parts: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip(), 16)
        pos = eol + 2
        if size == 0:
            # Skip trailer fields up to the empty line.
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return b"".join(parts), pos + 2
                pos = eol + 2
        if len(buf) < pos + size + 2:
            return None
        parts.append(bytes(buf[pos : pos + size]))
        pos += size + 2
