"""Streams: the Messages API's events -> ``ModelStreamResponse``.

A stream is ``message_start``, then per content block ``content_block_start``, its
``content_block_delta`` events (``text_delta``, ``thinking_delta``, ``signature_delta``,
``input_json_delta``, ``citations_delta``) and ``content_block_stop``, then
``message_delta`` (stop reason, usage) and ``message_stop``; ``ping`` may come anywhere.
(``error`` events are raised by the client before they get here.)

:class:`BlockAssembler` (one per stream, run by the client) rebuilds each block as a whole
answer holds it, so the blocks of a streamed tool call with thinking go back to the API
exactly as those of a whole answer do. :func:`decode_event` is ``process_output`` for one
event: text to the content channel, thinking to the reasoning channel, ``tool_use`` blocks
to the tool calls (by block index), stop reason and usage to the metadata.
"""

from __future__ import annotations

from typing import Any

import msgspec

from msgflux.models.response import ModelStreamResponse
from msgflux_anthropic.decode import PROVIDER, finish_metadata, keep_blocks
from msgflux_anthropic.wire import Event

__all__ = ["BlockAssembler", "decode_event"]

# The delta field each delta type appends to, and the block field it builds.
_APPENDS = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "signature_delta": ("signature", "signature"),
    "input_json_delta": ("partial_json", "input"),
}


class BlockAssembler:
    """Rebuilds the content blocks of one stream; sets ``event.block`` on each block's stop."""

    __slots__ = ("_blocks", "_parts")

    def __init__(self) -> None:
        self._blocks: dict[int, dict[str, Any]] = {}
        self._parts: dict[int, dict[str, list[str]]] = {}

    def feed(self, event: Event) -> None:
        """Take one event into account (events of other kinds are left alone)."""
        kind = event.type
        if kind == "content_block_delta" and event.delta is not None:
            appends = _APPENDS.get(event.delta.get("type", ""))
            if appends is not None:
                source, target = appends
                parts = self._parts.setdefault(event.index, {})
                parts.setdefault(target, []).append(event.delta.get(source) or "")
            elif event.delta.get("type") == "citations_delta":
                block = self._blocks.get(event.index)
                if block is not None:
                    block.setdefault("citations", []).append(event.delta.get("citation"))
        elif kind == "content_block_start" and event.content_block is not None:
            self._blocks[event.index] = dict(event.content_block)
        elif kind == "content_block_stop":
            event.block = self._finish(event.index)

    def _finish(self, index: int) -> dict[str, Any] | None:
        block = self._blocks.pop(index, None)
        if block is None:
            return None
        for field, parts in self._parts.pop(index, {}).items():
            if field == "input":
                text = "".join(parts)
                block["input"] = msgspec.json.decode(text) if text.strip() else {}
            else:
                block[field] = (block.get(field) or "") + "".join(parts)
        return block


def decode_event(event: Event, response: ModelStreamResponse) -> None:
    """``process_output`` for one stream event."""
    kind = event.type
    if kind == "content_block_delta":
        delta = event.delta or {}
        delta_type = delta.get("type")
        if delta_type == "text_delta":
            response.add(delta.get("text"))
        elif delta_type == "thinking_delta":
            response.add_reasoning(delta.get("thinking"))
        elif delta_type == "input_json_delta":
            response.add_tool_call(event.index, None, None, delta.get("partial_json"))
    elif kind == "content_block_start":
        _start_block(event, response)
    elif kind == "content_block_stop":
        if event.block is not None:
            blocks = response.provider_data.setdefault(PROVIDER, {"content": []})["content"]
            blocks.append(event.block)
    elif kind == "message_start":
        _start_message(event.message or {}, response)
    elif kind == "message_delta":
        _message_delta(event, response)
    elif kind == "message_stop":
        blocks = response.provider_data.pop(PROVIDER, {"content": []})["content"]
        keep_blocks(response, blocks)  # kept only when the next request needs them


def _start_block(event: Event, response: ModelStreamResponse) -> None:
    block = event.content_block or {}
    kind = block.get("type")
    if kind == "tool_use":
        response.add_tool_call(event.index, block.get("id"), block.get("name"), None)
    elif kind == "text":
        response.add(block.get("text"))
    elif kind == "thinking":
        response.add_reasoning(block.get("thinking"))


def _start_message(message: dict[str, Any], response: ModelStreamResponse) -> None:
    pending = response.pending_metadata
    if message.get("id"):
        pending.id = message["id"]
    if message.get("model"):
        pending.model = message["model"]
    if isinstance(message.get("usage"), dict):
        pending.usage = dict(message["usage"])


def _message_delta(event: Event, response: ModelStreamResponse) -> None:
    pending = response.pending_metadata
    delta = event.delta or {}
    pending.update(finish_metadata(delta.get("stop_reason"), delta.get("stop_sequence")))
    if event.usage:
        # Counts in message_delta are cumulative: they replace message_start's.
        usage = dict(pending.get("usage") or {})
        usage.update((name, value) for name, value in event.usage.items() if value is not None)
        pending.usage = usage
