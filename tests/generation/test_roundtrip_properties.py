"""Property tests: lowering and restoring round-trip generated values.

For rich Struct types (mappings with str/int/enum keys, nested and recursive Structs,
optionals, defaults, enums, literals, tuples, tagged unions), hypothesis generates values; a
reference encoder written here writes each value in the lowered wire shape (mappings as entry
lists, heterogeneous tuples as objects, and, at random, ``null`` for a field holding its
default, as a model may). The lowered JSON must validate against the generated schema, and
``StructuredOutput.decode`` must give back the original value.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Any, Literal

import msgspec
import msgspec.inspect as mi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgflux.generation import structured_output


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(msgspec.Struct):
    street: str
    zip_code: int | None = None
    labels: dict[str, str] = {}


class Node(msgspec.Struct):
    value: int
    children: list[Node] = []
    weights: dict[str, float] | None = None


class Cat(msgspec.Struct, tag="cat"):
    lives: int


class Dog(msgspec.Struct, tag="dog"):
    good: bool
    toys: dict[str, int] = {}


@dataclasses.dataclass
class Window:
    start: datetime.date
    days: int = 7


class Everything(msgspec.Struct, kw_only=True):
    name: str
    counts: dict[str, int]
    by_level: dict[Level, list[str]]
    by_id: dict[int, Address]
    nested: dict[str, dict[str, bool]]
    color: Color
    mode: Literal["fast", "slow"]
    maybe: Address | None
    pet: Cat | Dog
    pets: list[Cat | Dog]
    point: tuple[float, float]
    record: tuple[int, str, Color]
    tree: Node
    window: Window
    note: str = "n/a"
    limit: int = 10
    ratio: float | None = None
    mode_default: Literal["a", "b"] = "a"
    shelves: dict[str, list[Address]] = {}


class Renamed(msgspec.Struct, rename="camel"):
    first_name: str
    score_by_key: dict[str, int] = {}


class Small(msgspec.Struct):
    counts: dict[str, int]
    maybe_map: dict[int, str] | None = None


# -- value strategies, derived from msgspec's own type description ------------------------------

_INT = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_FLOAT = st.floats(allow_nan=False, allow_infinity=False)
_TEXT = st.text(max_size=8)
_LEAVES = {
    mi.NoneType: st.none(),
    mi.BoolType: st.booleans(),
    mi.IntType: _INT,
    mi.FloatType: _FLOAT,
    mi.StrType: _TEXT,
    mi.DateType: st.dates(),
}
_deferred: dict[type, st.SearchStrategy[Any]] = {}


def strategy(t: mi.Type) -> st.SearchStrategy[Any]:
    if isinstance(t, mi.Metadata):
        return strategy(t.type)
    if type(t) in _LEAVES:
        return _LEAVES[type(t)]
    if isinstance(t, mi.EnumType):
        return st.sampled_from(list(t.cls))
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(list(t.values))
    if isinstance(t, mi.ListType):
        return st.lists(strategy(t.item_type), max_size=3)
    if isinstance(t, mi.TupleType):
        return st.tuples(*(strategy(i) for i in t.item_types))
    if isinstance(t, mi.DictType):
        return st.dictionaries(strategy(t.key_type), strategy(t.value_type), max_size=3)
    if isinstance(t, mi.UnionType):
        return st.one_of([strategy(m) for m in t.types])
    if isinstance(t, (mi.StructType, mi.DataclassType)):
        cls = t.cls
        if cls not in _deferred:
            _deferred[cls] = st.deferred(lambda t=t: _object_strategy(t))
        return _deferred[cls]
    raise AssertionError(f"no strategy for {t!r}")


def _object_strategy(t: Any) -> st.SearchStrategy[Any]:
    fields = {}
    for field in t.fields:
        value = strategy(field.type)
        if not field.required:
            default = (
                field.default if field.default is not msgspec.NODEFAULT else field.default_factory()
            )
            value = st.one_of(st.just(default), value)  # defaults come up often
        fields[field.name] = value
    return st.fixed_dictionaries(fields).map(lambda kwargs: t.cls(**kwargs))


# -- the reference encoder: a value -> its lowered wire JSON ------------------------------------


def lower(value: Any, t: mi.Type, draw: Any) -> Any:
    if isinstance(t, mi.Metadata):
        return lower(value, t.type, draw)
    if isinstance(t, mi.UnionType):
        member = next(m for m in t.types if _belongs(value, m))
        return lower(value, member, draw)
    if isinstance(t, mi.EnumType):
        return value.value
    if isinstance(t, mi.DateType):
        return value.isoformat()
    if isinstance(t, mi.ListType):
        return [lower(v, t.item_type, draw) for v in value]
    if isinstance(t, mi.TupleType):
        if all(i == t.item_types[0] for i in t.item_types):
            return [lower(v, i, draw) for v, i in zip(value, t.item_types, strict=True)]
        return {
            f"item_{n}": lower(v, i, draw)
            for n, (v, i) in enumerate(zip(value, t.item_types, strict=True))
        }
    if isinstance(t, mi.DictType):
        return [
            {"key": lower(k, t.key_type, draw), "value": lower(v, t.value_type, draw)}
            for k, v in value.items()
        ]
    if isinstance(t, (mi.StructType, mi.DataclassType)):
        out: dict[str, Any] = {}
        if isinstance(t, mi.StructType) and t.tag_field is not None:
            out[t.tag_field] = t.tag
        for field in t.fields:
            v = getattr(value, field.name)
            if not field.required and not _accepts_none(field.type):
                default = (
                    field.default
                    if field.default is not msgspec.NODEFAULT
                    else field.default_factory()
                )
                if v == default and draw(st.booleans()):
                    out[field.encode_name] = None  # the model leaves a defaulted field out
                    continue
            out[field.encode_name] = lower(v, field.type, draw)
        return out
    return value


def _accepts_none(t: mi.Type) -> bool:
    if isinstance(t, mi.Metadata):
        return _accepts_none(t.type)
    if isinstance(t, mi.UnionType):
        return any(isinstance(m, mi.NoneType) for m in t.types)
    return isinstance(t, mi.NoneType)


def _belongs(value: Any, t: mi.Type) -> bool:
    if isinstance(t, mi.NoneType):
        return value is None
    if isinstance(t, (mi.StructType, mi.DataclassType)):
        return isinstance(value, t.cls)
    if isinstance(t, mi.DictType):
        return isinstance(value, dict)
    if isinstance(t, mi.FloatType):
        return isinstance(value, float)
    return value is not None


# -- the properties -------------------------------------------------------------------------------


def _round_trip(schema_cls: type, data: st.DataObject, valid: Any) -> None:
    info = mi.type_info(schema_cls)
    value = data.draw(strategy(info), label="value")
    wire = lower(value, info, data.draw)
    output = structured_output(schema_cls)
    text = msgspec.json.encode(wire)
    assert valid(msgspec.json.decode(text), output.json_schema), wire
    decoded = output.decode(text)
    assert msgspec.convert(decoded, schema_cls) == value
    assert decoded == msgspec.to_builtins(value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_everything_round_trips(data: st.DataObject, valid: Any) -> None:
    _round_trip(Everything, data, valid)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_recursive_struct_round_trips(data: st.DataObject, valid: Any) -> None:
    _round_trip(Node, data, valid)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_renamed_fields_round_trip(data: st.DataObject, valid: Any) -> None:
    _round_trip(Renamed, data, valid)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_optional_mapping_round_trips(data: st.DataObject, valid: Any) -> None:
    _round_trip(Small, data, valid)


def test_schemas_of_the_property_types_are_strict(strict_form: Any) -> None:
    for cls in (Everything, Node, Renamed, Small):
        output = structured_output(cls)
        strict_form(output.json_schema)
        assert output.strict is True
