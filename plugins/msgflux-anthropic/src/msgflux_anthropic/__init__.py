"""msgflux-anthropic: Claude through Anthropic's Messages API, on msgflux's own HTTP layer.

The first provider with its own wire format: it extends no other provider and implements
every per-request hook itself, with nothing but the plugin API a third party has:

- ``initialize_client``: a client over :mod:`msgflux.http` speaking msgflux's neutral client
  protocol (``send(params)`` / ``stream(params)``), ``x-api-key`` and the pinned
  ``anthropic-version`` (``msgflux_anthropic.client``);
- ``adapt_params``: the neutral (OpenAI-shaped) request -> a Messages API request, refusing
  what the API or the model rejects (``msgflux_anthropic.params``, ``.messages``,
  ``.thinking``);
- ``process_output``: whole answers (``msgflux_anthropic.decode``) and stream events
  (``msgflux_anthropic.stream``); thinking blocks and their signatures travel to the next
  request of a tool loop through ``provider_data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgflux import hookimpl
from msgflux.models.response import ModelStreamResponse
from msgflux.providers import ProviderOption, ProviderSpec, Quirks
from msgflux_anthropic.decode import decode_message
from msgflux_anthropic.stream import decode_event

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel
    from msgflux.models.clients import ChatClients
    from msgflux.models.response import ModelResponse

__all__ = ["DEFAULT_MAX_TOKENS", "PROVIDER"]

#: ``max_tokens`` when the user gives none (the API requires it): the answer's room, to
#: which a thinking budget is added.
DEFAULT_MAX_TOKENS = 4096

PROVIDER = ProviderSpec(
    name="anthropic",
    api_key_env=("ANTHROPIC_API_KEY",),
    base_url_env="ANTHROPIC_BASE_URL",
    default_base_url="https://api.anthropic.com",
    options={
        "default_max_tokens": ProviderOption(
            DEFAULT_MAX_TOKENS, doc="max_tokens sent when none is given (plus any budget)"
        ),
        "top_k": ProviderOption(None, doc="sample from the k most likely tokens"),
        "prompt_cache": ProviderOption(
            None,
            choices=("5m", "1h"),
            doc="cache_control breakpoints on the tools, the system prompt and the last message",
        ),
        "strict_tools": ProviderOption(
            False, choices=(True,), doc="send strict: true for tools whose schema is strict"
        ),
    },
    supports=frozenset({"streaming", "tools", "structured_output", "reasoning", "vision"}),
    quirks=Quirks(
        refused={
            "seed": "the Messages API has no seed",
            "presence_penalty": "the Messages API has no presence penalty",
            "frequency_penalty": "the Messages API has no frequency penalty",
            "verbosity": "the Messages API has no verbosity control",
            "prompt_cache_retention": "use the prompt_cache option (cache_control) instead",
        },
        reasoning_efforts=("none", "minimal", "low", "medium", "high", "xhigh"),
    ),
    description="Anthropic (Claude) through the Messages API",
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def validate_options(options: Mapping[str, Any]) -> None:
    for name in ("default_max_tokens", "top_k"):
        value = options.get(name)
        if value is None and name == "top_k":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


@hookimpl
def initialize_client(
    model: ChatCompletionModel, clients: ChatClients | None
) -> ChatClients | None:
    from msgflux_anthropic.client import build_clients

    return build_clients(model)


@hookimpl
def adapt_params(model: ChatCompletionModel, params: dict[str, Any]) -> dict[str, Any]:
    from msgflux_anthropic.params import map_request

    return map_request(model, params)


@hookimpl
def process_output(output: Any, response: ModelResponse | ModelStreamResponse) -> None:
    if isinstance(response, ModelStreamResponse):
        decode_event(output, response)
    else:
        decode_message(output, response)
