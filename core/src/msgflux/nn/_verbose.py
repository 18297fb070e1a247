"""``config["verbose"]``: what an Agent prints, one ``[name][kind] text`` line per event."""

from __future__ import annotations

import re
from typing import Any

import msgspec

__all__ = ["Reporter", "snake_case"]

_ACRONYM_BOUNDARY = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD_BOUNDARY = re.compile(r"([a-z\d])([A-Z])")
_encode = msgspec.json.Encoder(enc_hook=str).encode


def snake_case(name: str) -> str:
    """A class name in snake_case:
    ``"MathAgent"`` -> ``"math_agent"``, ``"HTTPBot"`` -> ``"http_bot"``."""
    name = _ACRONYM_BOUNDARY.sub(r"\1_\2", name)
    return _WORD_BOUNDARY.sub(r"\1_\2", name).lower()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return _encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return repr(value)


class Reporter:
    """Prints an agent's events when verbose, and does nothing otherwise.

    Args:
        name: The agent's name, the first bracket of every line.
        enabled: Whether to print at all.
    """

    __slots__ = ("enabled", "name")

    def __init__(self, name: str, enabled: bool) -> None:
        self.name = name
        self.enabled = enabled

    def _print(self, kind: str, text: str) -> None:
        print(f"[{self.name}][{kind}] {text}", flush=True)

    def reasoning(self, reasoning: str | None) -> None:
        """``[name][reasoning] ...`` when there is reasoning."""
        if self.enabled and reasoning:
            self._print("reasoning", reasoning)

    def response(self, answer: Any) -> None:
        """``[name][response] ...``; structured answers are printed as JSON."""
        if self.enabled:
            self._print("response", _text(answer))

    def tool_call(self, name: str | None, arguments: str) -> None:
        """``[name][tool_call] tool {"arg": ...}``."""
        if self.enabled:
            self._print("tool_call", f"{name} {arguments or '{}'}")

    def tool_result(self, name: str | None, result: Any, failed: bool) -> None:
        """``[name][tool_result] tool -> result`` (``tool_error`` when the call failed)."""
        if self.enabled:
            self._print("tool_error" if failed else "tool_result", f"{name} -> {_text(result)}")
