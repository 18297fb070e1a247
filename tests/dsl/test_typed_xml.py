"""The typed_xml parser, the parser registry, and validation against a schema."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import msgspec
import pytest

import msgflux.dsl as dsl
from msgflux.dotdict import dotdict
from msgflux.dsl.typed_parsers import (
    TypedParser,
    TypedParserNotFoundError,
    get_typed_parser,
    register_typed_parser,
    typed_parser_registry,
    validate_against_schema,
)
from msgflux.errors import StructuredOutputError

typed_xml = get_typed_parser("typed_xml")


def test_reachable_the_way_the_spec_writes_it():
    assert dsl.typed_parsers.typed_parser_registry["typed_xml"] is typed_xml
    assert isinstance(typed_xml, TypedParser)


def test_template_is_jinja_with_one_instructions_placeholder():
    # Only `{{ instructions }}` is Jinja syntax, so Jinja renders it as a plain substitution.
    assert re.findall(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", typed_xml.template) == [
        "{{ instructions }}"
    ]
    prompt = typed_xml.render("name: str\nparticipants: list[str]")
    assert prompt.startswith("name: str\nparticipants: list[str]")
    assert "<response>" in prompt and "{{" not in prompt


def test_spec_example():
    answer = """<response>
  <name type="str">science fair</name>
  <date type="str">Friday</date>
  <participants type="list">
    <item type="str">Alice</item>
    <item type="str">Bob</item>
  </participants>
