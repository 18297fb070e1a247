"""Oracles for the generation tests: a strict-form checker and a small JSON Schema validator.

Both are written independently of msgflux's compiler, for the JSON Schema subset that strict
structured outputs accept.
"""

from __future__ import annotations

from typing import Any

import pytest

STRICT_KEYS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "anyOf",
    "enum",
    "description",
    "title",
    "examples",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "$ref",
    "$defs",
}


def check_strict_form(schema: dict[str, Any]) -> None:
    """Fail unless every node of ``schema`` is in the strict subset."""
    root = schema
    assert schema.get("type") == "object", "the root must be an object"
    assert "anyOf" not in schema, "the root must not be a union"

    def walk(node: Any, where: str) -> None:
        assert isinstance(node, dict), f"{where}: not a schema object"
        assert node, f"{where}: an empty schema ({{}}) is not strict"
        unknown = set(node) - STRICT_KEYS
        assert not unknown, f"{where}: keywords outside the strict subset: {unknown}"
        if "$ref" in node:
            assert set(node) == {"$ref"}, f"{where}: $ref with siblings"
            name = node["$ref"].removeprefix("#/$defs/")
            assert name in root.get("$defs", {}), f"{where}: dangling {node['$ref']}"
            return
        kinds = node.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "object" in kinds:
            props = node.get("properties")
            assert isinstance(props, dict), f"{where}: object without properties"
            assert node.get("required") == list(props), f"{where}: not every property required"
            assert node.get("additionalProperties") is False, f"{where}: additionalProperties"
            for key, sub in props.items():
                walk(sub, f"{where}.{key}")
        if "array" in kinds and "items" in node:
            walk(node["items"], f"{where}[]")
        for i, sub in enumerate(node.get("anyOf", ())):
            walk(sub, f"{where}|{i}")
        for name, sub in node.get("$defs", {}).items():
            walk(sub, f"$defs.{name}")

    walk(schema, "$")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise AssertionError(f"not JSON data: {value!r}")


def is_valid(instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> bool:
    """Whether ``instance`` (decoded JSON) is valid against ``schema`` (strict subset)."""
    root = schema if root is None else root
    if "$ref" in schema:
        return is_valid(instance, root["$defs"][schema["$ref"].removeprefix("#/$defs/")], root)
    if "anyOf" in schema and not any(is_valid(instance, s, root) for s in schema["anyOf"]):
        return False
    kind = _json_type(instance)
    if "enum" in schema and not any(
        _json_type(v) == kind and v == instance for v in schema["enum"]
    ):
        return False
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if kind not in allowed and not (kind == "integer" and "number" in allowed):
            return False
    if kind == "object" and "properties" in schema:
        props = schema["properties"]
        if schema.get("additionalProperties") is False and set(instance) - set(props):
            return False
        if set(schema.get("required", ())) - set(instance):
            return False
        return all(is_valid(instance[k], props[k], root) for k in instance if k in props)
    if kind == "array":
        if len(instance) < schema.get("minItems", 0):
            return False
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            return False
        if "items" in schema:
            return all(is_valid(v, schema["items"], root) for v in instance)
    return True


@pytest.fixture(scope="session")
def strict_form():
    return check_strict_form


@pytest.fixture(scope="session")
def valid():
    return is_valid
