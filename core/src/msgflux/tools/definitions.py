"""``ToolDefinitions``: the tools offered to the model in one request, and how it may use them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import msgspec

from msgflux.tools.functions import Tool

__all__ = ["ToolDefinitions"]

_MODES = ("auto", "required", "none")


class ToolDefinitions:
    """The tools of a request: their schemas, the tool choice, and parallel calling.

    Immutable: the schemas are copied in at construction and every accessor hands out fresh
    copies, so neither the caller nor a provider adapter can change a later request.

    Args:
        schemas: Function-calling schemas,
            ``{"type": "function", "function": {"name", "description", "parameters"}}``.
        annotations: Per-tool metadata for the code that runs the tools (an Agent), by tool
            name. Never sent to the provider and not part of :meth:`cache_key`.
        choice: ``"auto"`` (the model decides), ``"required"`` (at least one call), ``"none"``
            (no call), the name of one of the tools (that tool must be called), or an
            already-formed ``tool_choice`` dict, sent as it is.
        parallel_tool_calls: Whether the model may call several tools in one answer; ``None``
            leaves the provider's default.

    Raises:
        ValueError: A schema is malformed, two schemas share a name, or ``choice`` names no
            tool (the message lists the valid names) or needs tools that are not there.
        TypeError: An argument has the wrong type.
    """

    __slots__ = ("_annotations", "_choice", "_key", "_names", "_parallel", "_tools", "_tools_json")

    def __init__(
        self,
        schemas: Iterable[Mapping[str, Any]] | None = None,
        annotations: Mapping[str, Any] | None = None,
        choice: str | Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
    ) -> None:
        schema_list = _validate_schemas(schemas)
        self._names: tuple[str, ...] = tuple(s["function"]["name"] for s in schema_list)
        # Stored as JSON: a deep, immutable copy that decodes back into fresh objects fast.
        try:
            self._tools_json = msgspec.json.encode(schema_list) if schema_list else b""
        except TypeError as exc:
            raise ValueError(f"Tool schemas must be JSON data: {exc}") from None
        self._choice = _normalize_choice(choice, self._names)
        if parallel_tool_calls is not None and not isinstance(parallel_tool_calls, bool):
            raise TypeError(
                f"parallel_tool_calls must be True, False or None, got {parallel_tool_calls!r}"
            )
        self._parallel = parallel_tool_calls
        if annotations is not None and not isinstance(annotations, Mapping):
            raise TypeError(f"annotations must be a mapping, got {type(annotations).__name__}")
        self._annotations = MappingProxyType(dict(annotations or {}))
        self._tools: Mapping[str, Tool] = MappingProxyType({})
        self._key: bytes | None = None

    @classmethod
    def from_callables(
        cls,
        funcs: Iterable[Callable[..., Any] | Tool],
        *,
        choice: str | Mapping[str, Any] | None = None,
        strict: bool = True,
        annotations: Mapping[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
    ) -> ToolDefinitions:
        """Tool definitions for Python callables (see :func:`msgflux.tools.function_schema`).

        The :class:`~msgflux.tools.Tool` built for each callable is kept in :attr:`tools`, to
        turn the model's arguments into a call (:meth:`Tool.call` / :meth:`Tool.acall`).

        Args:
            funcs: Functions, async functions, methods, partials, callable objects, or
                ready :class:`~msgflux.tools.Tool` objects.
            choice: As for the constructor.
            strict: Strict function schemas (the default) or plain ones.
            annotations: As for the constructor.
            parallel_tool_calls: As for the constructor.
        """
        tools = [f if isinstance(f, Tool) else Tool.from_callable(f, strict=strict) for f in funcs]
        definitions = cls(
            [tool.schema for tool in tools],
            annotations=annotations,
            choice=choice,
            parallel_tool_calls=parallel_tool_calls,
        )
        definitions._tools = MappingProxyType({tool.name: tool for tool in tools})
        return definitions

    # -- reading ------------------------------------------------------------------------------

    @property
    def schemas(self) -> list[dict[str, Any]]:
        """The tool schemas (a fresh deep copy)."""
        return msgspec.json.decode(self._tools_json) if self._tools_json else []

    @property
    def names(self) -> tuple[str, ...]:
        """The tools' names, in order."""
        return self._names

    @property
    def choice(self) -> str | dict[str, Any] | None:
        """The tool choice as given (a name stays a name; a dict is a fresh copy)."""
        choice = self._choice
        return (
            msgspec.json.decode(msgspec.json.encode(choice)) if isinstance(choice, dict) else choice
        )

    @property
    def parallel_tool_calls(self) -> bool | None:
        """Whether parallel calls were allowed or forbidden; ``None`` = provider default."""
        return self._parallel

    @property
    def annotations(self) -> Mapping[str, Any]:
        """Per-tool metadata (read-only)."""
        return self._annotations

    @property
    def tools(self) -> Mapping[str, Tool]:
        """The :class:`Tool` of each callable, by name (empty unless built from callables)."""
        return self._tools

    def get_schema(self, name: str) -> dict[str, Any]:
        """The schema of the tool ``name`` (a fresh copy).

        Raises:
            KeyError: No tool has that name; the message lists the names.
        """
        for schema in self.schemas:
            if schema["function"]["name"] == name:
                return schema
        raise KeyError(f"No tool is named {name!r}; the tools are: {', '.join(self._names)}")

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.schemas)

    # -- the request --------------------------------------------------------------------------

    def to_request(self) -> dict[str, Any]:
        """The request fields, provider-neutral (OpenAI names), made fresh on every call.

        Returns:
            ``tools`` (a copy of the schemas), ``tool_choice`` (a function name becomes
            ``{"type": "function", "function": {"name": ...}}``) and ``parallel_tool_calls``;
            a field is left out when it is ``None``, and all are left out when there are no
            tools (providers reject ``tool_choice`` without ``tools``).
        """
        if not self._tools_json:
            return {}
        request: dict[str, Any] = {"tools": msgspec.json.decode(self._tools_json)}
        choice = self._choice
        if choice is not None:
            if isinstance(choice, str) and choice not in _MODES:
                request["tool_choice"] = {"type": "function", "function": {"name": choice}}
            elif isinstance(choice, dict):
                request["tool_choice"] = msgspec.json.decode(msgspec.json.encode(choice))
            else:
                request["tool_choice"] = choice
        if self._parallel is not None:
            request["parallel_tool_calls"] = self._parallel
        return request

    def cache_key(self) -> bytes:
        """A stable, hashable key of what these definitions send (annotations excluded).

        Equal for two objects that send the same request, whichever objects they were built
        from; the same across processes.
        """
        if self._key is None:
            self._key = msgspec.json.encode(
                [self._tools_json.decode(), self._choice, self._parallel]
            )
        return self._key

    def __repr__(self) -> str:
        parts = [f"tools={list(self._names)!r}"]
        if self._choice is not None:
            parts.append(f"choice={self._choice!r}")
        if self._parallel is not None:
            parts.append(f"parallel_tool_calls={self._parallel!r}")
        return f"ToolDefinitions({', '.join(parts)})"