</response>"""
    assert typed_xml.decode(answer) == {
        "name": "science fair",
        "date": "Friday",
        "participants": ["Alice", "Bob"],
    }


def test_typed_values():
    answer = """<response>
      <count type="int">3</count>
      <whole type="int">4.0</whole>
      <ratio type="float">0.25</ratio>
      <yes type="bool">True</yes>
      <no type="boolean">false</no>
      <nothing type="null"/>
      <empty type="str"></empty>
      <empty_list type="list"/>
      <ids type="list[int]"><item>1</item><item>2</item></ids>
      <grid type="list[list[int]]"><item><item>1</item></item><item><item>2</item></item></grid>
      <by_name type="dict[str, float]"><a>1.5</a><entry key="b c">2</entry></by_name>
      <room type="dict">
        <building type="str">B</building>
        <floors type="list"><item type="int">1</item><item type="str">roof</item></floors>
        <inner type="dict"><deep type="bool">1</deep></inner>
      </room>
      <untyped>text &amp; more</untyped>
      <untyped_list><item>a</item><item>b</item></untyped_list>
      <untyped_dict><k>v</k></untyped_dict>
      <optional type="Optional[int]">7</optional>
    </response>"""
    assert typed_xml.decode(answer) == {
        "count": 3,
        "whole": 4,
        "ratio": 0.25,
        "yes": True,
        "no": False,
        "nothing": None,
        "empty": "",
        "empty_list": [],
        "ids": [1, 2],
        "grid": [[1], [2]],
        "by_name": {"a": 1.5, "b c": 2.0},
        "room": {"building": "B", "floors": [1, "roof"], "inner": {"deep": True}},
        "untyped": "text & more",
        "untyped_list": ["a", "b"],
        "untyped_dict": {"k": "v"},
        "optional": 7,
    }


def test_repeated_elements_become_a_list():
    answer = "<response><tag>a</tag><tag>b</tag><tag>c</tag><one>x</one></response>"
    assert typed_xml.decode(answer) == {"tag": ["a", "b", "c"], "one": "x"}


def test_fences_prose_declaration_and_bare_fields():
    fenced = textwrap.dedent(
        """\
        Here is the answer:
        ```xml
        <?xml version="1.0"?>
        <response><n type="int">1</n></response>
        ```
        Hope it helps."""
    )
    assert typed_xml.decode(fenced) == {"n": 1}
    assert typed_xml.decode('Sure. <response><n type="int">2</n></response> Done.') == {"n": 2}
    assert typed_xml.decode('<n type="int">3</n><m>x</m>') == {"n": 3, "m": "x"}
    assert typed_xml.decode("<response/>") == {}
    assert typed_xml.decode('<response><n type="int">4</n>') == {"n": 4}  # truncated end tag


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        ("<response><a>1</b></response>", "not well-formed"),
        ('<response><a type="int">one</a></response>', "bad value"),
        ('<response><a type="bool">maybe</a></response>', "true or false"),
        ('<response><a type="int">1.5</a></response>', "should be an int"),
        ('<response><a type="complex">1j</a></response>', "unknown type"),
    ],
)
def test_bad_answers_raise_with_the_raw_text(answer, fragment):
    with pytest.raises(StructuredOutputError) as info:
        typed_xml.decode(answer)
    assert fragment in str(info.value) and info.value.raw_text == answer


def test_entity_expansion_is_refused():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        "<response><a>&lol2;</a></response>"
    )
    with pytest.raises(StructuredOutputError):
        typed_xml.decode(bomb.replace('<?xml version="1.0"?>', ""))
    external = (
        '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><response><a>&x;</a></response>'
    )
    with pytest.raises(StructuredOutputError):
        typed_xml.decode(external)


def test_missing_defusedxml_is_a_clear_import_error_not_a_fallback():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["defusedxml"] = None  # as if the msgflux[xml] extra were not installed
        sys.modules["defusedxml.ElementTree"] = None
        from msgflux.dsl.typed_parsers import get_typed_parser
        try:
            get_typed_parser("typed_xml").decode("<response><a>1</a></response>")
        except ImportError as exc:
            print("ImportError:", exc)
        else:
            print("parsed without defusedxml")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("ImportError:") and "pip install msgflux[xml]" in out.stdout


def test_unknown_parser_lists_the_available_ones():
    with pytest.raises(TypedParserNotFoundError) as info:
        get_typed_parser("typed_yaml")
    err = info.value
    assert isinstance(err, KeyError) and isinstance(err, ValueError)
    assert str(err) == "Unknown typed parser 'typed_yaml'; the available parsers are: 'typed_xml'."
    assert err.available == ["typed_xml"]


def test_register_a_parser():
    class Lines:
        name = "lines"
        template = "{{ instructions }}\nOne key=value per line."

        def render(self, instructions: str) -> str:
            return self.template.replace("{{ instructions }}", instructions)

        def decode(self, text: str) -> dict:
            return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    register_typed_parser(Lines())
    try:
        assert get_typed_parser("lines").decode("a=1\nb=2") == {"a": "1", "b": "2"}
    finally:
        typed_parser_registry.pop("lines")
    with pytest.raises(TypeError):
        register_typed_parser(object())  # type: ignore[arg-type]


class Event(msgspec.Struct):
    name: str
    attendees: int
    participants: list[str]
    remote: bool = False


def test_validate_against_schema_is_lax_about_text_types():
    data = typed_xml.decode(
        "<response><name>fair</name><attendees>2</attendees>"
        "<participants><item>A</item><item>B</item></participants></response>"
    )
    assert data["attendees"] == "2"  # untyped: text
    result = validate_against_schema(data, Event)
    assert result == {"name": "fair", "attendees": 2, "participants": ["A", "B"], "remote": False}
    assert isinstance(result, dotdict) and result.attendees == 2


def test_validate_against_schema_raises_structured_output_error():
    raw = "<response><name>fair</name></response>"
    with pytest.raises(StructuredOutputError) as info:
        validate_against_schema(typed_xml.decode(raw), Event, raw_text=raw)
    assert info.value.raw_text == raw and "Event" in str(info.value)
    with pytest.raises(StructuredOutputError) as info:
        validate_against_schema({"name": 1}, Event)
    assert info.value.raw_text == '{"name":1}'
