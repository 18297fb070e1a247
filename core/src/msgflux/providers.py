"""What a plugin declares about a provider: ``ProviderSpec``, its ``Quirks`` and options."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Literal

from msgflux._provider_extras import ProviderExtras

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["CAPABILITIES", "KNOWN_PROVIDER_EXTRAS", "ProviderOption", "ProviderSpec", "Quirks"]

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
class Quirks:
    """How an OpenAI-compatible provider differs from OpenAI, as facts instead of code.

    Every field left ``None`` is inherited from the provider this one extends (``openai``
    declares the defaults), so a derived provider states only its own differences and never
    undoes its base's. The core applies ``refused`` and ``reasoning_efforts`` to the neutral
    request, before ``adapt_params``; the OpenAI wire format (``msgflux-openai``) applies the
    rest when it builds the request and decodes the answer.

    Attributes:
        refused: Parameters the provider does not take, each with the reason the user is
            given (``{"verbosity": "Acme has no verbosity control"}``); a request setting
            one fails before anything is sent. Merged with the base's; a ``None`` reason
            lifts a base's refusal.
        reasoning_efforts: The ``reasoning_effort`` values the provider accepts.
        max_tokens_field: The request field bounding the answer: ``"max_completion_tokens"``
            (OpenAI's current name) or ``"max_tokens"`` (most other servers).
        tool_strict: Whether tool functions may carry ``strict``; ``False`` leaves it out
            (on copies: the caller's schemas keep it).
        text_content_only: Message content given as a list of text parts is sent as one
            string (for servers that take string content only).
        remote_images: Whether image parts may be ``http(s)`` URLs; ``False`` accepts base64
            data URIs only and refuses the others with a message saying what to send.
        reasoning_fields: The message / stream-delta fields that carry reasoning, in order;
            the first with text wins.
        think_tags: The provider's models may open their content with a ``<think>`` block,
            which is moved to ``response.reasoning`` (a model's ``think_tags=False`` option
            keeps the content as sent).
        stream_usage: Dotted path of a usage object that the provider puts on the last
            stream chunk instead of the standard ``usage`` (``"x_groq.usage"``).
    """

    refused: Mapping[str, str | None] | None = None
    reasoning_efforts: tuple[str, ...] | None = None
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None
    tool_strict: bool | None = None
    text_content_only: bool | None = None
    remote_images: bool | None = None
    reasoning_fields: tuple[str, ...] | None = None
    think_tags: bool | None = None
    stream_usage: str | None = None

    @classmethod
    def merge(cls, chain: Iterable[Quirks | None]) -> Quirks:
        """The quirks of a provider chain given base first: the nearest declaration wins."""
        merged = cls()
        for quirks in chain:
            if quirks is None:
                continue
            changes = {
                item.name: getattr(quirks, item.name)
                for item in fields(cls)
                if getattr(quirks, item.name) is not None
            }
            if quirks.refused is not None:
                refused = {**(merged.refused or {}), **quirks.refused}
                changes["refused"] = {name: why for name, why in refused.items() if why}
            merged = replace(merged, **changes)
        return merged


@dataclass(frozen=True, slots=True)
class ProviderOption:
    """A provider option declared with the values it accepts (``ProviderSpec.options``).

    A plain value in ``options`` is a default and accepts anything; a ``ProviderOption``
    also refuses, when the model is created, a value outside ``choices`` (its default is
    always accepted).

    Attributes:
        default: The value when the user gives none.
        choices: The accepted values, listed in the error message; ``None`` accepts any.
        doc: One line for the plugin's README and the error message.
    """

    default: Any = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""

    def check(self, provider: str, name: str, value: Any) -> None:
        """Raise ``ValueError`` when ``value`` is not one this option accepts."""
        if self.choices is None or value == self.default or value in self.choices:
            return
        shown = ", ".join(str(choice) for choice in self.choices)
        if self.default is None:
            shown += " (or None)"
        about = f": {self.doc}" if self.doc else ""
        raise ValueError(
            f"{name} must be one of {shown}; got {value!r} (provider {provider!r}{about})"
        )


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
        options: Extra keyword arguments this provider's models accept, each with its
            default or as a ``ProviderOption`` (default and accepted values); derived
            providers accept their bases' options too.
        supports: Capabilities (see ``CAPABILITIES``); ``None`` inherits the base's.
        quirks: How the provider's API differs, as data (see ``Quirks``); ``None`` fields
            are inherited from the base.
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
    quirks: Quirks | None = None
    description: str = ""
    override: bool = False
    model_class: type[ChatCompletionModel] | None = None

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
