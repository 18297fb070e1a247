"""``ModelProfile``: what the models.dev catalogue says about one model at one provider."""

from __future__ import annotations

import msgspec

from msgflux.models.profiles.cost import ModelCost

__all__ = ["ModelCapabilities", "ModelLimits", "ModelModalities", "ModelProfile"]


class ModelCapabilities(msgspec.Struct, frozen=True, kw_only=True):
    """What the model supports; ``False`` also when the catalogue does not say.

    Attributes:
        tool_call: Function / tool calling.
        structured_output: A JSON-schema constrained ``response_format``.
        reasoning: A reasoning (thinking) model.
        attachment: Accepts file or media attachments.
        temperature: Accepts a ``temperature`` setting.
    """

    tool_call: bool = False
    structured_output: bool = False
    reasoning: bool = False
    attachment: bool = False
    temperature: bool = False


class ModelModalities(msgspec.Struct, frozen=True, kw_only=True):
    """Input and output modalities, e.g. ``["text", "image", "pdf"]`` and ``["text"]``.

    Each lookup builds a new profile, so mutating these lists affects no other caller.
    """

    input: list[str] = []
    output: list[str] = []


class ModelLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Token limits; ``None`` when the catalogue does not say.

    Attributes:
        context: Context window (input and output together).
        input: Maximum input tokens, where the provider limits input apart from context.
        output: Maximum output tokens.
    """

    context: int | None = None
    input: int | None = None
    output: int | None = None


class ModelProfile(msgspec.Struct, frozen=True, kw_only=True):
    """Capabilities, modalities, limits and prices of one model at one provider.

    Attributes:
        id: The model id (``"openai/gpt-oss-120b"`` at Groq): the catalogue's spelling
            when the provider lists the model, the id as asked for a self-hosted fallback.
        name: Display name (``"GPT OSS 120B"``).
        provider: The provider id the lookup asked for, or the catalogue provider it
            resolved to when none was given; ``None`` for provider-agnostic facts.
        capabilities: What the model supports.
        modalities: Input and output modalities.
        limits: Token limits.
        cost: Prices and cost arithmetic.
        open_weights: The weights are published.
        family: Model family (``"gpt-oss"``), when known.
        release_date: Release date as the catalogue writes it (``"2025-08-05"`` or
            ``"2025-04"``), when known.
        base_model: The provider-agnostic models.dev id (``"openai/gpt-oss-120b"``) this
            entry inherits from, when the data says so (the live catalogue does not).
        derived_from: ``None`` for an entry of the requested provider. For a self-hosted
            or unknown provider, where the facts were borrowed from, as a models.dev path:
            ``"models/alibaba/qwen3-32b"`` or ``"providers/groq/openai/gpt-oss-20b"``;
            such profiles carry no prices.
    """

    id: str
    name: str
    provider: str | None
    capabilities: ModelCapabilities
    modalities: ModelModalities
    limits: ModelLimits
    cost: ModelCost
    open_weights: bool = False
    family: str | None = None
    release_date: str | None = None
    base_model: str | None = None
    derived_from: str | None = None
