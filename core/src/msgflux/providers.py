"""What a plugin declares about a provider: ``ProviderSpec``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from msgflux._provider_extras import ProviderExtras

__all__ = ["CAPABILITIES", "KNOWN_PROVIDER_EXTRAS", "ProviderSpec"]

#: Capabilities a provider can declare in ``ProviderSpec.supports``. The pipeline refuses a
#: request that needs a capability the provider does not declare, instead of sending
#: something the provider would silently ignore.
CAPABILITIES = frozenset(
    {
        "streaming",
        "tools",
        "structured_output",
        "reasoning",
        "logprobs",
        "audio_output",
        "web_search",
        "vision",
    }
)

#: Providers whose plugin msgflux knows of, mapped to the extra that installs it
#: (``{"groq": "groq", ...}``). Used to turn "unknown provider" into the exact
#: ``pip install`` that fixes it. Read from the core's declared extras on first access.
KNOWN_PROVIDER_EXTRAS: Mapping[str, str] = ProviderExtras()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSpec:
    """A provider, as a plugin declares it from ``register_providers``.

    Attributes:
        name: The prefix users write before the first ``/`` (``"groq"`` in
            ``"groq/openai/gpt-oss-120b"``).
        extends: The provider this one builds on (``"openai"`` for OpenAI-compatible
            services). Its hook implementations run first, then this provider's.
        api_key_env: Env vars holding the API key, first set wins.
        api_key_required: ``False`` for servers that accept anonymous requests (vLLM,
            llama.cpp); then a missing key is not an error.
        base_url_env: Env var that overrides the base URL.
        default_base_url: Base URL when neither ``base_url=`` nor the env var is given.
        options: Extra keyword arguments this provider's models accept, with defaults
            (derived providers accept their bases' options too).
        supports: Capabilities (see ``CAPABILITIES``); ``None`` inherits the base's.
        description: One line for ``msgflux plugins``.
        override: Deliberately replace another plugin's provider of the same name.
        model_class: The model class to instantiate (only for ``@register_model``
            providers; otherwise the core's ``ChatCompletionModel``).
    """

    name: str
    extends: str | None = None
    api_key_env: tuple[str, ...] = ()
    api_key_required: bool = True
    base_url_env: str | None = None
    default_base_url: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    supports: frozenset[str] | None = None
    description: str = ""
    override: bool = False
    model_class: type | None = None

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"provider name {self.name!r} must be non-empty and contain no '/'")
        if isinstance(self.api_key_env, str):  # forgive a single name given as a string
            object.__setattr__(self, "api_key_env", (self.api_key_env,))
        if self.supports is not None:
            unknown = set(self.supports) - CAPABILITIES
            if unknown:
                raise ValueError(
                    f"provider {self.name!r} declares unknown capabilities {sorted(unknown)}; "
                    f"known: {sorted(CAPABILITIES)}"
                )
            object.__setattr__(self, "supports", frozenset(self.supports))
