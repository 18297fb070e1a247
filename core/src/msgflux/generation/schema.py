"""Python types -> JSON Schema, in the strict form structured-output providers accept.

OpenAI's strict mode (and the providers that copy it) accepts only a subset of JSON Schema:
every object lists all its properties in ``required`` and sets ``additionalProperties: false``,
so an optional field is expressed as "required but nullable", and a free-form mapping
(``dict[str, int]``) cannot be expressed at all. This module compiles a type into

* a JSON Schema in that form, where the shapes strict mode cannot express are *lowered*:
  ``dict[K, V]`` becomes a list of ``{"key": K, "value": V}`` entries and a heterogeneous
  ``tuple`` / ``NamedTuple`` becomes an object with one property per position; and
* a *restorer*: a function that turns JSON decoded in the lowered shape back into the
  shape of the original type (entries -> mapping, object -> tuple, ``null`` for a field that
  has a default -> field omitted so the default applies), ready for ``msgspec.convert``.

Nested Structs are inlined; only recursive ones go to ``$defs`` (referenced with ``$ref``),
because some providers' grammar engines handle ``$ref`` poorly. Anything strict mode cannot
express at all (``Any``, custom types) is emitted as ``{}`` and the result is marked
``strict=False`` so the caller does not ask for strict decoding it cannot get.

With ``strict=False`` the compiler emits the natural JSON Schema instead (optional fields
left out of ``required``, mappings as objects); its restorer only drops nulls.
"""

from __future__ import annotations

import dataclasses
import inspect as _inspect
import re
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi

__all__ = ["CompiledSchema", "compile_schema", "schema_name"]

Restorer = Callable[[Any], Any]

# Keywords that strict structured outputs accept on each kind of node. Constraints outside
# these are left out of the schema; decoding still enforces them through msgspec.
_STR_FORMATS = {
    mi.DateTimeType: "date-time",
    mi.DateType: "date",
    mi.TimeType: "time",
    mi.TimeDeltaType: "duration",
    mi.UUIDType: "uuid",
}
_SIMPLE_TYPE_KEYS = frozenset(
    {
        "type",
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
        "items",
        "minItems",
        "maxItems",
    }
)
_NAME_RE = re.compile(r"[^a-zA-Z0-9_-]")


@dataclasses.dataclass(frozen=True)
class CompiledSchema:
    """The result of :func:`compile_schema`.

    Attributes:
        schema: The JSON Schema of the root object. Shared: copy it before handing it out.
        strict: Whether the schema is fully in the strict subset (``False`` when something
            had to be emitted as ``{}``).
        restore: Turns JSON decoded in the schema's shape back into the original type's
            shape (lowered shapes restored, nulls of defaulted fields dropped).
    """

    schema: dict[str, Any]
    strict: bool
    restore: Restorer


def schema_name(tp: type) -> str:
    """A name for ``tp`` that providers accept (``^[a-zA-Z0-9_-]{1,64}$``)."""
    name = _NAME_RE.sub("_", getattr(tp, "__name__", None) or "schema")
    return name[:64] or "schema"


def compile_schema(tp: Any, *, strict: bool = True) -> CompiledSchema:
    """Compile ``tp`` (a msgspec Struct, dataclass or TypedDict) into an object JSON Schema.

    Args:
        tp: The type. Its JSON form must be an object: providers require an object root.
        strict: ``True`` for the strict, lowered form; ``False`` for plain JSON Schema.

    Returns:
        The schema, whether it is strict-compatible, and the restorer.

    Raises:
        TypeError: ``tp`` is not an object type, or uses a type msgspec does not support,
            or a union whose members cannot be told apart once lowered.
    """
    info = mi.type_info(tp)  # msgspec validates the type and raises TypeError itself
    root = info.type if isinstance(info, mi.Metadata) else info
    if not isinstance(root, (mi.StructType, mi.DataclassType, mi.TypedDictType)) or (
        isinstance(root, mi.StructType) and root.array_like
    ):
        raise TypeError(
            f"A generation schema must encode to a JSON object (a msgspec Struct, dataclass "
            f"or TypedDict); got {tp!r}."
        )
    compiler = _Compiler(strict=strict)
    schema, restore = compiler.node(info)
    if compiler.defs:
        schema = {**schema, "$defs": compiler.defs}
    return CompiledSchema(
        schema=schema,
        strict=compiler.is_strict,
        restore=restore or _identity,
    )


def _identity(value: Any) -> Any:
    return value