def _validate_schemas(schemas: Iterable[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    if schemas is None:
        return []
    if isinstance(schemas, (str, bytes, Mapping)):
        raise TypeError(
            "schemas must be a list of tool schemas, got a single "
            f"{type(schemas).__name__}; wrap it in a list."
        )
    schema_list = list(schemas)
    seen: set[str] = set()
    for position, schema in enumerate(schema_list):
        where = f"Tool schema #{position}"
        if callable(schema) and not isinstance(schema, Mapping):
            raise ValueError(
                f"{where} is a callable ({schema!r}); use ToolDefinitions.from_callables(...) "
                "to build schemas from Python functions."
            )
        if not isinstance(schema, Mapping):
            raise ValueError(f"{where} must be a dict, got {type(schema).__name__}.")
        if schema.get("type") != "function":
            raise ValueError(
                f'{where} must have "type": "function" (got {schema.get("type")!r}); the '
                'form is {"type": "function", "function": {"name": ..., "parameters": ...}}.'
            )
        function = schema.get("function")
        if not isinstance(function, Mapping):
            raise ValueError(f'{where} must have a "function" object with the tool\'s "name".')
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f'{where} must have a non-empty string "function.name".')
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise ValueError(
                f'{where} ({name!r}): "function.parameters" must be a JSON Schema object.'
            )
        if name in seen:
            raise ValueError(f"Two tool schemas are named {name!r}; tool names must be unique.")
        seen.add(name)
    return schema_list


def _normalize_choice(
    choice: str | Mapping[str, Any] | None, names: tuple[str, ...]
) -> str | dict[str, Any] | None:
    if choice is None:
        return None
    valid = ", ".join(repr(n) for n in names) or "no tools were given"
    if isinstance(choice, str):
        if choice in _MODES:
            if choice == "required" and not names:
                raise ValueError('tool choice "required" needs at least one tool schema.')
            return choice
        if choice not in names:
            raise ValueError(
                f"tool choice {choice!r} is neither 'auto', 'required', 'none' nor the name of "
                f"a tool; the tools are: {valid}."
            )
        return choice
    if isinstance(choice, Mapping):
        try:
            formed: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(choice))
        except TypeError as exc:
            raise ValueError(f"tool choice must be JSON data: {exc}") from None
        if formed.get("type") == "function":
            function = formed.get("function")
            name = function.get("name") if isinstance(function, dict) else None
            if name not in names:
                raise ValueError(
                    f"tool choice names the function {name!r}, which is not one of the tools: "
                    f"{valid}."
                )
        elif "type" not in formed:
            raise ValueError(
                'a tool choice dict needs a "type", e.g. {"type": "function", "function": '
                '{"name": ...}}.'
            )
        return formed
    raise TypeError(
        f"tool choice must be 'auto', 'required', 'none', a tool name or a dict, got "
        f"{type(choice).__name__}."
    )
