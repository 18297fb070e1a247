"""What a batch item may be: what ``model(...)`` takes, checked before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Call", "normalize"]

#: One call: ``(messages, keyword arguments)``.
Call = tuple[Any, dict[str, Any]]


def normalize(
    inputs: Iterable[Any], call_options: Mapping[str, Any]
) -> tuple[list[Any], list[Call]]:
    """The inputs as a list, and each as ``(messages, kwargs)`` with ``call_options`` under
    the item's own.

    An input is a prompt (``str``), a list of chat messages, or a dict of call arguments
    (``{"messages": ..., "temperature": 0, ...}``).

    Raises:
        TypeError: An input of another type (the message names its index).
        ValueError: A dict without ``messages``, or a call asking for a stream.
    """
    if isinstance(inputs, str | bytes | Mapping) or not isinstance(inputs, Iterable):
        raise TypeError(
            "batch inputs must be a list (or another iterable) of inputs, each a prompt, a "
            "list of messages or a dict of call arguments; got a single "
            f"{type(inputs).__name__}: wrap it in a list"
        )
    given = inputs if isinstance(inputs, list) else list(inputs)
    if "stream" in call_options:
        raise ValueError("a batch collects whole answers: remove stream=")
    return given, [_one(index, item, call_options) for index, item in enumerate(given)]


def _one(index: int, item: Any, call_options: Mapping[str, Any]) -> Call:
    if isinstance(item, str | list):
        return item, dict(call_options)
    if isinstance(item, Mapping):
        if "messages" not in item:
            hint = (
                "it looks like one chat message: wrap it in a list"
                if "role" in item
                else "a dict input holds call arguments, e.g. {'messages': 'Hi', 'temperature': 0}"
            )
            raise ValueError(f"batch input {index} has no 'messages': {hint}")
        if "stream" in item:
            raise ValueError(f"batch input {index} asks for a stream: a batch takes whole answers")
        kwargs = {**call_options, **{k: v for k, v in item.items() if k != "messages"}}
        return item["messages"], kwargs
    raise TypeError(
        f"batch input {index} is a {type(item).__name__}: each input is a prompt (str), a "
        "list of chat messages, or a dict of call arguments with 'messages'"
    )
