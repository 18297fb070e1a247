"""Incremental server-sent events reader: body bytes in, (event name, data) out.

It follows the SSE format: ``data:`` fields (several joined with ``\\n``), ``event:``
names (``message`` when absent), ``:`` comments (keep-alives such as
``: OPENROUTER PROCESSING``), ``id`` and ``retry`` fields (ignored: a client that
reconnects is not what a chat call wants), CRLF/LF/CR line ends and a leading BOM.

Every named event is returned, so a wire format decides what ``error``,
``message_start`` or ``content_block_delta`` mean. A line that is neither a known field
nor a comment (raw JSON without ``data:``) is a malformed stream: reading stops and
:attr:`SSEReader.failure` holds a :class:`~msgflux.errors.ResponseDecodeError` with the raw
line; the events before it are still returned.
"""

from __future__ import annotations

from typing import NamedTuple

from msgflux.errors import ResponseDecodeError

__all__ = ["SSEReader", "ServerSentEvent"]

_KNOWN_IGNORED = (b"id", b"retry")
_BOM = b"\xef\xbb\xbf"
_new = tuple.__new__


class ServerSentEvent(NamedTuple):
    """One server-sent event.

    Attributes:
        event: The event name (``"message"`` when the server sent none).
        data: The data, as bytes (several ``data:`` lines joined with ``\\n``).
    """

    event: str
    data: bytes


def _event(name: str, data: bytes) -> ServerSentEvent:
    # tuple.__new__ skips the NamedTuple constructor's Python frame: this runs per event.
    return _new(ServerSentEvent, (name, data))


class SSEReader:
    """Turns stream bytes into complete :class:`ServerSentEvent` objects.

    Attributes:
        failure: The decode error of a malformed line, once one arrived.
    """

    __slots__ = ("_cr", "_pending", "_started", "failure")

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._cr = False
        self._started = False
        self.failure: ResponseDecodeError | None = None

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Read more bytes; return the events they completed, in order.

        Args:
            data: Body bytes, in any split.
        """
        if self.failure is not None:
            return []
        if not self._started:
            data = self._strip_bom(data)
            if not self._started:
                return []
        if b"\r" in data or self._cr:
            data = self._normalize(data)
        pending = self._pending
        if b"\n\n" not in data and not (
            data[:1] == b"\n" and pending and pending[-1][-1:] == b"\n"
        ):
            # A long event arriving in pieces: no joins until it ends.
            if data:
                pending.append(data)
            return []
        if pending:
            pending.append(data)
            data = b"".join(pending)
            pending.clear()
        blocks = data.split(b"\n\n")
        rest = blocks.pop()
        if rest:
            pending.append(rest)
        out: list[ServerSentEvent] = []
        for block in blocks:
            if block[:6] == b"data: " and b"\n" not in block:
                out.append(_new(ServerSentEvent, ("message", block[6:])))
            elif block and not self._parse_block(block, out):
                pending.clear()
                break
        return out

    def finish(self) -> list[ServerSentEvent]:
        """The body ended: return a last event that lacked its blank line."""
        if self.failure is not None or not self._pending:
            return []
        data = b"".join(self._pending)
        self._pending.clear()
        if not data.strip():
            return []
        out: list[ServerSentEvent] = []
        self._parse_block(data, out)
        return out

    def _strip_bom(self, data: bytes) -> bytes:
        """Drop a UTF-8 byte order mark at the very start, even when split across reads."""
        if self._pending:
            data = self._pending.pop() + data
        if len(data) < 3 and _BOM.startswith(data):
            if data:
                self._pending.append(data)  # too short to tell yet
            return b""
        self._started = True
        return data[3:] if data.startswith(_BOM) else data

    def _normalize(self, data: bytes) -> bytes:
        """Turn CRLF and lone CR line ends into LF, also across feed boundaries."""
        if self._cr and data[:1] == b"\n":
            data = data[1:]  # the LF of a CRLF split across two reads
        self._cr = data[-1:] == b"\r"
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def _parse_block(self, block: bytes, out: list[ServerSentEvent]) -> bool:
        """Parse one event's lines; return False when reading must stop."""
        data_lines: list[bytes] = []
        event = b""
        for line in block.split(b"\n"):
            if not line:
                continue
            colon = line.find(b":")
            if colon == 0:
                continue  # a comment
            if colon < 0:
                name, value = line, b""
            else:
                name = line[:colon]
                value = line[colon + 1 :]
                if value[:1] == b" ":
                    value = value[1:]
            if name == b"data":
                data_lines.append(value)
            elif name == b"event":
                event = value
            elif name not in _KNOWN_IGNORED:
                text = line.decode("utf-8", "replace")
                self.failure = ResponseDecodeError(
                    f"malformed server-sent event line {text[:200]!r}: expected 'data:', "
                    "'event:', 'id:', 'retry:' or a ':' comment",
                    raw_text=text,
                )
                return False
        if not data_lines:
            return True  # an event without data is not dispatched (the SSE rules)
        payload = data_lines[0] if len(data_lines) == 1 else b"\n".join(data_lines)
        event_name = event.decode("utf-8", "replace") if event else "message"
        out.append(_event(event_name, payload))
        return True
