"""msgflux-openai: the OpenAI provider and the OpenAI wire format other providers build on.

An OpenAI-compatible provider declares ``ProviderSpec(name=..., extends="openai", ...)`` and
inherits everything here: the transport clients, the request mapping, reasoning extraction
and response/stream decoding. It then implements only the hooks where it differs.
"""

from __future__ import annotations

from msgflux import hookimpl
from msgflux.providers import CAPABILITIES, ProviderSpec
from msgflux_openai.chat import OpenAIChatCompletion
from msgflux_openai.clients import build_clients
from msgflux_openai.decode import decode_output
from msgflux_openai.params import map_params
from msgflux_openai.reasoning import reasoning_of

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
    },
    supports=CAPABILITIES,
    description="OpenAI (and the OpenAI wire format for compatible providers)",
    model_class=OpenAIChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def initialize_client(model, clients):
    if clients is not None:
        return None
    return build_clients(model)


@hookimpl
def adapt_params(model, params):
    return map_params(model, params)


@hookimpl
def extract_reasoning(message):
    return reasoning_of(message)


@hookimpl
def process_output(model, output, response):
    decode_output(model, output, response)
