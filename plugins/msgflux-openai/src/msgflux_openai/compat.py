"""Request helpers for OpenAI-compatible providers' ``adapt_params`` hooks.

The rules every such provider repeats, kept in one place so that a provider plugin states
only its facts: which fields it refuses and why, which reasoning efforts it accepts, how its
tool schemas and messages differ. Every helper treats nested values as the caller's: it
replaces them with copies, never mutates them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from msgflux.errors import UnsupportedParameterError

__all__ = [
    "check_effort",
    "image_urls",
    "join_text_parts",
    "merge_extra_body",
    "refuse",
    "strip_tool_strict",
]


def refuse(provider: str, params: Mapping[str, Any], reasons: Mapping[str, str]) -> None:
    """Refuse the first of ``reasons`` (``{field: why}``) that ``params`` sets.

    A field set to ``None`` is not set.

    Raises:
        UnsupportedParameterError: Naming the provider, the field and the reason.
    """
    for name, reason in reasons.items():
        if params.get(name) is not None:
            raise UnsupportedParameterError(
                f"provider {provider!r} does not support `{name}`: {reason}; remove it"
            )


def check_effort(
    provider: str, effort: str | None, allowed: Collection[str], *, models: str = "models"
) -> None:
    """Refuse a ``reasoning_effort`` outside ``allowed`` (``None`` always passes).

    Args:
        provider: The provider name, for the message.
        effort: The requested effort.
        allowed: The efforts the provider accepts, in the order to list them.
        models: Which of the provider's models the rule is about (``"gpt-oss models"``).

    Raises:
        UnsupportedParameterError: Listing the accepted efforts.
    """
    if effort is not None and effort not in allowed:
        raise UnsupportedParameterError(
            f"{models} on provider {provider!r} accept reasoning_effort "
            f"{', '.join(allowed)}; got {effort!r}"
        )


def strip_tool_strict(tools: Any) -> Any:
    """``tools`` without the ``strict`` flag of their functions (copy-on-write).

    For providers whose tool schema has no ``strict`` field. Returns ``tools`` itself when no
    function carries one, otherwise a new list in which only the changed tools are copies.
    """
    if not isinstance(tools, list):
        return tools
    changed = False
    out = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and "strict" in function:
            function = {key: value for key, value in function.items() if key != "strict"}
            tool = {**tool, "function": function}
            changed = True
        out.append(tool)
    return out if changed else tools


def image_urls(messages: Any) -> Iterator[tuple[int, str]]:
    """``(message index, url)`` of every ``image_url`` content part in ``messages``."""
    if not isinstance(messages, list):
        return
    for position, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "image_url":
                continue
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            yield position, url if isinstance(url, str) else ""


def join_text_parts(messages: Any) -> Any:
    """``messages`` with content given as a list of text parts turned into one string.

    For providers whose messages take string content only. Lists holding anything besides
    text (images, audio) are left as they are. Returns ``messages`` itself when nothing
    changes, otherwise a new list in which only the changed messages are copies.
    """
    if not isinstance(messages, list):
        return messages
    changed = False
    out = []
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list) and content and all(_is_text_part(p) for p in content):
            message = {**message, "content": "\n".join(part["text"] for part in content)}
            changed = True
        out.append(message)
    return out if changed else messages


def _is_text_part(part: Any) -> bool:
    if not isinstance(part, Mapping):
        return False
    return part.get("type") == "text" and isinstance(part.get("text"), str)


def merge_extra_body(params: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Add provider ``fields`` to ``params["extra_body"]``; the caller's own keys win.

    ``extra_body`` is the caller's raw passthrough: a key the caller set there is sent as the
    caller wrote it. The caller's dict is copied, never changed.
    """
    if not fields:
        return
    params["extra_body"] = {**fields, **(params.get("extra_body") or {})}
