"""Provider facts as data: ``Quirks`` merged along the chain, ``ProviderOption`` choices."""

from __future__ import annotations

import pytest

import msgflux as mf
from msgflux import ProviderSpec, hookimpl
from msgflux.plugins import registered_plugin
from msgflux.providers import ProviderOption, Quirks


class Declares:
    def __init__(self, *specs: ProviderSpec) -> None:
        self.specs = list(specs)

    @hookimpl
    def register_providers(self):
        return self.specs


def test_the_nearest_declaration_wins_and_refusals_accumulate():
    merged = Quirks.merge(
        [
            Quirks(refused={"a": "base says"}, max_tokens_field="max_completion_tokens"),
            None,
            Quirks(refused={"b": "middle says"}, think_tags=True),
            Quirks(refused={"a": None}, max_tokens_field="max_tokens"),
        ]
    )

    assert merged.refused == {"b": "middle says"}  # a None reason lifts a base's refusal
    assert merged.max_tokens_field == "max_tokens"
    assert merged.think_tags is True
    assert merged.tool_strict is None  # nobody said


def test_refused_parameters_and_efforts_fail_before_sending_naming_the_provider():
    spec = ProviderSpec(
        name="strict-fake",
        extends="fake",
        api_key_required=False,
        quirks=Quirks(
            refused={"verbosity": "it has no verbosity control"},
            reasoning_efforts=("low", "high"),
        ),
    )
    with registered_plugin(Declares(spec), "declares"):
        model = mf.Model.chat_completion("strict-fake/m")
        with pytest.raises(mf.UnsupportedParameterError, match="'strict-fake'.*`verbosity`.*no"):
            model("hi", verbosity="low")
        with pytest.raises(mf.UnsupportedParameterError, match="accept reasoning_effort low, high"):
            model("hi", reasoning_effort="medium")
        assert model("hi", reasoning_effort="high").consume() == "hi"
        assert model.client.requests[-1]["reasoning_effort"] == "high"
        assert len(model.client.requests) == 1


def test_a_provider_without_vision_refuses_images_naming_the_message():
    spec = ProviderSpec(
        name="blind", extends="fake", api_key_required=False, supports=frozenset({"streaming"})
    )
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with registered_plugin(Declares(spec), "declares"):
        model = mf.Model.chat_completion("blind/m")
        with pytest.raises(mf.UnsupportedParameterError, match=r"text only.*messages\[1\]"):
            model([{"role": "user", "content": "a"}, {"role": "user", "content": [image]}])


def test_provider_option_choices_are_checked_when_the_model_is_made():
    spec = ProviderSpec(
        name="moody",
        extends="fake",
        api_key_required=False,
        options={"mood": ProviderOption("calm", choices=("calm", "lively"), doc="tone")},
    )
    with registered_plugin(Declares(spec), "declares"):
        assert mf.Model.chat_completion("moody/m").options["mood"] == "calm"
        assert mf.Model.chat_completion("moody/m", mood="lively").options["mood"] == "lively"
        with pytest.raises(ValueError, match="mood must be one of calm, lively; got 'grumpy'"):
            mf.Model.chat_completion("moody/m", mood="grumpy")
