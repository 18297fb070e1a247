"""Exceptions of tool calling."""

from __future__ import annotations

from collections.abc import Sequence

from msgflux.errors import MsgfluxError, ResponseDecodeError

__all__ = [
    "MissingToolResultError",
    "ToolArgumentsError",
    "ToolCallError",
    "UnknownToolCallError",
]


class ToolCallError(ResponseDecodeError):
    """A tool call from the model that cannot be used as it is.

    Attributes:
        call_id: The call's id (``None`` when the provider sent none).
        name: The function name the model asked for (``None`` when it sent none).
        raw_text: The call's arguments exactly as received.
    """

    def __init__(
        self,
        message: str,
        *,
        call_id: str | None = None,
        name: str | None = None,
        raw_text: str | None = None,
    ) -> None:
        super().__init__(message, raw_text=raw_text)
        self.call_id = call_id
        self.name = name


class ToolArgumentsError(ToolCallError):
    """A call's arguments are not a JSON object, or do not fit the tool's parameters."""


class UnknownToolCallError(MsgfluxError, KeyError):
    """``insert_results`` got an id that is not one of the aggregator's calls.

    Attributes:
        call_id: The id given.
        known_ids: The ids of the calls the aggregator holds.
    """

    def __init__(self, call_id: str, known_ids: Sequence[str]) -> None:
        self.call_id = call_id
        self.known_ids = list(known_ids)
        known = ", ".join(repr(i) for i in self.known_ids) or "none"
        super().__init__(f"No tool call has the id {call_id!r}; the calls' ids are: {known}.")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class MissingToolResultError(MsgfluxError, ValueError):
    """``get_messages`` was asked for before every call had a result.

    Attributes:
        call_ids: The ids of the calls without a result.
    """

    def __init__(self, call_ids: Sequence[str]) -> None:
        self.call_ids = list(call_ids)
        ids = ", ".join(repr(i) for i in self.call_ids)
        super().__init__(
            f"No result was inserted for the tool call(s) {ids}; call "
            "insert_results(call_id, result) for each before get_messages()."
        )
