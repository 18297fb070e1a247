"""OpenRouter's ``reasoning_details``: reasoning text when ``reasoning`` is absent, and the
structured blocks a multi-turn tool conversation hands back to the model.

OpenRouter returns reasoning in ``message.reasoning`` (a string) and in
``message.reasoning_details``, a list of typed blocks: ``reasoning.text`` (``text``),
``reasoning.summary`` (``summary``) and ``reasoning.encrypted`` (``data``). Streams send the
blocks in pieces, each piece carrying the ``index`` of the block it extends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["details_text", "merge_details"]

_TEXT_FIELDS = {"reasoning.text": "text", "reasoning.summary": "summary"}
_CONTENT_FIELDS = ("text", "summary", "data", "signature")


def _get(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def details_text(details: Any) -> str | None:
    """The readable reasoning in ``details`` (text and summary blocks), or ``None``."""
    if not details:
        return None
    parts = []
    for item in details:
        field = _TEXT_FIELDS.get(_get(item, "type"))
        value = _get(item, field) if field else None
        if isinstance(value, str) and value:
            parts.append(value)
    return "".join(parts) or None


def merge_details(blocks: list[dict[str, Any]], pieces: Any) -> None:
    """Append streamed ``pieces`` to ``blocks``, joining pieces of the same block."""
    for piece in pieces or ():
        piece = _plain(piece)
        last = blocks[-1] if blocks else None
        if (
            last is None
            or last.get("type") != piece.get("type")
            or last.get("index") != piece.get("index")
        ):
            blocks.append(piece)  # the start of a new block
            continue
        for field in _CONTENT_FIELDS:
            value = piece.get(field)
            if isinstance(value, str):
                last[field] = (last.get(field) or "") + value
        for key, value in piece.items():
            if key not in _CONTENT_FIELDS and value is not None:
                last.setdefault(key, value)


def _plain(piece: Any) -> dict[str, Any]:
    if isinstance(piece, Mapping):
        return dict(piece)
    from msgflux_openai.decode import to_builtins

    return dict(to_builtins(piece))
