"""Structured output: a msgspec Struct -> ``response_format``, and the answer -> validated data."""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from msgflux.dotdict import dotdict
from msgflux.errors import StructuredOutputError
from msgflux.generation.schema import compile_schema, schema_name

if TYPE_CHECKING:
    from msgflux.tools.definitions import ToolDefinitions

__all__ = ["StructuredOutput", "TransportSchema", "structured_output"]

_FENCE_RE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


class TransportSchema(msgspec.Struct, frozen=True):
    """What a schema class sends on the wire when it builds its own (see ``ToolFlowControl``).

    Attributes:
        schema: The JSON Schema the model must follow.
        strict: Whether ``schema`` is in the strict subset.
        normalize: Turns the decoded wire payload into the canonical shape of the class.
        consumes_tools: ``True`` when the tools are described inside ``schema``, so the request
            must not also send them as ``tools``.
    """

    schema: dict[str, Any]
    strict: bool
    normalize: Callable[[Any], Any]
    consumes_tools: bool = False


class StructuredOutput:
    """A generation schema ready for a request: its wire schema and its decoder.

    Build one with :func:`structured_output` (cached). Everything it hands out is a fresh
    object, so a caller or a provider adapter that edits a ``response_format`` cannot change
    the next request.

    Attributes:
        schema: The generation schema (the msgspec Struct class).
        name: The schema's name on the wire.
        strict: Whether the wire schema is in the strict subset (sent as ``"strict"``).
        consumes_tools: ``True`` when the tools live inside the schema (ReAct with tools): the
            request must then not send ``tools`` / ``tool_choice``.
    """

    __slots__ = (
        "_normalize",
        "_schema",
        "_tools_key",
        "consumes_tools",
        "name",
        "schema",
        "strict",
    )

    def __init__(
        self,
        schema: type,
        wire_schema: dict[str, Any],
        *,
        strict: bool,
        normalize: Callable[[Any], Any] | None,
        consumes_tools: bool = False,
        tools_key: bytes | None = None,
    ) -> None:
        self.schema = schema
        self.name = schema_name(schema)
        self.strict = strict
        self.consumes_tools = consumes_tools
        # Kept as JSON: decoding it is a deep copy ~15x faster than copy.deepcopy.
        self._schema = msgspec.json.encode(wire_schema)
        self._normalize = normalize
        self._tools_key = tools_key

    @property
    def json_schema(self) -> dict[str, Any]:
        """The wire JSON Schema alone (for providers that take a bare schema). A fresh copy."""
        schema: dict[str, Any] = msgspec.json.decode(self._schema)
        return schema

    @property
    def response_format(self) -> dict[str, Any]:
        """``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``, fresh."""
        return {
            "type": "json_schema",
            "json_schema": {"name": self.name, "schema": self.json_schema, "strict": self.strict},
        }

    def cache_key(self) -> tuple[Any, ...]:
        """What identifies this output for a response cache.

        The schema class itself (identity, not name: two classes named alike differ) and the
        tools embedded in the schema, if any.
        """
        return (self.schema, self._tools_key)

    def decode(self, text: str | bytes) -> dotdict:
        """Decode the model's answer and validate it against the schema.

        Args:
            text: The answer, JSON in the wire schema's shape. A Markdown code fence around
                it is tolerated (models without constrained decoding add one).

        Returns:
            The validated data in plain form (``msgspec.to_builtins`` of the Struct), as a
            ``dotdict``; nested objects are ``dotdict`` too.

        Raises:
            StructuredOutputError: The text is not JSON or does not fit the schema; the
                exception's ``raw_text`` holds the text as received.
        """
        raw_text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        try:
            payload = msgspec.json.decode(text)
        except msgspec.DecodeError as exc:
            match = _FENCE_RE.match(raw_text)
            if match is None:
                raise StructuredOutputError(
                    f"The model's answer for {self.name} is not valid JSON: {exc}",
                    raw_text=raw_text,
                ) from exc
            try:
                payload = msgspec.json.decode(match.group(1))
            except msgspec.DecodeError as exc2:
                raise StructuredOutputError(
                    f"The model's answer for {self.name} is not valid JSON: {exc2}",
                    raw_text=raw_text,
                ) from exc2
        if type(payload) is not dict:
            raise StructuredOutputError(
                f"The model's answer for {self.name} must be a JSON object, got "
                f"{type(payload).__name__}.",
                raw_text=raw_text,
            )
        try:
            if self._normalize is not None:
                payload = self._normalize(payload)
            value: object = msgspec.convert(payload, self.schema)
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            raise StructuredOutputError(
                f"The model's answer does not match {self.name}: {exc}", raw_text=raw_text
            ) from exc
        return dotdict(msgspec.to_builtins(value))

    def __repr__(self) -> str:
        tools = ", consumes_tools=True" if self.consumes_tools else ""
        return f"StructuredOutput({self.schema.__qualname__}, strict={self.strict}{tools})"


# One small LRU per schema class; weak keys let classes made at runtime be collected.
_CACHE: weakref.WeakKeyDictionary[type, OrderedDict[bytes | None, StructuredOutput]] = (
    weakref.WeakKeyDictionary()
)
_CACHE_LOCK = threading.Lock()
_PER_SCHEMA = 32


def structured_output(
    schema: type, tool_definitions: ToolDefinitions | None = None
) -> StructuredOutput:
    """The :class:`StructuredOutput` of a generation schema (cached per class identity).

    Args:
        schema: A msgspec Struct class (a dataclass or TypedDict works too).
        tool_definitions: The tools of the request. Only schemas that embed tools in their
            own wire schema (``ToolFlowControl`` subclasses such as ``ReAct``) use them.

    Raises:
        TypeError: ``schema`` is not a class whose JSON form is an object, or uses a type that
            cannot be expressed.
    """
    if not isinstance(schema, type):
        raise TypeError(
            f"generation_schema must be a msgspec Struct class, got {type(schema).__name__}: "
            f"{schema!r}"
        )
    builder = getattr(schema, "__msgflux_transport_schema__", None)
    uses_tools = builder is not None
    tools_key = tool_definitions.cache_key() if (uses_tools and tool_definitions) else None
    with _CACHE_LOCK:
        per_schema = _CACHE.get(schema)
        if per_schema is not None and tools_key in per_schema:
            per_schema.move_to_end(tools_key)
            return per_schema[tools_key]
    output = _build(schema, tool_definitions if uses_tools else None, tools_key)
    with _CACHE_LOCK:
        per_schema = _CACHE.setdefault(schema, OrderedDict())
        per_schema[tools_key] = output
        while len(per_schema) > _PER_SCHEMA:
            per_schema.popitem(last=False)
    return output


def _build(
    schema: type, tool_definitions: ToolDefinitions | None, tools_key: bytes | None
) -> StructuredOutput:
    builder = getattr(schema, "__msgflux_transport_schema__", None)
    if builder is not None:
        transport = builder(tool_definitions)
        if transport is not None:
            return StructuredOutput(
                schema,
                transport.schema,
                strict=transport.strict,
                normalize=transport.normalize,
                consumes_tools=transport.consumes_tools,
                tools_key=tools_key,
            )
    compiled = compile_schema(schema, strict=True)
    return StructuredOutput(
        schema, compiled.schema, strict=compiled.strict, normalize=compiled.restore
    )
