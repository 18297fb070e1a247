"""The Messages API's answer and stream events, as msgspec decodes them.

Content blocks stay plain dicts, exactly as received (key order and every field kept): a
thinking block and its signature must go back to the API unchanged, and block types this
plugin does not know (server tools, citations...) pass through.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Event", "Message", "event_decoder", "message_decoder"]


class Message(msgspec.Struct):
    """A whole answer of ``POST /v1/messages``."""

    type: str = "message"
    id: str = ""
    model: str = ""
    role: str = "assistant"
    content: list[dict[str, Any]] = msgspec.field(default_factory=list)
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class Event(msgspec.Struct):
    """One event of a stream (``message_start``, ``content_block_delta``...).

    Attributes:
        type: The event type.
        index: The content block an event is about (``content_block_*`` events).
        message: ``message_start``'s message (id, model, usage).
        content_block: ``content_block_start``'s block.
        delta: ``content_block_delta``'s and ``message_delta``'s delta.
        usage: ``message_delta``'s usage.
        block: Set by :class:`msgflux_anthropic.stream.BlockAssembler` on
            ``content_block_stop``: the whole block, as a whole answer would hold it.
    """

    type: str
    index: int = -1
    message: dict[str, Any] | None = None
    content_block: dict[str, Any] | None = None
    delta: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    block: dict[str, Any] | None = None


message_decoder = msgspec.json.Decoder(Message)
event_decoder = msgspec.json.Decoder(Event)
