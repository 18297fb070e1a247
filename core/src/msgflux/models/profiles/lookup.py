"""``get_model_profile``: find a model's profile by provider and model id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgflux.models.profiles import store
from msgflux.models.profiles.names import SELF_HOSTED_PROVIDERS, catalogue_provider_id

if TYPE_CHECKING:
    from msgflux.models.profiles.catalogue import Catalogue
    from msgflux.models.profiles.profile import ModelProfile

__all__ = ["get_model_profile"]


def _open_weights(cat: Catalogue, model_id: str, provider: str | None) -> ModelProfile | None:
    match = cat.open_weights_match(model_id)
    if match is None:
        return None
    path, row = match
    return cat.to_profile(
        row, model_id=model_id, provider=provider, derived_from=path, priced=False
    )


def _without_provider(cat: Catalogue, model_id: str) -> ModelProfile | None:
    head, slash, rest = model_id.partition("/")
    if slash:
        pid = catalogue_provider_id(head)
        hit = cat.provider_row(pid, rest) if cat.has_provider(pid) else None
        if hit is not None:
            return cat.to_profile(hit[1], model_id=hit[0], provider=pid)
    if cat.model_row(model_id) is not None:
        canonical_id: str | None = model_id
    else:
        named = cat.models_named(model_id)
        canonical_id = named[0] if len(named) == 1 else None
    if canonical_id is not None:
        vendor, _, name = canonical_id.partition("/")
        hit = cat.provider_row(vendor, name) if cat.has_provider(vendor) else None
        if hit is not None:  # the maker's own listing has its prices
            return cat.to_profile(hit[1], model_id=hit[0], provider=vendor)
        row = cat.model_row(canonical_id)
        if row is not None:
            return cat.to_profile(
                row, model_id=model_id, provider=None, derived_from=f"models/{canonical_id}"
            )
    return _open_weights(cat, model_id, None)


def get_model_profile(model_id: str, provider_id: str | None = None) -> ModelProfile | None:
    """The models.dev profile of a model: capabilities, modalities, limits and prices.

    Works offline from the packaged snapshot (or a refreshed cache, see
    ``refresh_profiles``); the first call loads the data (a few milliseconds), later calls
    take microseconds. Never touches the network.

    Resolution:

    1. ``provider_id`` is mapped to its models.dev name (``"together"`` ->
       ``"togetherai"``, see ``names.PROVIDER_ALIASES``). If models.dev has that provider,
       the model is looked up by exact id (which may contain ``/``, as Groq's
       ``"openai/gpt-oss-120b"``), then case-insensitively. A miss at a hosted provider is
       ``None``: another provider's prices would be wrong.
    2. Self-hosted providers (vLLM, llama.cpp, Ollama, LM Studio, SGLang, TGI; see
       ``names.SELF_HOSTED_PROVIDERS``) and providers models.dev does not know fall back to
       open-weights facts by model name (``names.name_keys``: lower-cased, Ollama tags and
       quantisation suffixes folded, tried with and without the organisation prefix).
       Provider-agnostic models are preferred (``"Qwen/Qwen3-32B"`` and ``"qwen3:32b"`` find
       ``models/alibaba/qwen3-32b``), then hosted listings of open-weights models. Such
       profiles carry no prices and name their origin in ``derived_from``.
    3. Without ``provider_id``: a ``"provider/model"`` id whose prefix is a models.dev
       provider; else a provider-agnostic model (``"vendor/model"`` or a name unique among
       them, answered with its maker's listing when the maker is a provider, so
       ``get_model_profile("gpt-4.1-mini")`` has OpenAI's prices); else step 2.

    Args:
        model_id: The model id as the provider names it (``"gpt-4.1-mini"``,
            ``"openai/gpt-oss-120b"``, ``"Qwen/Qwen3-32B"``).
        provider_id: msgflux provider name or models.dev provider id (``"openai"``,
            ``"groq"``, ``"openrouter"``, ``"vllm"``).

    Returns:
        A new :class:`ModelProfile`, or None when nothing is known about the model (or
        ``model_id`` is blank).

    Raises:
        TypeError: ``model_id`` is not a string.
    """
    if not isinstance(model_id, str):
        raise TypeError(f"model_id must be a str, got {type(model_id).__name__}")
    if not model_id.strip():
        return None
    cat = store.current()
    provider = (provider_id or "").strip()
    if not provider:
        return _without_provider(cat, model_id)
    pid = catalogue_provider_id(provider)
    if cat.has_provider(pid):
        hit = cat.provider_row(pid, model_id)
        if hit is not None:
            return cat.to_profile(hit[1], model_id=hit[0], provider=provider)
        if pid not in SELF_HOSTED_PROVIDERS:
            return None
    return _open_weights(cat, model_id, provider)