class _Compiler:
    """One compilation: tracks recursion, ``$defs`` and whether the result stays strict."""

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self.is_strict = True
        self.defs: dict[str, dict[str, Any]] = {}
        self._def_names: dict[type, str] = {}
        self._building: list[type] = []
        self._recursive: set[type] = set()
        # Restorers of object types, created before their fields so recursion can refer to them.
        self._object_restorers: dict[type, _ObjectRestorer] = {}

    # -- nodes -------------------------------------------------------------------------------

    def node(self, t: mi.Type) -> tuple[dict[str, Any], Restorer | None]:
        """Schema and restorer (``None`` = identity) of one type node."""
        if isinstance(t, mi.Metadata):
            schema, restore = self.node(t.type)
            extra = dict(t.extra_json_schema or {})
            if extra:
                if "$ref" in schema:
                    # Siblings of $ref are rejected by strict mode; keep the reference.
                    extra.clear()
                schema = {**schema, **extra}
            return schema, restore
        if isinstance(t, mi.NoneType):
            return {"type": "null"}, None
        if isinstance(t, mi.BoolType):
            return {"type": "boolean"}, None
        if isinstance(t, mi.IntType):
            return _with_bounds({"type": "integer"}, t), None
        if isinstance(t, mi.FloatType):
            return _with_bounds({"type": "number"}, t), None
        if isinstance(t, mi.StrType):
            schema = {"type": "string"}
            if t.pattern is not None:
                schema["pattern"] = t.pattern
            return schema, None
        if type(t) in _STR_FORMATS:
            return {"type": "string", "format": _STR_FORMATS[type(t)]}, None
        if isinstance(t, (mi.BytesType, mi.ByteArrayType, mi.MemoryViewType)):
            return {"type": "string", "description": "base64-encoded bytes"}, None
        if isinstance(t, mi.DecimalType):
            # A string keeps every digit; a JSON number would go through float.
            return {"type": "string", "description": "a decimal number"}, None
        if isinstance(t, mi.EnumType):
            return _enum_schema([member.value for member in t.cls]), None
        if isinstance(t, mi.LiteralType):
            return _enum_schema(list(t.values)), None
        if isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
            return self._array(t)
        if isinstance(t, mi.TupleType):
            return self._tuple(t)
        if isinstance(t, (mi.DictType, mi.FrozenDictType)):
            return self._mapping(t)
        if isinstance(t, (mi.StructType, mi.DataclassType, mi.TypedDictType, mi.NamedTupleType)):
            return self._object(t)
        if isinstance(t, mi.UnionType):
            return self._union(t)
        # AnyType, RawType, ExtType, CustomType: no strict JSON Schema can express them.
        self.is_strict = False
        return {}, None

    def _array(self, t: Any) -> tuple[dict[str, Any], Restorer | None]:
        items, restore_item = self.node(t.item_type)
        schema: dict[str, Any] = {"type": "array", "items": items}
        if t.min_length is not None:
            schema["minItems"] = t.min_length
        if t.max_length is not None:
            schema["maxItems"] = t.max_length
        if restore_item is None:
            return schema, None
        return schema, _ListRestorer(restore_item)

    def _tuple(self, t: mi.TupleType) -> tuple[dict[str, Any], Restorer | None]:
        compiled = [self.node(item) for item in t.item_types]
        schemas = [schema for schema, _ in compiled]
        if not schemas:
            return {"type": "array", "maxItems": 0}, None
        if not self.strict or (schemas and all(s == schemas[0] for s in schemas)):
            # Homogeneous (or plain JSON Schema): an array of fixed length says it all.
            schema: dict[str, Any] = {"type": "array"}
            if self.strict:
                schema["items"] = schemas[0]
            else:
                schema["prefixItems"] = schemas
            schema["minItems"] = schema["maxItems"] = len(schemas)
            restore = compiled[0][1]
            return schema, (_ListRestorer(restore) if restore is not None else None)
        keys = [f"item_{i}" for i in range(len(schemas))]
        fields = [
            _FieldPlan(key, key, schema, restore, default_none=False)
            for key, (schema, restore) in zip(keys, compiled, strict=True)
        ]
        return _object_schema(fields, None), _PositionalRestorer(fields)

    def _mapping(self, t: Any) -> tuple[dict[str, Any], Restorer | None]:
        key_schema, restore_key = self.node(t.key_type)
        value_schema, restore_value = self.node(t.value_type)
        if not self.strict:
            schema: dict[str, Any] = {"type": "object", "additionalProperties": value_schema}
            if key_schema.get("pattern"):
                schema["propertyNames"] = {"pattern": key_schema["pattern"]}
            return schema, None
        entry = {
            "type": "object",
            "properties": {"key": key_schema, "value": value_schema},
            "required": ["key", "value"],
            "additionalProperties": False,
        }
        schema = {
            "type": "array",
            "description": "A mapping, written as a list of {key, value} entries.",
            "items": entry,
        }
        if t.min_length is not None:
            schema["minItems"] = t.min_length
        if t.max_length is not None:
            schema["maxItems"] = t.max_length
        return schema, _EntriesRestorer(restore_key, restore_value)

    def _object(self, t: Any) -> tuple[dict[str, Any], Restorer | None]:
        cls = t.cls
        if isinstance(t, mi.StructType) and t.array_like:
            raise TypeError(
                f"{cls.__name__} is an array_like Struct; generation schemas need Structs "
                "that encode to JSON objects."
            )
        if cls in self._building:
            # Recursion: refer to the definition instead of inlining forever.
            self._recursive.add(cls)
            return {"$ref": f"#/$defs/{self._def_name(cls)}"}, self._object_restorers.get(cls)

        positional = isinstance(t, mi.NamedTupleType)
        restorer: _ObjectRestorer = _PositionalRestorer([]) if positional else _ObjectRestorer([])
        self._object_restorers[cls] = restorer
        self._building.append(cls)
        try:
            plans = []
            if isinstance(t, mi.StructType) and t.tag_field is not None:
                tag_schema = _enum_schema([t.tag])
                plans.append(_FieldPlan(t.tag_field, t.tag_field, tag_schema, None, False))
            for field in _declared_order(t):
                schema, restore = self.node(field.type)
                optional = not field.required
                plan = _FieldPlan(field.name, field.encode_name, schema, restore, False)
                if optional and (positional or isinstance(t, mi.DataclassType)):
                    # msgspec leaves a missing dataclass field off the instance (it falls back
                    # to the class attribute), so to_builtins would drop it: fill it in instead.
                    plan.default = field.default
                    plan.default_factory = field.default_factory
                if optional:
                    # null for a field with a default means "not given": restoring drops it
                    # (so the default applies) unless None is a value the type accepts.
                    plan.default_none = not _accepts_none(field.type)
                    if self.strict:
                        # Every property is required, so an optional one becomes nullable.
                        plan.schema = _nullable(schema)
                    else:
                        plan.required = False
                plans.append(plan)
        finally:
            self._building.pop()
        restorer.fields = plans
        schema = _object_schema(plans, _description(cls))
        if cls in self._recursive:
            name = self._def_name(cls)
            self.defs.setdefault(name, schema)
            if self._building:
                # Not the root (which must stay an inline object): refer to the definition.
                return {"$ref": f"#/$defs/{name}"}, restorer
        return schema, restorer

    def _union(self, t: mi.UnionType) -> tuple[dict[str, Any], Restorer | None]:
        members = list(t.types)
        has_none = any(isinstance(m, mi.NoneType) for m in members)
        others = [m for m in members if not isinstance(m, mi.NoneType)]
        compiled = [(m, *self.node(m)) for m in others]
        if len(compiled) == 1:
            _, schema, restore = compiled[0]
            if has_none:
                schema = _nullable(schema)
            return schema, (_NullableRestorer(restore) if restore is not None else None)

        by_kind: dict[str, list[tuple[mi.Type, Restorer | None]]] = {}
        for member, schema, restore in compiled:
            for kind in _json_kinds(schema, self):
                by_kind.setdefault(kind, []).append((member, restore))
        dispatch: dict[str, Restorer | None] = {}
        for kind, entries in by_kind.items():
            restores = [restore for _, restore in entries if restore is not None]
            if not restores:
                dispatch[kind] = None
            elif len(entries) == 1:
                dispatch[kind] = restores[0]
            elif kind == "object" and all(_is_tagged_struct(m) for m, _ in entries):
                dispatch[kind] = _TagRestorer(
                    {_unwrap(m).tag_field: None for m, _ in entries},
                    {_unwrap(m).tag: r for m, r in entries},
                )
            else:
                names = ", ".join(repr(_describe_type(m)) for m, _ in entries)
                raise TypeError(
                    f"The union members {names} have the same JSON shape ({kind}) once "
                    "lowered for strict structured output, so a decoded value could not be "
                    "mapped back to one of them. Use a tagged Struct or separate fields."
                )
        any_of = [schema for _, schema, _ in compiled]
        if has_none:
            any_of.append({"type": "null"})
        restore = None
        if any(r is not None for r in dispatch.values()):
            restore = _KindRestorer(dispatch)
        return {"anyOf": any_of}, restore

    def _def_name(self, cls: type) -> str:
        name = self._def_names.get(cls)
        if name is None:
            base = schema_name(cls)
            name, n = base, 1
            taken = set(self._def_names.values())
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            self._def_names[cls] = name
        return name


