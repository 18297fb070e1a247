"""Self-hosted and unknown providers fall back to open-weights facts by model name."""

from __future__ import annotations

import pytest

from msgflux.models.profiles import get_model_profile
from msgflux.models.profiles.names import name_keys, normalize_model_name


@pytest.mark.parametrize(
    ("model_id", "provider_id"),
    [
        ("Qwen/Qwen3-32B", "vllm"),  # the Hugging Face repo id vLLM serves
        ("qwen3-32b", "vllm"),  # a --served-model-name
        ("Qwen/Qwen3-32B-AWQ", "vllm"),  # a quantised build
        ("qwen3:32b", "ollama"),  # an Ollama tag
        ("qwen3:32b-q4_K_M", "ollama"),
        ("Qwen3-32B-Q4_K_M.gguf", "llamacpp"),  # a GGUF file name
        ("Qwen/Qwen3-32B", "sambanova"),  # a provider models.dev does not know
        ("Qwen/Qwen3-32B", "my-own-provider"),
    ],
)
def test_open_weights_facts_found_by_model_name(model_id: str, provider_id: str) -> None:
    profile = get_model_profile(model_id, provider_id=provider_id)

    assert profile is not None
    assert profile.derived_from == "models/alibaba/qwen3-32b"
    assert profile.id == model_id
    assert profile.provider == provider_id
    assert profile.name == "Qwen3 32B"
    assert profile.capabilities.reasoning is True
    assert profile.capabilities.tool_call is True
    assert profile.open_weights is True
    assert (profile.limits.context, profile.limits.output) == (131072, 16384)


def test_self_hosted_profiles_carry_no_prices() -> None:
    profile = get_model_profile("Qwen/Qwen3-32B", provider_id="vllm")

    assert profile is not None
    assert profile.cost.input_per_million is None
    assert profile.cost.output_per_million is None
    assert profile.cost.calculate(input_tokens=1000, output_tokens=1000) == 0.0


def test_hosted_listing_answers_when_no_provider_agnostic_entry_exists() -> None:
    # models/ has gpt-oss-120b but not gpt-oss-20b; hosted providers list the 20b.
    profile = get_model_profile("openai/gpt-oss-20b", provider_id="vllm")

    assert profile is not None
    assert profile.derived_from is not None
    assert profile.derived_from.startswith("providers/")
    assert profile.derived_from.endswith("gpt-oss-20b")
    assert profile.name == "GPT OSS 20B"
    assert profile.open_weights is True
    assert profile.cost.input_per_million is None


def test_closed_models_are_not_offered_to_self_hosted_providers() -> None:
    assert get_model_profile("gpt-4.1-mini", provider_id="vllm") is None


def test_lmstudio_has_its_own_listing_then_falls_back() -> None:
    listed = get_model_profile("openai/gpt-oss-20b", provider_id="lmstudio")
    assert listed is not None and listed.derived_from is None

    fallback = get_model_profile("Qwen/Qwen3-32B", provider_id="lmstudio")
    assert fallback is not None and fallback.derived_from == "models/alibaba/qwen3-32b"


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("Qwen/Qwen3-32B", "qwen/qwen3-32b"),
        ("qwen3:32b", "qwen3-32b"),
        ("gpt-oss:latest", "gpt-oss"),
        ("Qwen3-32B-Q4_K_M.gguf", "qwen3-32b"),
        ("qwen3-30b-a3b-fp8", "qwen3-30b-a3b"),
        ("mistral-small-awq-4bit", "mistral-small"),
        ("gpt-oss-120b", "gpt-oss-120b"),
    ],
)
def test_normalize_model_name(name: str, normalized: str) -> None:
    assert normalize_model_name(name) == normalized


def test_name_keys_try_the_full_id_then_the_bare_name() -> None:
    assert name_keys("Qwen/Qwen3-32B-AWQ") == ["qwen/qwen3-32b", "qwen3-32b"]
    assert name_keys("qwen3-32b") == ["qwen3-32b"]
