"""A scriptable Anthropic Messages API server on 127.0.0.1, for wire tests.

The Messages API counterpart of :class:`msgflux.testing.server.LoopbackServer`: the same
scripting (``enqueue(Reply...)``, ``set_handler``), recording (``requests``,
``last_request``), faults (delays, stalls, resets, truncated streams) and lifecycle, with
answers in Anthropic's shapes: a ``message`` body or an event stream, errors as
``{"type": "error", "error": {"type", "message"}}`` with Anthropic's error types.

Example::

    import anthropic
    from msgflux.testing.anthropic_server import MessagesServer
    from msgflux.testing.server import Reply, ToolCall

    with MessagesServer() as server:
        server.enqueue(Reply.text("Hello", reasoning="Say hello."))
        client = anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0)
        message = client.messages.create(
            model="claude-sonnet-4-20250514", max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
        )
        assert [block.type for block in message.content] == ["thinking", "text"]
        assert server.last_request.headers["x-api-key"] == "k"

``Reply.reasoning`` becomes a ``thinking`` block with a signature (``signature_of``),
``Reply.tool_calls`` become ``tool_use`` blocks, ``Reply.content_blocks`` sets the blocks
verbatim, and ``Usage(prompt, completion, cached_tokens=, cache_write_tokens=)`` becomes
``input_tokens``, ``output_tokens``, ``cache_read_input_tokens`` and
``cache_creation_input_tokens``. An in-stream error is scripted with ``Reply.raw_events``
and :func:`event_frame` (``event_frame({"type": "error", "error": {...}})``).

Like the real API, the server answers 401 to a request without ``x-api-key`` (or an
``Authorization`` bearer token, which newer ``anthropic`` SDKs send) and 400 to one
without ``anthropic-version``, ``model``, ``max_tokens`` or ``messages``
(``check_requests=False`` turns these checks off).

Routes: ``POST /v1/messages`` (any path ending in ``/messages``), ``GET /v1/models``,
``GET /health``. ``base_url`` is the server's root (``http://127.0.0.1:PORT``), as the
``anthropic`` SDK and ``ANTHROPIC_BASE_URL`` take it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

import msgspec

from msgflux.testing._recorded import RecordedRequest
from msgflux.testing._render import Plan
from msgflux.testing._render_messages import error_body, event_frame, render_message, signature_of
from msgflux.testing._replies import Reply
from msgflux.testing.server import LoopbackServer

__all__ = ["MessagesServer", "event_frame", "signature_of"]

_JSON = [("content-type", "application/json")]


class MessagesServer(LoopbackServer):
    """An Anthropic Messages API server on 127.0.0.1, scripted by tests.

    Args:
        port: TCP port; ``0`` picks a free one.
        host: Interface to bind.
        models: Model ids listed by ``GET /v1/models``.
        record: Keep every request in ``requests``.
        check_requests: Answer as the API does to a request missing its key, version or a
            required field (401 / 400).
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        models: Sequence[str] = ("claude-loopback",),
        record: bool = True,
        check_requests: bool = True,
    ) -> None:
        super().__init__(port, host=host, models=models, record=record)
        self.check_requests = check_requests
        self._models_body = msgspec.json.encode(
            {
                "data": [
                    {
                        "type": "model",
                        "id": model,
                        "display_name": model,
                        "created_at": "2025-01-01T00:00:00Z",
                    }
                    for model in models
                ],
                "has_more": False,
                "first_id": models[0] if models else None,
                "last_id": models[-1] if models else None,
            }
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the root the ``anthropic`` SDK and msgflux take."""
        return f"http://{self.host}:{self.port}"

    def _dispatch(self, request: RecordedRequest) -> Plan | Awaitable[Plan]:
        if self._record:
            with self._lock:
                self._requests.append(request)
        method, path = request.method, request.path
        if path.endswith("/messages"):
            if method != "POST":
                return _error(405, f"Method not allowed ({method} {path})")
            refusal = self._refusal(request) if self.check_requests else None
            return refusal if refusal is not None else self._chat(request)
        if path == "/health" and method == "GET":
            return Plan(200, _JSON, body=b'{"status":"ok"}')
        if path.endswith("/models") and method == "GET":
            return Plan(200, _JSON, body=self._models_body)
        return _error(404, f"Not found ({method} {path})")

    def _refusal(self, request: RecordedRequest) -> Plan | None:
        """The API's answer to a request it would not take, or ``None``."""
        if not request.headers.get("x-api-key") and not request.headers.get("authorization"):
            return _error(401, "x-api-key header is required")
        if not request.headers.get("anthropic-version"):
            return _error(400, "anthropic-version: header is required")
        body: Any = request.json
        if not isinstance(body, dict):
            return _error(400, "could not parse the JSON body of the request")
        for field, kind in (("model", str), ("max_tokens", int), ("messages", list)):
            if not isinstance(body.get(field), kind):
                return _error(400, f"{field}: Field required")
        return None

    def _render(self, reply: Reply | None, request: RecordedRequest, seq: int) -> Plan:
        if reply is None:
            reply = Reply.echo(request)
        try:
            if not isinstance(reply, Reply):
                raise TypeError(f"a loopback handler must return a Reply or None, got {reply!r}")
            return render_message(reply, request.json, seq)
        except Exception as exc:
            return self._failed(exc)

    def _failed(self, exc: Exception) -> Plan:
        with self._lock:
            self.errors.append(exc)
        import logging

        logging.getLogger("msgflux.testing").error("loopback script failed", exc_info=exc)
        return _error(500, f"loopback server script failed: {exc!r}")


def _error(status: int, message: str) -> Plan:
    return Plan(status, _JSON, body=error_body(status, message))
