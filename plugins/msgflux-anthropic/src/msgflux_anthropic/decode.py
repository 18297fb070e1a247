"""Whole answers: a Messages API ``message`` -> ``ModelResponse``.

Text blocks are the answer, thinking blocks the reasoning, ``tool_use`` blocks the tool
calls (in order). When the answer holds thinking (or redacted thinking), every block is kept
as received in ``response.provider_data["anthropic"]["content"]``: the next request of a
tool loop must send them back unchanged (``msgflux_anthropic.messages`` does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from msgflux.models.response import ModelResponse
from msgflux_anthropic.wire import Message

__all__ = ["FINISH_REASONS", "PROVIDER", "THINKING_BLOCKS", "decode_message", "finish_metadata"]

PROVIDER = "anthropic"

#: Anthropic's ``stop_reason`` -> msgflux's ``finish_reason`` (OpenAI's vocabulary); the
#: original is kept as ``metadata.stop_reason``. Unknown reasons pass through unchanged.
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "pause_turn",
}

#: The blocks that only the provider can read, and that make a history need them back.
THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def decode_message(message: Message, response: ModelResponse) -> None:
    """Fill ``response`` from a whole answer."""
    calls = 0
    for block in message.content:
        kind = block.get("type")
        if kind == "text":
            response.add(block.get("text") or "")
        elif kind == "thinking":
            response.add_reasoning(block.get("thinking"))
        elif kind == "tool_use":
            response.add_tool_call(calls, block.get("id"), block.get("name"), block.get("input"))
            calls += 1
    keep_blocks(response, message.content)
    metadata = response.metadata
    if message.id:
        metadata.id = message.id
    if message.model:
        metadata.model = message.model
    if message.usage is not None:
        metadata.usage = message.usage
    metadata.update(finish_metadata(message.stop_reason, message.stop_sequence))


def keep_blocks(response: Any, blocks: Iterable[Mapping[str, Any]]) -> None:
    """Keep ``blocks`` as provider data when any is a thinking block."""
    blocks = list(blocks)
    if any(block.get("type") in THINKING_BLOCKS for block in blocks):
        response.provider_data[PROVIDER] = {"content": blocks}


def finish_metadata(stop_reason: str | None, stop_sequence: str | None) -> dict[str, Any]:
    """``finish_reason`` (msgflux's name), ``stop_reason``, and what a refusal says."""
    if stop_reason is None:
        return {}
    metadata: dict[str, Any] = {
        "finish_reason": FINISH_REASONS.get(stop_reason, stop_reason),
        "stop_reason": stop_reason,
    }
    if stop_sequence is not None:
        metadata["stop_sequence"] = stop_sequence
    if stop_reason == "refusal":
        metadata["refusal"] = "the model declined to answer (Anthropic stop_reason: refusal)"
    return metadata
