"""An Agent's ``config``: the keys it understands, their defaults, and their validation."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

__all__ = ["CONFIG_KEYS", "DEFAULT_MAX_TOOL_TURNS", "AgentConfig"]

DEFAULT_MAX_TOOL_TURNS = 10


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """The validated ``config`` of an :class:`~msgflux.nn.Agent`.

    Attributes:
        stream: Return a ``ModelStreamResponse`` of the answer instead of the answer.
        reasoning_in_response: Return ``dotdict(answer=..., reasoning=...)`` when the model
            reasoned (non-streaming calls only).
        verbose: Print the reasoning, the response and the tool calls and results.
        max_tool_turns: How many rounds of tool calls the agent runs before giving up with
            ``ToolTurnLimitError``.
        tool_choice: ``"auto"``, ``"required"``, ``"none"``, a tool's name or a
            ``tool_choice`` dict, applied to the first model call of a run.
        return_messages: Return ``dotdict(answer=..., messages=[...])`` with the whole
            conversation of the run.
    """

    stream: bool = False
    reasoning_in_response: bool = False
    verbose: bool = False
    max_tool_turns: int = DEFAULT_MAX_TOOL_TURNS
    tool_choice: str | Mapping[str, Any] | None = None
    return_messages: bool = False

    @classmethod
    def from_mappings(cls, *configs: Mapping[str, Any] | None) -> AgentConfig:
        """Merge ``configs`` (later ones win) and validate the result.

        Raises:
            ValueError: An unknown key (the message names the valid ones) or a bad value.
            TypeError: A config that is not a mapping.
        """
        merged: dict[str, Any] = {}
        for config in configs:
            if config is None:
                continue
            if not isinstance(config, Mapping):
                raise TypeError(f"Agent config must be a dict, got {type(config).__name__}")
            for key in config:
                if key not in CONFIG_KEYS:
                    raise ValueError(_unknown_key_message(key))
            merged.update(config)
        built = cls(**merged)
        built._validate()
        return built

    def _validate(self) -> None:
        for key in ("stream", "reasoning_in_response", "verbose", "return_messages"):
            value = getattr(self, key)
            if not isinstance(value, bool):
                raise ValueError(f"Agent config[{key!r}] must be True or False, got {value!r}")
        turns = self.max_tool_turns
        if isinstance(turns, bool) or not isinstance(turns, int) or turns < 1:
            raise ValueError(
                f"Agent config['max_tool_turns'] must be an integer >= 1, got {turns!r}"
            )
        choice = self.tool_choice
        if choice is not None and not isinstance(choice, str | Mapping):
            raise ValueError(
                "Agent config['tool_choice'] must be 'auto', 'required', 'none', a tool name or "
                f"a tool_choice dict, got {choice!r}"
            )

    def as_mapping(self) -> Mapping[str, Any]:
        """Every key with its value (defaults included), read-only."""
        return MappingProxyType({key: getattr(self, key) for key in CONFIG_KEYS})


CONFIG_KEYS: tuple[str, ...] = tuple(field.name for field in fields(AgentConfig))


def _unknown_key_message(key: Any) -> str:
    valid = ", ".join(repr(name) for name in CONFIG_KEYS)
    close = difflib.get_close_matches(str(key), CONFIG_KEYS, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown Agent config key {key!r}.{hint} Valid keys: {valid}."
