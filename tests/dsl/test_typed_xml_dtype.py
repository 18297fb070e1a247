"""``typed_xml`` reads the ``dtype=`` attribute that msgflux 0.5's template taught models.

Programs written for 0.5 keep system prompts that ask for ``<age dtype="int">30</age>``
and ``<roles dtype="list"><role>...</role></roles>``; the answers must decode to the same
typed data as before. The calls below are written the way such a program makes them
(``typed_parser="typed_xml"``, then ``response.consume()``), with the offline ``fake``
provider standing in for the model.
"""

from __future__ import annotations

import pytest

import msgflux as mf

SYSTEM_PROMPT_OF_0_5 = """Extract the profile.
You should then generate an XML specifying the dtype.
The available data types are: str (default if not specified), int, float, bool, dict and list."""


def ask(answer: str) -> mf.ModelResponse:
    """Call a model whose answer is ``answer``, as a 0.5 program calls one."""
    model = mf.Model.chat_completion("fake/scripted", responses=[answer])
    return model(
        messages="Ada, 36, admin and editor, lives in London.",
        system_prompt=SYSTEM_PROMPT_OF_0_5,
        typed_parser="typed_xml",
    )


def test_dtype_types_scalars_lists_and_dicts():
    answer = """<response>
      <name dtype="str">Ada</name>
      <age dtype="int">36</age>
      <height dtype="float">1.65</height>
      <active dtype="bool">true</active>
      <admin dtype="bool">false</admin>
      <roles dtype="list">
        <role>admin</role>
        <role>editor</role>
      </roles>
      <address dtype="dict">
        <city dtype="str">London</city>
        <floor dtype="int">2</floor>
        <zip>N1</zip>
      </address>
      <logins dtype="list">
        <login dtype="dict"><ip>10.0.0.1</ip><ok dtype="bool">true</ok></login>
        <login dtype="dict"><ip>10.0.0.2</ip><ok dtype="bool">false</ok></login>
      </logins>
    </response>"""

    response = ask(answer)

    assert response.response_type == "structured"
    assert response.consume() == {
        "name": "Ada",
        "age": 36,
        "height": 1.65,
        "active": True,
        "admin": False,
        "roles": ["admin", "editor"],
        "address": {"city": "London", "floor": 2, "zip": "N1"},
        "logins": [{"ip": "10.0.0.1", "ok": True}, {"ip": "10.0.0.2", "ok": False}],
    }


def test_bare_elements_without_a_response_root():
    # 0.5's template did not ask for a <response> element.
    result = ask('<age dtype="int">30</age>\n<nickname>Ann</nickname>').consume()

    assert result == {"age": 30, "nickname": "Ann"}
    assert isinstance(result["age"], int)


def test_a_dtype_list_is_a_list_whatever_its_children_are_called():
    answer = """<response>
      <one dtype="list"><tag>x</tag></one>
      <none dtype="list"/>
      <numbers dtype="list"><n dtype="int">1</n><n dtype="float">2.5</n></numbers>
      <mixed dtype="list"><a>x</a><b>y</b></mixed>
    </response>"""

    assert ask(answer).consume() == {
        "one": ["x"],
        "none": [],
        "numbers": [1, 2.5],
        "mixed": ["x", "y"],
    }


def test_type_keeps_working_and_wins_over_dtype():
    answer = """<response>
      <count type="int">3</count>
      <both type="int" dtype="str">5</both>
      <ids type="list[int]"><item>1</item><item>2</item></ids>
    </response>"""

    assert ask(answer).consume() == {"count": 3, "both": 5, "ids": [1, 2]}


@pytest.mark.parametrize(
    ("element", "fragment"),
    [
        ('<a dtype="complex">1j</a>', "unknown type dtype='complex'; the types are str, int"),
        ('<a dtype="int">thirty</a>', "bad value"),
        ('<a dtype="bool">maybe</a>', "true or false"),
    ],
)
def test_a_bad_dtype_or_value_is_a_structured_output_error(element, fragment):
    answer = f"<response>{element}</response>"

    with pytest.raises(mf.StructuredOutputError) as caught:
        ask(answer)

    assert fragment in str(caught.value)
    assert caught.value.raw_text == answer
