"""structured_output: the response_format sent, and the answer decoded."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import enum
from typing import Annotated, Any, Literal, NamedTuple, TypedDict

import msgspec
import pytest

from msgflux.dotdict import dotdict
from msgflux.errors import ResponseDecodeError, StructuredOutputError
from msgflux.generation import StructuredOutput, structured_output


class CalendarEvent(msgspec.Struct):
    name: str
    date: str
    participants: list[str]


class Address(msgspec.Struct):
    street: str
    city: str
    country: str


class Person(msgspec.Struct):
    name: str
    age: int
    address: Address


def test_response_format_of_the_spec_example():
    assert structured_output(CalendarEvent).response_format == {
        "type": "json_schema",
        "json_schema": {
            "name": "CalendarEvent",
            "schema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "date": {"type": "string"},
                    "participants": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["name", "date", "participants"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }


def test_nested_structs_decode_to_nested_dotdicts():
    output = structured_output(Person)
    address = output.json_schema["properties"]["address"]
    assert address["required"] == ["street", "city", "country"]
    assert address["additionalProperties"] is False
    person = output.decode(
        '{"name": "John Doe", "age": 30, "address": '
        '{"street": "123 Main St", "city": "New York", "country": "USA"}}'
    )
    assert person == {
        "name": "John Doe",
        "age": 30,
        "address": {"street": "123 Main St", "city": "New York", "country": "USA"},
    }
    assert isinstance(person, dotdict) and isinstance(person.address, dotdict)
    assert person.address.city == "New York"


def test_json_schema_is_the_schema_inside_response_format():
    output = structured_output(Person)
    assert output.json_schema == output.response_format["json_schema"]["schema"]


def test_handed_out_schemas_are_fresh():
    output = structured_output(Person)
    expected = copy.deepcopy(output.response_format)
    fmt = output.response_format
    fmt["json_schema"]["schema"]["properties"].clear()
    fmt["json_schema"]["strict"] = False
    output.json_schema["required"].append("x")
    assert output.response_format == expected
    assert structured_output(Person).response_format == expected


def test_cache_is_per_class_identity():
    assert structured_output(Person) is structured_output(Person)

    def make() -> type:
        class Answer(msgspec.Struct):
            value: int

        return Answer

    def make_other() -> type:
        class Answer(msgspec.Struct):
            text: str

        return Answer

    first, second = make(), make_other()
    a, b = structured_output(first), structured_output(second)
    assert a is not b and a.name == b.name == "Answer"
    assert a.cache_key() != b.cache_key()
    assert a.json_schema["properties"] == {"value": {"type": "integer"}}
    assert b.json_schema["properties"] == {"text": {"type": "string"}}
    assert a.decode('{"value": 1}') == {"value": 1}
    with pytest.raises(StructuredOutputError):
        b.decode('{"value": 1}')


def test_undecodable_answer_keeps_the_raw_text():
    output = structured_output(CalendarEvent)
    with pytest.raises(StructuredOutputError) as info:
        output.decode('{"name": "fair", "date": ')
    assert info.value.raw_text == '{"name": "fair", "date": '
    assert isinstance(info.value, ResponseDecodeError) and isinstance(info.value, ValueError)
    assert "CalendarEvent" in str(info.value)


def test_answer_not_matching_the_schema_keeps_the_raw_text():
    raw = '{"name": "fair", "date": "Fri", "participants": "Alice"}'
    with pytest.raises(StructuredOutputError) as info:
        structured_output(CalendarEvent).decode(raw)
    assert info.value.raw_text == raw and "participants" in str(info.value)


def test_non_object_answer():
    with pytest.raises(StructuredOutputError, match="JSON object") as info:
        structured_output(CalendarEvent).decode("[1, 2]")
    assert info.value.raw_text == "[1, 2]"


def test_code_fenced_answer_is_tolerated():
    text = '```json\n{"name": "fair", "date": "Fri", "participants": []}\n```'
    assert structured_output(CalendarEvent).decode(text).name == "fair"


def test_bytes_are_decoded_too():
    raw = b'{"name": "fair", "date": "Fri", "participants": ["A"]}'
    assert structured_output(CalendarEvent).decode(raw).participants == ["A"]


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


class Rich(msgspec.Struct, kw_only=True):
    """A rich schema."""

    mood: Mood
    label: Literal["positive", "negative"]
    scores: dict[str, float]
    when: datetime.datetime
    score: Annotated[float, msgspec.Meta(ge=0, le=1, description="Confidence.")]
    code: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", max_length=3)]
    note: str = "none"
    maybe: int | None = None


def test_rich_schema_shape(strict_form: Any):
    schema = structured_output(Rich).json_schema
    strict_form(schema)
    props = schema["properties"]
    assert schema["description"] == "A rich schema."
    assert props["mood"] == {"type": "string", "enum": ["happy", "sad"]}
    assert props["label"] == {"type": "string", "enum": ["negative", "positive"]}
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert props["score"] == {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "description": "Confidence.",
    }
    # maxLength is outside the strict subset: left out of the schema, enforced on decode.
    assert props["code"] == {"type": "string", "pattern": "^[A-Z]{3}$"}
    assert props["note"] == {"type": ["string", "null"]}
    assert props["maybe"] == {"type": ["integer", "null"]}
    assert props["scores"]["type"] == "array"


def test_rich_decode_restores_and_validates():
    output = structured_output(Rich)
    data = output.decode(
        '{"mood": "sad", "label": "positive", "scores": [{"key": "a", "value": 0.5}],'
        ' "when": "2024-05-01T10:00:00Z", "score": 0.9, "code": "ABC",'
        ' "note": null, "maybe": null}'
    )
    assert data == {
        "mood": "sad",
        "label": "positive",
        "scores": {"a": 0.5},
        "when": "2024-05-01T10:00:00Z",
        "score": 0.9,
        "code": "ABC",
        "note": "none",  # null for a defaulted field: the default
        "maybe": None,  # null for an Optional field: None
    }
    with pytest.raises(StructuredOutputError, match="score"):
        output.decode(
            '{"mood": "sad", "label": "positive", "scores": [], "when": "2024-05-01T10:00:00Z",'
            ' "score": 1.5, "code": "ABC", "note": null, "maybe": null}'
        )


class Tree(msgspec.Struct):
    value: int
    children: list[Tree] = []


class Forest(msgspec.Struct):
    trees: list[Tree]
    biggest: Tree | None = None


def test_recursive_structs_use_defs(strict_form: Any):
    schema = structured_output(Forest).json_schema
    strict_form(schema)
    assert schema["properties"]["trees"] == {"type": "array", "items": {"$ref": "#/$defs/Tree"}}
    assert schema["properties"]["biggest"] == {
        "anyOf": [{"$ref": "#/$defs/Tree"}, {"type": "null"}]
    }
    assert schema["$defs"]["Tree"]["properties"]["children"] == {
        "type": ["array", "null"],
        "items": {"$ref": "#/$defs/Tree"},
    }
    data = structured_output(Forest).decode(
        '{"trees": [{"value": 1, "children": [{"value": 2, "children": null}]}], "biggest": null}'
    )
    assert data.trees[0].children[0] == {"value": 2, "children": []}


def test_recursive_root_keeps_an_inline_object(strict_form: Any):
    schema = structured_output(Tree).json_schema
    strict_form(schema)
    assert schema["type"] == "object" and "Tree" in schema["$defs"]


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Span(TypedDict, total=False):
    start: int
    end: int


def test_dataclass_and_typeddict_schemas():
    assert structured_output(Point).decode('{"x": 1, "y": null}') == {"x": 1, "y": 0}
    span = structured_output(Span)
    assert span.json_schema["required"] == ["start", "end"]
    assert span.decode('{"start": 1, "end": null}') == {"start": 1}


def test_any_fields_make_the_schema_non_strict():
    class Loose(msgspec.Struct):
        payload: Any

    output = structured_output(Loose)
    assert output.strict is False
    assert output.response_format["json_schema"]["strict"] is False
    assert output.decode('{"payload": [1, "x"]}') == {"payload": [1, "x"]}


@pytest.mark.parametrize(
    "schema",
    [list[int], int, "CalendarEvent", CalendarEvent(name="x", date="y", participants=[])],
)
def test_non_object_schemas_are_rejected(schema):
    with pytest.raises(TypeError):
        structured_output(schema)


def test_array_like_structs_are_rejected():
    class Pair(msgspec.Struct, array_like=True):
        a: int

    with pytest.raises(TypeError, match="array_like"):
        structured_output(Pair)


def test_unions_that_lowering_makes_ambiguous_are_rejected():
    class Ambiguous(msgspec.Struct):
        value: list[str] | dict[str, str]

    with pytest.raises(TypeError, match="same JSON shape"):
        structured_output(Ambiguous)


class Circle(msgspec.Struct, tag="circle"):
    radius: float
    meta: dict[str, str] = {}


class Square(msgspec.Struct, tag="square"):
    side: float
    meta: dict[str, int] = {}


class Drawing(msgspec.Struct):
    shapes: list[Circle | Square]


def test_tagged_struct_unions_restore_by_tag():
    output = structured_output(Drawing)
    branches = output.json_schema["properties"]["shapes"]["items"]["anyOf"]
    assert [b["properties"]["type"] for b in branches] == [
        {"type": "string", "enum": ["circle"]},
        {"type": "string", "enum": ["square"]},
    ]
    data = output.decode(
        '{"shapes": [{"type": "square", "side": 2, "meta": [{"key": "n", "value": 1}]},'
        ' {"type": "circle", "radius": 1, "meta": null}]}'
    )
    assert data.shapes == [
        {"type": "square", "side": 2.0, "meta": {"n": 1}},
        {"type": "circle", "radius": 1.0, "meta": {}},
    ]


def test_long_and_odd_names_are_made_acceptable():
    Weird = msgspec.defstruct("Weird.Name with spaces" + "x" * 80, [("a", int)])
    name = structured_output(Weird).name
    assert len(name) == 64 and " " not in name and "." not in name


def test_repr():
    assert isinstance(repr(structured_output(Person)), str)
    assert isinstance(structured_output(Person), StructuredOutput)


class Span2(NamedTuple):
    start: int
    label: str = "none"
    weight: float = 1.0


class Shapes(msgspec.Struct):
    span: Span2
    tags: frozenset[str]
    values: tuple[int, ...]
    pair: tuple[int, int]


def test_named_tuples_sets_and_tuples(strict_form: Any):
    output = structured_output(Shapes)
    schema = output.json_schema
    strict_form(schema)
    assert schema["properties"]["span"]["required"] == ["start", "label", "weight"]
    assert schema["properties"]["pair"] == {
        "type": "array",
        "items": {"type": "integer"},
        "minItems": 2,
        "maxItems": 2,
    }
    data = output.decode(
        '{"span": {"start": 1, "label": null, "weight": 2.5}, "tags": ["a", "b"],'
        ' "values": [1, 2, 3], "pair": [4, 5]}'
    )
    assert msgspec.convert(data, Shapes) == Shapes(
        span=Span2(1, "none", 2.5), tags=frozenset({"a", "b"}), values=(1, 2, 3), pair=(4, 5)
    )
