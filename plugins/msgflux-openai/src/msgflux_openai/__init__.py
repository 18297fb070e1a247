"""msgflux-openai: the OpenAI provider and the OpenAI wire format other providers build on.

An OpenAI-compatible provider declares ``ProviderSpec(name=..., extends="openai", ...)`` and
inherits everything here: the transport clients, the request mapping, reasoning extraction
and response/stream decoding. It declares how its API differs as ``Quirks`` (applied here)
and implements hooks only for what needs code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux import hookimpl
from msgflux.providers import CAPABILITIES, ProviderSpec, Quirks
from msgflux_openai.chat import OpenAIChatCompletion
from msgflux_openai.clients import build_clients
from msgflux_openai.decode import decode_output
from msgflux_openai.params import map_params
from msgflux_openai.reasoning import REASONING_FIELDS, reasoning_of

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel
    from msgflux.models.clients import ChatClients
    from msgflux.models.response import ModelResponse, ModelStreamResponse

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="openai",
    api_key_env=("OPENAI_API_KEY",),
    base_url_env="OPENAI_BASE_URL",
    default_base_url="https://api.openai.com/v1",
    options={
        # "auto": msgflux's fast transport, or the `openai` SDK when a proxy is configured
        # or an SDK client is injected; "fast" / "sdk" force one. A ready `openai.OpenAI` /
        # `AsyncOpenAI` passed as client= / async_client= is used as given (Azure, custom HTTP).
        "transport": "auto",
        "client": None,
        "async_client": None,
        # True / False: move a leading <think>...</think> block of the content to
        # response.reasoning, or keep the content as sent; None: the provider's quirk.
        "think_tags": None,
    },
    supports=CAPABILITIES,
    # OpenAI's own behaviour: what a derived provider's quirks are measured against.
    quirks=Quirks(
        refused={},
        max_tokens_field="max_completion_tokens",
        tool_strict=True,
        text_content_only=False,
        remote_images=True,
        reasoning_fields=REASONING_FIELDS,
        think_tags=False,
    ),
    description="OpenAI (and the OpenAI wire format for compatible providers)",
    model_class=OpenAIChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def initialize_client(
    model: ChatCompletionModel, clients: ChatClients | None
) -> ChatClients | None:
    if clients is not None:
        return None
    return build_clients(model)


@hookimpl
def adapt_params(model: ChatCompletionModel, params: dict[str, Any]) -> dict[str, Any]:
    return map_params(model, params)


@hookimpl
def extract_reasoning(model: ChatCompletionModel, message: Any) -> str | None:
    return reasoning_of(message, model.quirks.reasoning_fields or REASONING_FIELDS)


@hookimpl
def process_output(
    model: ChatCompletionModel, output: Any, response: ModelResponse | ModelStreamResponse
) -> None:
    decode_output(model, output, response)
