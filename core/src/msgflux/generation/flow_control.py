"""Generation schemas that drive tool use themselves (``ReAct``).

Such a schema replaces native tool calling: the request sends no ``tools``; instead the
schema's wire form lists the tools, one ``anyOf`` branch per tool whose ``arguments`` follow
that tool's parameters, so a model constrained to the schema can only name real tools with
well-formed arguments. Decoding normalises the answer back to the schema's canonical form.

A class takes part by defining ``__msgflux_transport_schema__(tool_definitions)`` returning a
:class:`~msgflux.generation.TransportSchema` (or ``None`` for the default compilation);
:class:`ToolFlowControl` is the base that does so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from msgflux.generation.schema import _nullable
from msgflux.generation.structured import TransportSchema

if TYPE_CHECKING:
    from msgflux.tools.definitions import ToolDefinitions

__all__ = ["ToolFlowControl", "is_tool_flow_control", "rewrite_refs", "strict_json_schema"]

Normalizer = Callable[[Any], Any]


class ToolFlowControl(msgspec.Struct):
    """Base of generation schemas whose wire schema embeds the request's tools."""

    @classmethod
    def __msgflux_transport_schema__(
        cls, tool_definitions: ToolDefinitions | None
    ) -> TransportSchema | None:
        """The wire schema for these tools; subclasses implement it."""
        return None


def is_tool_flow_control(schema: Any) -> bool:
    """Whether ``schema`` is a class that builds its own wire schema from the tools."""
    return isinstance(schema, type) and hasattr(schema, "__msgflux_transport_schema__")


def strict_json_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool, Normalizer | None]:
    """A plain JSON Schema (e.g. a hand-written tool's ``parameters``) in strict form.

    Every object lists all its properties in ``required`` (the ones that were optional become
    nullable) and sets ``additionalProperties: false``; ``oneOf`` becomes ``anyOf``. The input
    is not modified.

    Returns:
        The strict schema; whether it is fully strict (a free-form object, e.g. one with
        ``additionalProperties: true``, cannot be); and a normalizer that drops the nulls the
        model writes for formerly optional properties (``None`` when there is nothing to drop).
    """
    state = {"strict": True}
    out, normalize = _strictify(schema, state, 0)
    return out, state["strict"], normalize


def _accepts_null(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return True
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if None in schema.get("enum", ()) or schema.get("const", 0) is None:
        return True
    alternatives = schema["anyOf"] if "anyOf" in schema else schema.get("oneOf", ())
    return any(_accepts_null(s) for s in alternatives)


def _strictify(schema: Any, state: dict[str, bool], depth: int) -> tuple[Any, Normalizer | None]:
    if not isinstance(schema, dict):
        return schema, None
    out = dict(schema)
    normalize: Normalizer | None = None
    if "oneOf" in out and "anyOf" not in out:
        out["anyOf"] = out.pop("oneOf")
    if "anyOf" in out:
        out["anyOf"] = [_strictify(s, state, depth + 1)[0] for s in out["anyOf"]]
    kind = out.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "object" in kinds or "properties" in out:
        extra = out.get("additionalProperties")
        free_form = extra not in (None, False) or ("properties" not in out and depth > 0)
        if free_form:
            # A mapping with arbitrary keys: strict mode cannot express it; leave it as is.
            # (A root object without properties is a tool without parameters: strict-able.)
            state["strict"] = False
            return out, None
        properties = out.get("properties") or {}
        required = set(out.get("required") or ())
        new_properties: dict[str, Any] = {}
        children: dict[str, Normalizer] = {}
        optional: set[str] = set()
        for key, sub in properties.items():
            strict_sub, child = _strictify(sub, state, depth + 1)
            if key not in required:
                if not _accepts_null(sub):
                    optional.add(key)
                strict_sub = _nullable(strict_sub) if isinstance(strict_sub, dict) else strict_sub
            new_properties[key] = strict_sub
            if child is not None:
                children[key] = child
        out["properties"] = new_properties
        out["required"] = list(new_properties)
        out["additionalProperties"] = False
        if optional or children:
            normalize = _ObjectNormalizer(optional, children)
    if "array" in kinds and isinstance(out.get("items"), dict):
        out["items"], item = _strictify(out["items"], state, depth + 1)
        if item is not None:
            normalize = _ListNormalizer(item)
    for key in ("$defs", "definitions"):
        if isinstance(out.get(key), dict):
            out[key] = {
                name: _strictify(sub, state, depth + 1)[0] for name, sub in out[key].items()
            }
    return out, normalize


class _ObjectNormalizer:
    __slots__ = ("children", "optional")

    def __init__(self, optional: set[str], children: dict[str, Normalizer]) -> None:
        self.optional = optional
        self.children = children

    def __call__(self, value: Any) -> Any:
        if type(value) is not dict:
            return value
        out = {}
        for key, item in value.items():
            if item is None and key in self.optional:
                continue  # the model's way to leave an optional argument out
            child = self.children.get(key)
            out[key] = child(item) if child is not None else item
        return out


class _ListNormalizer:
    __slots__ = ("item",)

    def __init__(self, item: Normalizer) -> None:
        self.item = item

    def __call__(self, value: Any) -> Any:
        return [self.item(v) for v in value] if type(value) is list else value


def rewrite_refs(schema: Any, prefix: str) -> Any:
    """``schema`` with every local ``$ref`` to ``#/$defs/X`` renamed ``#/$defs/{prefix}X``.

    Used to hoist a tool's ``$defs`` into an enclosing schema without name clashes.
    """
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                for base in ("#/$defs/", "#/definitions/"):
                    if value.startswith(base):
                        value = f"#/$defs/{prefix}{value[len(base) :]}"
                out[key] = value
            else:
                out[key] = rewrite_refs(value, prefix)
        return out
    if isinstance(schema, list):
        return [rewrite_refs(v, prefix) for v in schema]
    return schema
