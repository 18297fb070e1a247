"""``ToolCallAggregator``: a model's tool calls, assembled, executed by the caller, and replayed.

The same object serves a whole (non-streamed) message and a stream: each call, or each
fragment of a call, goes through :meth:`ToolCallAggregator.process`. Streamed fragments are
matched to their call by ``index``, so fragments of parallel calls may interleave. Servers
differ in what they repeat: OpenAI sends the id and name once, llama.cpp repeats them in
every fragment, some send the id late, and Ollama sends several complete calls all with
index 0 (told apart by their ids). All of these assemble to the same calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from msgflux.tools.errors import (
    MissingToolResultError,
    ToolArgumentsError,
    ToolCallError,
    UnknownToolCallError,
)

__all__ = ["ToolCallAggregator"]

_MISSING: Any = object()
_encode = msgspec.json.Encoder(enc_hook=str).encode  # results msgspec cannot encode -> str()


class _Call:
    __slots__ = ("id", "index", "name", "parts", "seq", "synthetic_id")

    def __init__(self, index: int, seq: int) -> None:
        self.index = index
        self.seq = seq  # arrival order, to keep calls that share an index apart and ordered
        self.id: str | None = None
        self.synthetic_id = False
        self.name: str | None = None
        self.parts: list[str] = []


class ToolCallAggregator:
    """The tool calls of one model answer.

    Args:
        reasoning: The model's reasoning for this answer. When set, :meth:`get_messages`
            puts it in ``<think>`` tags in the assistant message, so the model sees its own
            chain of thought in the next round (``reasoning_in_tool_call=True``).

    Attributes:
        content: Assistant text that came with the calls (the pipeline sets it).
        reasoning: See above; may be set after construction (streams learn it at the end).
        provider_data: Opaque data the provider's wire format needs in the next request,
            keyed by provider name (Anthropic's thinking blocks with their signatures); the
            pipeline sets it. :meth:`get_messages` puts it on the assistant message as
            ``"provider_data"``; a request to another provider never carries it.
    """

    def __init__(self, reasoning: str | None = None) -> None:
        self.reasoning = reasoning
        self.content: str | None = None
        self.provider_data: dict[str, Any] = {}
        self._calls: list[_Call] = []
        self._by_index: dict[int, _Call] = {}
        self._results: dict[str, Any] = {}

    # -- assembling ----------------------------------------------------------------------------

    def process(
        self,
        index: int | None,
        id: str | None,
        name: str | None,
        arguments: str | None,
    ) -> None:
        """Add one streamed fragment, or one whole call.

        Args:
            index: The call's position in the answer. ``None`` (servers that omit it) means
                the call with this ``id``, a new call for a new id, else the latest call.
            id: The call's id, in any fragment (the first, a later one, or all of them).
            name: The function name. Repeating the name already held is ignored; a different
                value is appended, as a streamed fragment of the name.
            arguments: A fragment of the JSON arguments; fragments are concatenated. A
                ``dict`` is accepted as the complete arguments.
        """
        call = self._slot(index, id or None)
        if id and (call.id is None or call.synthetic_id):
            call.id = id
            call.synthetic_id = False
        if name and name != call.name:
            call.name = name if call.name is None else call.name + name
        if arguments:
            if not isinstance(arguments, str):
                arguments = msgspec.json.encode(arguments).decode()
            call.parts.append(arguments)

    def _slot(self, index: int | None, call_id: str | None) -> _Call:
        if index is None:
            if call_id is not None:
                for known in self._calls:
                    if known.id == call_id:
                        return known
                index = max(self._by_index, default=-1) + 1
            elif self._calls:
                return self._calls[-1]
            else:
                index = 0
        call = self._by_index.get(index)
        if call is None or (
            call_id is not None
            and call.id is not None
            and not call.synthetic_id
            and call.id != call_id
        ):
            # A new call; a different id at an index already taken is a new call too.
            call = _Call(index, len(self._calls))
            self._calls.append(call)
            self._by_index[index] = call
        return call

    # -- reading -------------------------------------------------------------------------------

    @property
    def has_calls(self) -> bool:
        """Whether the answer holds at least one tool call."""
        return bool(self._calls)

    def __bool__(self) -> bool:
        return bool(self._calls)

    def __len__(self) -> int:
        return len(self._calls)

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """The calls as received, ordered by index: ``arguments`` is the raw JSON text.

        A fresh list of fresh dicts on every access.
        """
        return [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": "".join(call.parts)},
            }
            for call in self._ordered()
        ]

    def get_calls(self) -> list[dict[str, Any]]:
        """The calls with their arguments decoded, ordered by index.

        Returns:
            ``[{"id", "type": "function", "function": {"name", "arguments": dict}}]``; empty
            arguments decode to ``{}``. Fresh objects on every call.

        Raises:
            ToolCallError: A call has no function name.
            ToolArgumentsError: A call's arguments are not a JSON object; the error carries
                the call id, the name and the raw arguments (``raw_text``).
        """
        return [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": self._name(call), "arguments": self._arguments(call)},
            }
            for call in self._ordered()
        ]

    def _ordered(self) -> list[_Call]:
        calls = sorted(self._calls, key=lambda c: (c.index, c.seq))
        if any(call.id is None for call in calls):
            # Some servers send no id; tool messages need one, so give each call its own.
            taken = {call.id for call in calls}
            for position, call in enumerate(calls):
                if call.id is None:
                    candidate, n = f"call_{position}", position
                    while candidate in taken:
                        n += len(calls)
                        candidate = f"call_{n}"
                    call.id, call.synthetic_id = candidate, True
                    taken.add(candidate)
        return calls

    @staticmethod
    def _name(call: _Call) -> str:
        if not call.name:
            raise ToolCallError(
                f"The tool call {call.id!r} (index {call.index}) has no function name.",
                call_id=call.id,
                raw_text="".join(call.parts),
            )
        return call.name

    @staticmethod
    def _arguments(call: _Call) -> dict[str, Any]:
        raw = "".join(call.parts)
        if not raw.strip():
            return {}
        try:
            value = msgspec.json.decode(raw)
            if isinstance(value, str):
                # Double-encoded arguments (a JSON string holding the object): unwrap once.
                value = msgspec.json.decode(value)
        except msgspec.DecodeError as exc:
            raise ToolArgumentsError(
                f"The arguments of the tool call {call.id!r} to {call.name!r} are not valid "
                f"JSON ({exc}): {raw!r}",
                call_id=call.id,
                name=call.name,
                raw_text=raw,
            ) from exc
        if not isinstance(value, dict):
            raise ToolArgumentsError(
                f"The arguments of the tool call {call.id!r} to {call.name!r} must be a JSON "
                f"object, got {type(value).__name__}: {raw!r}",
                call_id=call.id,
                name=call.name,
                raw_text=raw,
            )
        return value

    # -- results and replay --------------------------------------------------------------------

    def insert_results(self, call_id: str | Mapping[str, Any], result: Any = _MISSING) -> None:
        """Record the result of one call, or of several.

        Args:
            call_id: A call's id, with ``result``; or a ``{call_id: result}`` mapping alone.
            result: The call's result. Any value, falsy ones included (``0``, ``""``,
                ``False``, ``[]`` and ``None`` are results). Inserting again replaces it.

        Raises:
            UnknownToolCallError: An id is not one of the calls' ids (nothing is recorded).
            TypeError: Neither form was used.
        """
        if isinstance(call_id, Mapping):
            if result is not _MISSING:
                raise TypeError("insert_results(mapping) takes no separate result")
            items = list(call_id.items())
        elif result is _MISSING:
            raise TypeError("insert_results(call_id, result): the result is missing")
        else:
            items = [(call_id, result)]
        known = [call.id for call in self._ordered()]
        for key, _ in items:
            if key not in known:
                raise UnknownToolCallError(key, known)  # type: ignore[arg-type]
        self._results.update(items)

    @property
    def results(self) -> dict[str, Any]:
        """The results inserted so far, by call id (a copy)."""
        return dict(self._results)

    def get_messages(self) -> list[dict[str, Any]]:
        """The messages to append to the conversation for the next model call.

        Returns:
            The assistant message with the calls (``arguments`` as JSON text) and, when the
            provider left any, its ``provider_data`` (a copy), then one
            ``{"role": "tool", "tool_call_id", "content"}`` per call, in order. A ``str``
            result is sent as it is; any other result is JSON-encoded (values JSON cannot
            hold are written with ``str()``).

        Raises:
            MissingToolResultError: Some calls have no result; it names them.
            ToolCallError: A call has no function name.
        """
        calls = self._ordered()
        missing = [call.id for call in calls if call.id not in self._results]
        if missing:
            raise MissingToolResultError(missing)  # type: ignore[arg-type]
        content = self.content or None
        if self.reasoning:
            content = f"<think>{self.reasoning}</think>{content or ''}"
        messages: list[dict[str, Any]] = [
            {
                "role": "assistant",
                "content": content,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": self._name(call), "arguments": _wire_arguments(call)},
                    }
                    for call in calls
                ],
            }
        ]
        if self.provider_data:
            # A deep copy: the caller's history must not share (and so alter) ours.
            messages[0]["provider_data"] = msgspec.json.decode(
                msgspec.json.encode(self.provider_data)
            )
        for call in calls:
            result = self._results[call.id]  # type: ignore[index]
            text = result if isinstance(result, str) else _encode(result).decode()
            messages.append({"role": "tool", "tool_call_id": call.id, "content": text})
        return messages

    def __repr__(self) -> str:
        names = [call.name for call in self._ordered()]
        return f"ToolCallAggregator(calls={names!r}, results={len(self._results)})"


def _wire_arguments(call: _Call) -> str:
    """The call's arguments for the history: compact JSON when they decode, else as received."""
    try:
        return msgspec.json.encode(ToolCallAggregator._arguments(call)).decode()
    except ToolArgumentsError:
        # Replay what the model wrote; the tool result can tell it what was wrong.
        return "".join(call.parts)
