"""Every model option is declared once (``msgflux.models.settings``): what derives from it."""

from __future__ import annotations

import inspect

import msgspec
import pytest

import msgflux as mf
from msgflux.models.settings import MODEL_OPTIONS, REQUEST_OPTIONS, ModelSettings


def _fields() -> list[str]:
    return [field.name for field in msgspec.structs.fields(ModelSettings)]


def test_the_signature_and_the_docstring_list_every_option_with_its_default():
    signature = inspect.signature(mf.ChatCompletionModel)
    doc = inspect.getdoc(mf.ChatCompletionModel)

    for field in msgspec.structs.fields(ModelSettings):
        parameter = signature.parameters[field.name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert parameter.default == field.default
        assert f"\n    {field.name}: " in doc, field.name
    assert signature.parameters["timeout"].default == 600.0


def test_every_option_is_accepted_by_name_and_an_unknown_one_is_suggested():
    assert set(_fields()) == {
        *REQUEST_OPTIONS,
        *MODEL_OPTIONS,
        "enable_thinking",
        "reasoning_max_tokens",
    }
    with pytest.raises(TypeError, match="Did you mean 'presence_penalty'"):
        mf.Model.chat_completion("fake/m", presense_penalty=0.1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": 2.5}, "`temperature` must be a number between 0 and 2, got 2.5"),
        ({"max_tokens": -1}, "`max_tokens` must be a positive integer, got -1"),
        ({"seed": 1.5}, "`seed` must be an integer, got 1.5"),
        ({"stop": [1]}, "`stop` must be a string or a list of strings, got [1]"),
        ({"verbosity": "loud"}, "`verbosity` must be one of 'low', 'medium', 'high', got 'loud'"),
        ({"modalities": ["video"]}, "`modalities` must be a list drawn from 'text', 'audio'"),
        ({"return_reasoning": "yes"}, "`return_reasoning` must be True or False, got 'yes'"),
        ({"cache_size": 0}, "`cache_size` must be a positive integer, got 0"),
    ],
)
def test_bad_values_fail_at_construction_and_per_call_saying_what_is_allowed(options, message):
    with pytest.raises(ValueError) as made:
        mf.Model.chat_completion("fake/m", **options)
    assert message in str(made.value)
    name = next(iter(options))
    if name in REQUEST_OPTIONS:
        with pytest.raises(ValueError) as called:
            mf.Model.chat_completion("fake/m")("hi", **options)
        assert message in str(called.value)


def test_values_are_sent_as_given_never_converted():
    model = mf.Model.chat_completion("fake/m", temperature=1, top_p=0)
    model("hi", stop=("a", "b"))

    sent = model.client.requests[-1]
    assert sent["temperature"] == 1 and type(sent["temperature"]) is int
    assert sent["top_p"] == 0
    assert sent["stop"] == ["a", "b"] or sent["stop"] == ("a", "b")


def test_serialize_round_trips_every_serializable_option():
    model = mf.Model.chat_completion(
        "fake/m", temperature=0, max_tokens=7, timeout=30, return_reasoning=False, retry=False
    )
    again = mf.Model.from_serialized(model.serialize())

    assert (
        again.defaults
        == model.defaults
        == {"temperature": 0, "max_tokens": 7, "enable_thinking": False}
    )
    assert (again.timeout, again.return_reasoning, again.retry) == (30, False, False)
