"""Neutral (OpenAI-shaped) messages -> the Messages API's ``system`` and ``messages``.

| neutral | Messages API |
|---|---|
| ``system`` / ``developer`` messages | the top-level ``system`` (text blocks, in order) |
| ``user`` text / ``text`` parts | text content / ``text`` blocks (``cache_control`` kept) |
| ``image_url`` part, ``data:`` URI | ``image`` block, ``base64`` source |
| ``image_url`` part, ``http(s)`` URL | ``image`` block, ``url`` source |
| ``file`` part with a ``data:`` URI (PDF...) | ``document`` block, ``base64`` source |
| assistant text and ``tool_calls`` | ``text`` and ``tool_use`` blocks |
| assistant ``provider_data["anthropic"]`` | the blocks as received (thinking and signatures) |
| ``tool`` messages | ``tool_result`` blocks of one user turn |
| a part already in Anthropic's shape | sent as it is |

Audio parts, ``file_id`` files and video have no Messages API equivalent here: they are
refused with ``UnsupportedParameterError`` naming the message, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from msgflux.errors import UnsupportedParameterError

__all__ = ["to_messages"]

_OPENAI_PARTS = frozenset({"text", "image_url", "input_audio", "file", "video_url"})


def to_messages(
    messages: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system blocks, messages)`` of the Messages API for the neutral ``messages``."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content"), position))
        elif role == "user":
            out.append({"role": "user", "content": _user_content(message.get("content"), position)})
        elif role == "assistant":
            out.append(_assistant(message, position))
        elif role == "tool":
            _add_tool_result(out, message, position)
        else:
            raise ValueError(
                f"messages[{position}] has role {role!r}; the Messages API takes system, user, "
                "assistant and tool messages"
            )
    return system, out


def _text_blocks(content: Any, position: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [_part(part, position) for part in content]
    raise ValueError(f"messages[{position}] content must be text or a list of parts")


def _user_content(content: Any, position: int) -> Any:
    if isinstance(content, str):
        return content
    return _text_blocks(content, position)


def _part(part: Any, position: int) -> dict[str, Any]:
    if not isinstance(part, Mapping):
        raise ValueError(f"messages[{position}] has a content part that is not a dict: {part!r}")
    kind = part.get("type")
    if kind == "text":
        block = {"type": "text", "text": part.get("text", "")}
        if "cache_control" in part:
            block["cache_control"] = part["cache_control"]
        return block
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        return {"type": "image", "source": _source(url, position, "image")}
    if kind == "file":
        file = part.get("file")
        data = file.get("file_data") if isinstance(file, Mapping) else None
        if not isinstance(data, str) or not data.startswith("data:"):
            raise UnsupportedParameterError(
                f"provider 'anthropic' takes files as inline data (messages[{position}] has a "
                "file_id or no data): pass ChatBlock.file(data=...)"
            )
        return {"type": "document", "source": _source(data, position, "document")}
    if kind in _OPENAI_PARTS:
        raise UnsupportedParameterError(
            f"provider 'anthropic' does not take {kind} content (messages[{position}]): "
            "the Messages API has no such input; remove the part"
        )
    return dict(part)  # a block in Anthropic's own shape (image, document, search_result...)


def _source(url: Any, position: int, what: str) -> dict[str, Any]:
    if not isinstance(url, str) or not url:
        raise ValueError(f"messages[{position}] has an {what} part without a URL")
    if url.startswith("data:"):
        header, sep, data = url.partition(",")
        media_type = header[5:].split(";", 1)[0]
        if not sep or ";base64" not in header or not media_type:
            raise UnsupportedParameterError(
                f"provider 'anthropic' takes base64 data URIs only (messages[{position}] has "
                f"{url[:40]!r}): send 'data:image/png;base64,...'"
            )
        return {"type": "base64", "media_type": media_type, "data": data}
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    raise UnsupportedParameterError(
        f"provider 'anthropic' takes {what}s as base64 data URIs or http(s) URLs; "
        f"messages[{position}] has {url[:40]!r}"
    )


def _assistant(message: Mapping[str, Any], position: int) -> dict[str, Any]:
    content = message.get("content")
    calls = message.get("tool_calls") or []
    provider_data = message.get("provider_data")
    stored = None
    if isinstance(provider_data, Mapping) and isinstance(provider_data.get("anthropic"), Mapping):
        stored = provider_data["anthropic"].get("content")
    if stored is None and not calls and isinstance(content, str):
        return {"role": "assistant", "content": content}  # prefilling, plain history
    uses = [_tool_use(call, position) for call in calls]
    if isinstance(stored, list):
        replayed = _replay(stored, uses)
        if replayed is not None:
            return {"role": "assistant", "content": replayed}
        thinking = [block for block in stored if block.get("type") in _THINKING]
    else:
        thinking = []
    text = [block for block in _text_blocks(content or "", position) if block.get("text") != ""]
    return {"role": "assistant", "content": [*thinking, *text, *uses]}


_THINKING = frozenset({"thinking", "redacted_thinking"})


def _replay(stored: list[Any], uses: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The blocks of the answer as received, with the history's tool inputs.

    The thinking blocks (and their signatures) go back byte for byte, in their places among
    the tool calls. ``None`` when the history's calls are not those of the stored answer
    (the caller edited them): then the thinking blocks lead, followed by the history's
    text and calls.
    """
    by_id = {use["id"]: use for use in uses}
    stored_ids = [block.get("id") for block in stored if block.get("type") == "tool_use"]
    if sorted(map(str, stored_ids)) != sorted(by_id):
        return None
    return [
        {**block, "input": by_id[block["id"]]["input"]}
        if block.get("type") == "tool_use"
        else block
        for block in stored
    ]


def _tool_use(call: Mapping[str, Any], position: int) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = msgspec.json.decode(arguments) if arguments.strip() else {}
        except msgspec.DecodeError:
            raise ValueError(
                f"messages[{position}] has a tool call {call.get('id')!r} whose arguments are "
                f"not JSON: {arguments[:80]!r}; the Messages API needs an object"
            ) from None
    if not isinstance(arguments, dict):
        raise ValueError(
            f"messages[{position}] has a tool call {call.get('id')!r} whose arguments are not "
            "a JSON object"
        )
    return {
        "type": "tool_use",
        "id": call.get("id"),
        "name": function.get("name"),
        "input": arguments,
    }


def _add_tool_result(out: list[dict[str, Any]], message: Mapping[str, Any], position: int) -> None:
    content = message.get("content")
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    if isinstance(content, list):
        result["content"] = [_part(part, position) for part in content]
    else:
        result["content"] = "" if content is None else str(content)
    last = out[-1] if out else None
    if (
        last is not None
        and last["role"] == "user"
        and isinstance(last["content"], list)
        and all(block.get("type") == "tool_result" for block in last["content"])
    ):
        last["content"].append(result)  # parallel calls: their results in one user turn
    else:
        out.append({"role": "user", "content": [result]})
