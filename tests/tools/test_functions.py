"""Tool schemas from Python callables, and calling them with a model's arguments."""

from __future__ import annotations

import datetime
import enum
import functools
from typing import Annotated, Literal

import msgspec
import pytest

from msgflux.tools import Tool, ToolArgumentsError, function_schema
from msgflux.tools.docstrings import parse_docstring


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Address(msgspec.Struct):
    """A postal address."""

    city: str
    country: str = "FR"


def get_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather.

    Args:
        location: City and country,
            e.g. Paris, France.
        unit (str): Temperature unit.

    Returns:
        A sentence.
    """
    return f"{location}: 22 {unit}"


def test_strict_schema_of_a_google_documented_function():
    assert function_schema(get_weather) == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather.",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "City and country, e.g. Paris, France.",
                    },
                    "unit": {
                        "anyOf": [
                            {"type": "string", "enum": ["celsius", "fahrenheit"]},
                            {"type": "null"},
                        ],
                        "description": "Temperature unit.",
                    },
                },
                "required": ["location", "unit"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }


def test_plain_schema_requires_only_parameters_without_default():
    schema = function_schema(get_weather, strict=False)
    parameters = schema["function"]["parameters"]
    assert schema["function"]["strict"] is False
    assert parameters["required"] == ["location"]
    assert parameters["properties"]["unit"] == {
        "type": "string",
        "enum": ["celsius", "fahrenheit"],
        "description": "Temperature unit.",
    }


def test_optional_without_default_is_required_and_nullable_in_both_forms():
    def f(note: str | None) -> None: ...

    for strict in (True, False):
        parameters = function_schema(f, strict=strict)["function"]["parameters"]
        assert parameters["required"] == ["note"]
        assert parameters["properties"]["note"] == {"type": ["string", "null"]}


def test_types_enum_list_dict_and_struct_parameters():
    def plan(
        when: datetime.date,
        stops: list[Address],
        unit: Unit,
        budget: dict[str, float],
        tags: set[str] | None = None,
    ) -> None:
        """Plan a trip."""

    params = function_schema(plan)["function"]["parameters"]
    props = params["properties"]
    assert props["when"] == {"type": "string", "format": "date"}
    assert props["unit"] == {"type": "string", "enum": ["celsius", "fahrenheit"]}
    assert props["stops"]["items"] == {
        "type": "object",
        "description": "A postal address.",
        "properties": {"city": {"type": "string"}, "country": {"type": ["string", "null"]}},
        "required": ["city", "country"],
        "additionalProperties": False,
    }
    # Strict mode cannot express a free-form mapping: it is lowered to {key, value} entries.
    assert props["budget"]["type"] == "array"
    assert props["budget"]["items"]["properties"] == {
        "key": {"type": "string"},
        "value": {"type": "number"},
    }
    assert props["tags"] == {"type": ["array", "null"], "items": {"type": "string"}}
    assert params["required"] == ["when", "stops", "unit", "budget", "tags"]
    plain = function_schema(plan, strict=False)["function"]["parameters"]["properties"]
    assert plain["budget"] == {"type": "object", "additionalProperties": {"type": "number"}}


def test_annotated_descriptions_win_over_the_docstring():
    def f(x: Annotated[int, msgspec.Meta(description="from Meta", ge=0)]) -> None:
        """F.

        Args:
            x: from docstring
        """

    assert function_schema(f)["function"]["parameters"]["properties"]["x"] == {
        "type": "integer",
        "minimum": 0,
        "description": "from Meta",
    }


def test_unannotated_parameters_are_typed_from_defaults_else_strings():
    def f(location, unit="celsius", days=3, ratio=0.5, verbose=False, extra=None):
        """Spec-style function without hints."""

    props = function_schema(f, strict=False)["function"]["parameters"]["properties"]
    assert {k: v["type"] for k, v in props.items()} == {
        "location": "string",
        "unit": "string",
        "days": "integer",
        "ratio": "number",
        "verbose": "boolean",
        "extra": "string",
    }


def test_async_functions_methods_partials_and_callable_objects():
    async def fetch(url: str) -> str:
        """Fetch a page."""
        return url

    class Service:
        def lookup(self, key: str, limit: int = 5) -> str:
            """Look a key up.

            :param key: The key.
            :param int limit: At most this many.
            """
            return key

        @classmethod
        def build(cls, name: str) -> str:
            """Build one."""
            return name

    class Adder:
        def __call__(self, a: int, b: int) -> int:
            """Add two numbers."""
            return a + b

    def scale(x: float, factor: float) -> float:
        """Scale x."""
        return x * factor

    assert function_schema(fetch)["function"]["name"] == "fetch"
    lookup = function_schema(Service().lookup)["function"]
    assert lookup["name"] == "lookup" and list(lookup["parameters"]["properties"]) == [
        "key",
        "limit",
    ]
    assert lookup["parameters"]["properties"]["limit"]["description"] == "At most this many."
    assert list(function_schema(Service.build)["function"]["parameters"]["properties"]) == ["name"]
    adder = function_schema(Adder())["function"]
    assert adder["name"] == "Adder" and adder["description"] == "Add two numbers."
    assert list(adder["parameters"]["properties"]) == ["a", "b"]
    partial = function_schema(functools.partial(scale, factor=2.0))["function"]
    assert partial["name"] == "scale"
    assert partial["parameters"]["required"] == ["x", "factor"]  # factor now has a default


def test_var_args_are_left_out_and_positional_only_is_rejected():
    def f(a: int, *args: int, b: int = 1, **kwargs: int) -> None: ...

    assert list(function_schema(f)["function"]["parameters"]["properties"]) == ["a", "b"]

    def g(a: int, /) -> None: ...

    with pytest.raises(ValueError, match="positional-only"):
        function_schema(g)


def test_invalid_names_need_an_explicit_name():
    with pytest.raises(ValueError, match="name="):
        function_schema(lambda x: x)
    schema = function_schema(lambda x: x, name="identity", description="Return x.")
    assert schema["function"]["name"] == "identity"
    assert schema["function"]["description"] == "Return x."


def test_the_schema_is_fresh_each_time():
    tool = Tool.from_callable(get_weather)
    tool.schema["function"]["parameters"]["properties"].clear()
    assert "location" in tool.schema["function"]["parameters"]["properties"]


# -- calling -----------------------------------------------------------------------------------


def book(address: Address, unit: Unit, nights: dict[str, int], note: str = "none") -> str:
    """Book a stay."""
    return f"{address.city}/{address.country} {unit.name} {sorted(nights.items())} {note}"


def test_parse_arguments_restores_converts_and_applies_defaults():
    tool = Tool.from_callable(book)
    kwargs = tool.parse_arguments(
        {
            "address": {"city": "Lyon", "country": None},
            "unit": "celsius",
            "nights": [{"key": "fri", "value": 1}, {"key": "sat", "value": 2}],
            "note": None,
        }
    )
    assert kwargs == {
        "address": Address(city="Lyon", country="FR"),
        "unit": Unit.CELSIUS,
        "nights": {"fri": 1, "sat": 2},
    }
    assert tool.call(kwargs | {"address": {"city": "Lyon"}, "unit": "celsius", "nights": []}) == (
        "Lyon/FR CELSIUS [] none"
    )


def test_parse_arguments_accepts_json_text():
    tool = Tool.from_callable(get_weather)
    assert tool.parse_arguments('{"location": "Paris", "unit": null}') == {"location": "Paris"}
    assert tool.call('{"location": "Paris"}') == "Paris: 22 celsius"


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ('{"location": ', "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ({"unit": "celsius"}, "location"),
        ({"location": "x", "unit": "kelvin"}, "unit"),
        ({"location": "x", "surprise": 1}, "surprise"),
    ],
)
def test_bad_arguments_raise_with_the_raw_text(arguments, fragment):
    tool = Tool.from_callable(get_weather)
    with pytest.raises(ToolArgumentsError) as info:
        tool.parse_arguments(arguments)
    assert fragment in str(info.value) and "get_weather" in str(info.value)
    assert info.value.raw_text is not None and info.value.name == "get_weather"


def test_var_kwargs_receive_unknown_arguments():
    def f(a: int, **rest: int) -> dict:
        return {"a": a, **rest}

    assert Tool.from_callable(f).call({"a": 1, "b": 2}) == {"a": 1, "b": 2}


async def test_acall_awaits_async_tools_and_runs_sync_ones():
    async def add(a: int, b: int) -> int:
        return a + b

    tool = Tool.from_callable(add)
    assert await tool.acall({"a": 1, "b": 2}) == 3
    with pytest.raises(TypeError, match="acall"):
        tool.call({"a": 1, "b": 2})
    assert await Tool.from_callable(get_weather).acall({"location": "Rome"}) == "Rome: 22 celsius"


# -- docstrings ---------------------------------------------------------------------------------


def test_docstring_styles():
    google = parse_docstring(
        """Summary line.

        More detail.

        Args:
            a (int): First,
                continued.
            b: Second.

        Raises:
            ValueError: never
        """
    )
    assert google.summary == "Summary line.\n\nMore detail."
    assert google.params == {"a": "First, continued.", "b": "Second."}

    rest = parse_docstring(
        """Do it.

        :param a: First.
        :param str b: Second,
            continued.
        :returns: nothing
        """
    )
    assert rest.summary == "Do it." and rest.params == {"a": "First.", "b": "Second, continued."}

    numpy = parse_docstring(
        """Do it.

        Parameters
        ----------
        a : int
            First.
        b : str
            Second.

        Returns
        -------
        None
        """
    )
    assert numpy.summary == "Do it." and numpy.params == {"a": "First.", "b": "Second."}
    assert parse_docstring(None).summary == "" and parse_docstring("").params == {}
