"""Lookups against real entries of the packaged snapshot."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from msgflux.models.profiles import ModelProfile, get_model_profile, profiles_source


def test_openai_model_has_the_spec_fields() -> None:
    profile = get_model_profile("gpt-4.1-mini", provider_id="openai")

    assert isinstance(profile, ModelProfile)
    assert (profile.id, profile.name, profile.provider) == (
        "gpt-4.1-mini",
        "GPT-4.1 mini",
        "openai",
    )
    assert profile.capabilities.tool_call is True
    assert profile.capabilities.structured_output is True
    assert profile.capabilities.reasoning is False
    assert profile.capabilities.attachment is True
    assert profile.capabilities.temperature is True
    assert profile.modalities.input == ["text", "image", "pdf"]
    assert profile.modalities.output == ["text"]
    assert (profile.limits.context, profile.limits.input, profile.limits.output) == (
        1047576,
        None,
        32768,
    )
    assert profile.cost.input_per_million == 0.40
    assert profile.cost.output_per_million == 1.60
    assert profile.cost.cache_read_per_million == 0.10
    assert profile.cost.cache_write_per_million is None
    assert profile.open_weights is False
    assert profile.release_date == "2025-04-14"
    assert profile.base_model is None and profile.derived_from is None
    assert profiles_source().kind == "snapshot"


def test_groq_reasoning_model_with_slash_in_its_id() -> None:
    profile = get_model_profile("openai/gpt-oss-120b", provider_id="groq")

    assert profile is not None
    assert profile.id == "openai/gpt-oss-120b"
    assert profile.provider == "groq"
    assert profile.capabilities.reasoning is True
    assert profile.capabilities.tool_call is True
    assert profile.open_weights is True
    assert profile.cost.input_per_million == 0.15
    assert profile.cost.output_per_million == 0.60
    assert profile.cost.cache_read_per_million == 0.075
    assert profile.base_model == "openai/gpt-oss-120b"


def test_groq_entry_inherits_from_its_base_model_and_its_own_fields_win() -> None:
    # providers/groq/models/openai/gpt-oss-120b.toml sets only base_model, [cost] and
    # [limit] output = 65536; models/openai/gpt-oss-120b.toml has the rest.
    profile = get_model_profile("openai/gpt-oss-120b", provider_id="groq")

    assert profile is not None
    assert profile.name == "GPT OSS 120B"  # inherited
    assert profile.family == "gpt-oss"  # inherited
    assert profile.release_date == "2025-08-05"  # inherited
    assert profile.capabilities.structured_output is True  # inherited
    assert profile.modalities.input == ["text"]  # inherited
    assert profile.limits.context == 131072  # inherited key of a merged table
    assert profile.limits.output == 65536  # the provider's own value beats the base's 32768


def test_base_model_omit_drops_an_inherited_key() -> None:
    # amazon-bedrock's openai.gpt-5.4 omits limit.input (the base says 922000) and sets
    # its own context and prices.
    profile = get_model_profile("openai.gpt-5.4", provider_id="amazon-bedrock")

    assert profile is not None
    assert profile.name == "GPT-5.4"
    assert profile.limits.input is None
    assert profile.limits.context == 272000
    assert profile.cost.input_per_million == 2.75
    assert profile.base_model == "openai/gpt-5.4"


def test_inheritance_matches_the_source_files(models_dev: Path) -> None:
    own = tomllib.loads((models_dev / "providers/groq/models/openai/gpt-oss-120b.toml").read_text())
    base = tomllib.loads((models_dev / f"models/{own['base_model']}.toml").read_text())
    profile = get_model_profile("openai/gpt-oss-120b", provider_id="groq")

    assert profile is not None
    assert "name" not in own and profile.name == base["name"]
    assert "context" not in own["limit"] and profile.limits.context == base["limit"]["context"]
    assert own["limit"]["output"] != base["limit"]["output"]
    assert profile.limits.output == own["limit"]["output"]
    assert profile.cost.input_per_million == own["cost"]["input"]
    assert profile.capabilities.reasoning is base["reasoning"]


def test_openrouter_model() -> None:
    profile = get_model_profile("openai/gpt-oss-120b", provider_id="openrouter")

    assert profile is not None
    assert profile.provider == "openrouter"
    assert profile.name == "GPT OSS 120B"
    assert profile.capabilities.reasoning is True
    assert profile.limits.output == 131072
    assert profile.cost.input_per_million == 0.03
    assert profile.cost.output_per_million == 0.15
    assert profile.cost.cache_read_per_million is None


def test_openrouter_and_openai_list_the_same_model_at_their_own_prices() -> None:
    openai = get_model_profile("gpt-4.1-mini", provider_id="openai")
    openrouter = get_model_profile("openai/gpt-4.1-mini", provider_id="openrouter")

    assert openai is not None and openrouter is not None
    assert openrouter.name == openai.name
    assert openrouter.base_model == "openai/gpt-4.1-mini"


@pytest.mark.parametrize(
    ("model_id", "provider_id"),
    [
        ("no-such-model", "openai"),
        ("gpt-4.1-mini", "groq"),  # a real model, but not one Groq serves
        ("no-such-model", None),
        ("no-such-model", "vllm"),
        ("no-such-model", "my-own-provider"),
        ("", "openai"),
        ("   ", None),
    ],
)
def test_unknown_is_none(model_id: str, provider_id: str | None) -> None:
    assert get_model_profile(model_id, provider_id=provider_id) is None


def test_msgflux_provider_names_map_to_models_dev_ids() -> None:
    profile = get_model_profile("openai/gpt-oss-120b", provider_id="together")

    assert profile is not None
    assert profile.provider == "together"  # as asked
    assert profile.name == "GPT OSS 120B"
    assert profile.cost.input_per_million is not None


def test_model_ids_match_case_insensitively_after_an_exact_miss() -> None:
    profile = get_model_profile("GPT-4.1-Mini", provider_id="OpenAI")

    assert profile is not None
    assert profile.id == "gpt-4.1-mini"
    assert profile.cost.input_per_million == 0.40


def test_without_provider_the_makers_listing_answers() -> None:
    profile = get_model_profile("gpt-4.1-mini")

    assert profile is not None
    assert profile.provider == "openai"
    assert profile.cost.output_per_million == 1.60


def test_without_provider_a_provider_prefix_is_understood() -> None:
    profile = get_model_profile("groq/openai/gpt-oss-120b")

    assert profile is not None
    assert (profile.provider, profile.id) == ("groq", "openai/gpt-oss-120b")
    assert profile.cost.input_per_million == 0.15


def test_each_lookup_returns_a_profile_the_caller_may_change() -> None:
    first = get_model_profile("gpt-4.1-mini", provider_id="openai")
    assert first is not None
    first.modalities.input.append("audio")

    again = get_model_profile("gpt-4.1-mini", provider_id="openai")
    assert again is not None
    assert again.modalities.input == ["text", "image", "pdf"]


def test_a_blank_provider_is_no_provider() -> None:
    profile = get_model_profile("gpt-4.1-mini", provider_id="  ")
    assert profile is not None and profile.provider == "openai"


def test_a_model_id_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        get_model_profile(None)  # type: ignore[arg-type]
