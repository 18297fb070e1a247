"""Exceptions of ``msgflux.nn``."""

from __future__ import annotations

from typing import Any

from msgflux.errors import MsgfluxError

__all__ = ["ToolTurnLimitError"]


class ToolTurnLimitError(MsgfluxError, RuntimeError):
    """The model still asked for tools after ``config["max_tool_turns"]`` rounds of them.

    The agent stops rather than inventing an answer: the last request for tools is not run.

    Attributes:
        max_tool_turns: The limit that was reached.
        calls: The tool calls the model asked for last (``ToolCallAggregator.tool_calls``
            form: ``arguments`` as JSON text).
        messages: The conversation so far (the task, then every tool round), to inspect or to
            continue with another call.
    """

    def __init__(
        self,
        agent_name: str,
        max_tool_turns: int,
        calls: list[dict[str, Any]],
        messages: list[dict[str, Any]],
    ) -> None:
        self.max_tool_turns = max_tool_turns
        self.calls = calls
        self.messages = messages
        names = ", ".join(str(call["function"]["name"]) for call in calls) or "none"
        super().__init__(
            f"agent {agent_name!r}: the model still asked for tools ({names}) after "
            f"{max_tool_turns} round(s) of tool calls; raise config['max_tool_turns'] or make "
            "the task need fewer tool calls (the calls and the conversation so far are on this "
            "exception's `calls` and `messages`)"
        )