# -- schema helpers --------------------------------------------------------------------------


@dataclasses.dataclass
class _FieldPlan:
    name: str
    key: str  # the JSON property name (msgspec's encode_name)
    schema: dict[str, Any]
    restore: Restorer | None
    default_none: bool  # null means "not given": drop it so the field's default applies
    required: bool = True
    # NamedTuple and dataclass fields: a dropped value is replaced by the field's default.
    default: Any = msgspec.NODEFAULT
    default_factory: Any = msgspec.NODEFAULT


def _object_schema(fields: list[_FieldPlan], description: str | None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = {f.key: f.schema for f in fields}
    schema["required"] = [f.key for f in fields if f.required]
    schema["additionalProperties"] = False
    return schema


def _with_bounds(schema: dict[str, Any], t: Any) -> dict[str, Any]:
    for attr, key in (
        ("ge", "minimum"),
        ("le", "maximum"),
        ("gt", "exclusiveMinimum"),
        ("lt", "exclusiveMaximum"),
        ("multiple_of", "multipleOf"),
    ):
        value = getattr(t, attr)
        if value is not None:
            schema[key] = value
    return schema


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    kinds = {type(v) for v in values}
    schema: dict[str, Any] = {}
    if kinds == {str}:
        schema["type"] = "string"
    elif kinds == {int}:
        schema["type"] = "integer"
    schema["enum"] = values
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null, in the form strict mode accepts."""
    kind = schema.get("type")
    if isinstance(kind, str) and set(schema) <= _SIMPLE_TYPE_KEYS:
        if kind == "null":
            return schema
        return {**schema, "type": [kind, "null"]}
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    if "anyOf" in schema and set(schema) <= {"anyOf", "description", "title"}:
        if {"type": "null"} in schema["anyOf"]:
            return schema
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    if not schema:
        return schema  # {} already accepts null
    if "description" in schema and "$ref" not in schema:
        # The description applies to the whole field, null included.
        inner = {k: v for k, v in schema.items() if k != "description"}
        return {"anyOf": [inner, {"type": "null"}], "description": schema["description"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _declared_order(
    t: mi.StructType | mi.TypedDictType | mi.DataclassType | mi.NamedTupleType,
) -> tuple[mi.Field, ...]:
    """The fields in declaration order (msgspec sorts a TypedDict's; models read in order)."""
    if not isinstance(t, mi.TypedDictType):
        return t.fields
    order = {name: i for i, name in enumerate(getattr(t.cls, "__annotations__", {}))}
    return tuple(sorted(t.fields, key=lambda f: order.get(f.name, len(order))))


def _accepts_none(t: mi.Type) -> bool:
    while isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(t, (mi.NoneType, mi.AnyType)):
        return True
    if isinstance(t, mi.UnionType):
        return any(_accepts_none(m) for m in t.types)
    return False


def _unwrap(t: mi.Type) -> Any:
    while isinstance(t, mi.Metadata):
        t = t.type
    return t


def _is_tagged_struct(t: mi.Type) -> bool:
    t = _unwrap(t)
    return isinstance(t, mi.StructType) and t.tag_field is not None


def _describe_type(t: mi.Type) -> str:
    t = _unwrap(t)
    cls = getattr(t, "cls", None)
    return cls.__name__ if cls is not None else type(t).__name__.removesuffix("Type").lower()


def _json_kinds(schema: dict[str, Any], compiler: _Compiler) -> list[str]:
    """The JSON value kinds a (member) schema can produce: for union dispatch on restore."""
    if "$ref" in schema:
        return ["object"]
    if "anyOf" in schema:
        kinds: list[str] = []
        for sub in schema["anyOf"]:
            kinds.extend(k for k in _json_kinds(sub, compiler) if k not in kinds)
        return kinds
    kind = schema.get("type")
    if kind is None:
        if "enum" in schema:
            return sorted({_value_kind(v) for v in schema["enum"]})
        return ["any"]
    kinds = kind if isinstance(kind, list) else [kind]
    # JSON has one number kind: an int member and a float member decode alike.
    return ["number" if k == "integer" else k for k in kinds]


def _value_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "any"


def _description(cls: type) -> str | None:
    doc = cls.__dict__.get("__doc__")
    if not doc:
        return None
    doc = _inspect.cleandoc(doc)
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("):
        return None  # the signature dataclasses write when there is no docstring
    if doc.startswith(f"{cls.__name__}(") and issubclass(cls, tuple):
        return None  # NamedTuple's generated doc
    # Paragraphs keep their breaks; the line wrapping of the source does not matter to a model.
    paragraphs = re.split(r"\n\s*\n", doc)
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


# -- restorers ---------------------------------------------------------------------------------
# Restorers are lenient: a value without the expected shape passes through unchanged, so the
# msgspec validation that follows reports the error with its path.


class _ListRestorer:
    __slots__ = ("item",)

    def __init__(self, item: Restorer) -> None:
        self.item = item

    def __call__(self, value: Any) -> Any:
        if type(value) is not list:
            return value
        item = self.item
        return [item(v) for v in value]


class _NullableRestorer:
    __slots__ = ("inner",)

    def __init__(self, inner: Restorer) -> None:
        self.inner = inner

    def __call__(self, value: Any) -> Any:
        return None if value is None else self.inner(value)


class _EntriesRestorer:
    __slots__ = ("key", "value")

    def __init__(self, key: Restorer | None, value: Restorer | None) -> None:
        self.key = key
        self.value = value

    def __call__(self, value: Any) -> Any:
        if type(value) is not list or not all(
            type(e) is dict and e.keys() == {"key", "value"} for e in value
        ):
            return value
        restore_key, restore_value = self.key, self.value
        out: dict[Any, Any] = {}
        for entry in value:
            k, v = entry["key"], entry["value"]
            if restore_key is not None:
                k = restore_key(k)
            if restore_value is not None:
                v = restore_value(v)
            if isinstance(k, list):
                k = tuple(k)  # a tuple key arrives as a JSON array; it must stay hashable
            out[k] = v  # a repeated key: the last entry wins, as in a JSON object
        return out


class _ObjectRestorer:
    __slots__ = ("fields",)

    def __init__(self, fields: list[_FieldPlan]) -> None:
        self.fields = fields

    def __call__(self, value: Any) -> Any:
        if type(value) is not dict:
            return value
        out = dict(value)
        for field in self.fields:
            if field.key not in out:
                continue
            v = out[field.key]
            if v is None and field.default_none:
                if field.default is not msgspec.NODEFAULT:
                    out[field.key] = field.default
                elif field.default_factory is not msgspec.NODEFAULT:
                    out[field.key] = field.default_factory()
                else:
                    del out[field.key]
            elif field.restore is not None:
                out[field.key] = field.restore(v)
        return out


class _PositionalRestorer(_ObjectRestorer):
    """An object with one property per position -> the array a tuple / NamedTuple decodes from."""

    __slots__ = ()

    def __call__(self, value: Any) -> Any:
        if type(value) is not dict:
            return value
        restored = super().__call__(value)
        items = []
        for field in self.fields:
            if field.key in restored:
                items.append(restored[field.key])
            elif field.default is not msgspec.NODEFAULT:
                items.append(field.default)
            elif field.default_factory is not msgspec.NODEFAULT:
                items.append(field.default_factory())
            else:
                break  # missing without a default: let validation report it
        return items


class _TagRestorer:
    __slots__ = ("by_tag", "tag_fields")

    def __init__(self, tag_fields: dict[str, None], by_tag: dict[Any, Restorer | None]) -> None:
        self.tag_fields = list(tag_fields)
        self.by_tag = by_tag

    def __call__(self, value: Any) -> Any:
        if type(value) is not dict:
            return value
        for tag_field in self.tag_fields:
            if tag_field in value:
                restore = self.by_tag.get(value[tag_field])
                if restore is not None:
                    return restore(value)
        return value


class _KindRestorer:
    __slots__ = ("dispatch",)

    def __init__(self, dispatch: dict[str, Restorer | None]) -> None:
        self.dispatch = dispatch

    def __call__(self, value: Any) -> Any:
        restore = self.dispatch.get(_value_kind(value))
        return value if restore is None else restore(value)
