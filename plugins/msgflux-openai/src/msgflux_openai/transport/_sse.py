"""Incremental server-sent events parser, tuned for OpenAI-style streams.

It follows the SSE format (``data:`` fields, multi-line data joined with ``\\n``,
``:`` comments, ``event``/``id``/``retry`` fields, CRLF/LF/CR line ends, a leading BOM)
with these decisions for chat streams:

- events named anything other than ``message`` or ``error`` are skipped (chat servers
  send none; the Responses API's named events are not chat chunks);
- an ``error`` event stops parsing and is reported through :attr:`SSEParser.error`;
- a line that is neither a known field nor a comment (say, raw JSON without ``data:``)
  is a malformed stream: parsing stops and :attr:`SSEParser.failure` holds a
  :class:`~msgflux.errors.ResponseDecodeError` with the raw line. Events before the bad
  line are still returned, so a consumer sees everything that was valid first.
"""

from __future__ import annotations

from msgflux.errors import ResponseDecodeError

__all__ = ["SSEParser"]

_KNOWN_IGNORED = (b"id", b"retry")
_BOM = b"\xef\xbb\xbf"


class SSEParser:
    """Turns stream bytes into the ``data`` payloads of complete events.

    Attributes:
        error: The data of an ``event: error`` event, once one arrived.
        failure: The decode error of a malformed line, once one arrived.
    """

    __slots__ = ("_cr", "_pending", "_started", "error", "failure")

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._cr = False
        self._started = False
        self.error: bytes | None = None
        self.failure: ResponseDecodeError | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """Parse more bytes; return the payloads of the events they completed.

        Args:
            data: Decoded body bytes, in any split.

        Returns:
            One ``bytes`` payload per complete ``message`` event, in order
            (``b"[DONE]"`` included as sent).
        """
        if self.failure is not None or self.error is not None:
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
            # Cheap path for a long event arriving in pieces: no joins until it ends.
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
        out: list[bytes] = []
        for block in blocks:
            if block[:6] == b"data: " and b"\n" not in block:
                out.append(block[6:])
            elif block and not self._parse_block(block, out):
                pending.clear()
                break
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

    def _parse_block(self, block: bytes, out: list[bytes]) -> bool:
        """Parse one event's lines; return False when parsing must stop."""
        data_lines: list[bytes] = []
        event = b""
        for line in block.split(b"\n"):
            if not line:
                continue
            colon = line.find(b":")
            if colon == 0:
                continue  # comment, e.g. ": OPENROUTER PROCESSING" keep-alives
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
            return True
        payload = data_lines[0] if len(data_lines) == 1 else b"\n".join(data_lines)
        if event in (b"", b"message"):
            out.append(payload)
        elif event == b"error":
            self.error = payload
            return False
        return True

    def finish(self) -> list[bytes]:
        """The body ended: return the payload of a last event that lacked its blank line.

        Returns:
            The final payload(s), if the body ended right after a complete ``data:`` line.
        """
        if self.failure is not None or self.error is not None or not self._pending:
            return []
        data = b"".join(self._pending)
        self._pending.clear()
        if not data.strip():
            return []
        out: list[bytes] = []
        self._parse_block(data, out)
        return out
