"""A minimal, fast OpenAI-compatible loopback server for the benchmark.

It runs in its own process (``python bench/server.py``), so its CPU time is never counted
as client time. It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length`` request
bodies, chunked responses) to answer ``POST .../chat/completions``:

- non-streaming: a fixed, realistic chat completion (usage details, fingerprint...);
- ``"stream": true``: ``X-Bench-Chunks`` content chunks (default 1000), one SSE event per
  HTTP chunk as vLLM and OpenAI send them, then a usage chunk and ``data: [DONE]``;
- ``X-Bench-Delay: <seconds>``, or a path starting with ``/delay-<seconds>/``, holds the
  answer back (used to keep requests in flight when measuring memory per request).

On start it prints ``PORT <n>`` on stdout, then serves until killed or stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

import msgspec

_COMPLETION = msgspec.json.encode(
    {
        "id": "chatcmpl-bench-0001",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "bench-model",
        "system_fingerprint": "fp_bench",
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello! I am a benchmark answer of a realistic length, "
                    "about as long as a short reply from a chat model.",
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 25,
            "completion_tokens": 24,
            "total_tokens": 49,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    }
)

_JSON_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req-bench\r\n"
    b"content-length: " + str(len(_COMPLETION)).encode() + b"\r\n\r\n"
)
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-request-id: req-bench\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
_PREFIX = (
    b'{"id":"chatcmpl-bench-0001","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench-model","system_fingerprint":"fp_bench","choices":[{"index":0,'
)


def _http_chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(payload: bytes) -> bytes:
    return _http_chunk(b"data: " + payload + b"\n\n")


_FIRST = _event(
    _PREFIX + b'"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}'
)
_TOKEN = _event(_PREFIX + b'"delta":{"content":" token"},"logprobs":null,"finish_reason":null}]}')
_LAST = _event(_PREFIX + b'"delta":{},"logprobs":null,"finish_reason":"stop"}]}')
_USAGE = _event(
    b'{"id":"chatcmpl-bench-0001","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench-model","choices":[],"usage":{"prompt_tokens":25,'
    b'"completion_tokens":1000,"total_tokens":1025}}'
)
_DONE = _event(b"[DONE]") + b"0\r\n\r\n"
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


class _Http(asyncio.Protocol):
    """One connection: parse requests back to back, answer each."""

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._drain()

    def _drain(self) -> None:
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            path = lines[0].split(" ")[1]
            delay = float(headers.get("x-bench-delay", "0"))
            if path.startswith(
                "/delay-"
            ):  # base_url ".../delay-2.5/v1": for clients without headers
                delay = float(path.split("/")[1][len("delay-") :])
            if delay:
                self.busy = True
                asyncio.get_running_loop().call_later(
                    delay, self._answer_later, path, headers, body
                )
                return
            self._answer(path, headers, body)

    def _answer_later(self, path: str, headers: dict, body: bytes) -> None:
        self.busy = False
        if self.transport is not None and not self.transport.is_closing():
            self._answer(path, headers, body)
            self._drain()

    def _answer(self, path: str, headers: dict, body: bytes) -> None:
        assert self.transport is not None
        if not path.split("?")[0].endswith("/chat/completions"):
            self.transport.write(_NOT_FOUND)
            return
        request = msgspec.json.decode(body) if body else {}
        if not request.get("stream"):
            self.transport.write(_JSON_HEAD + _COMPLETION)
            return
        chunks = int(headers.get("x-bench-chunks", "1000"))
        parts = [_SSE_HEAD, _FIRST]
        parts.extend([_TOKEN] * chunks)
        parts.append(_LAST)
        options = request.get("stream_options") or {}
        if options.get("include_usage"):
            parts.append(_USAGE)
        parts.append(_DONE)
        self.transport.write(b"".join(parts))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def _main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    stop = loop.create_future()
    # The parent closes our stdin to stop us; a killed parent therefore never leaves us behind.
    loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or stop.set_result(None))
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(_main())
