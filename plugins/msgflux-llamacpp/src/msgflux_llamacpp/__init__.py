"""msgflux-llamacpp: llama.cpp's OpenAI-compatible servers as the ``llamacpp`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("llamacpp/smollm2")  # LLAMACPP_BASE_URL or 127.0.0.1:8080
print(model("Hello").consume())
```

The provider extends ``openai``: transport, decoding and reasoning extraction are the
OpenAI plugin's. This plugin adds only what a llama.cpp server does differently:
``params.py`` for requests (rules for both servers, and per server), ``server.py`` to know
which server it talks to (``server="auto"`` probes ``/props`` once), ``clients.py`` to apply
the server's rules when a request is sent, ``errors.py`` for its error statuses. Tool-call
streams that repeat the call id and function name in every fragment need nothing here:
msgflux's ``ToolCallAggregator`` treats a repeated name as the name it already holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgflux import hookimpl
from msgflux.providers import ProviderSpec, Quirks
from msgflux_llamacpp.clients import build_detectors, wrap_clients
from msgflux_llamacpp.params import adapt_request
from msgflux_llamacpp.server import check_server_option

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel
    from msgflux.models.clients import ChatClients

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="llamacpp",
    extends="openai",
    # Servers run without a key unless started with one (--api_key / --api-key).
    api_key_env=("LLAMACPP_API_KEY",),
    api_key_required=False,
    base_url_env="LLAMACPP_BASE_URL",
    default_base_url="http://127.0.0.1:8080/v1",
    # Which server answers at the base URL: "llama-server" (llama.cpp's own),
    # "llama-cpp-python", or "auto" to ask it once (GET /props) on the first request.
    options={"server": "auto"},
    # Not declared: audio output and web search (no such thing in llama.cpp). Vision needs
    # a server started with a multimodal projector; reasoning arrives as
    # `reasoning_content` from llama-server with a thinking model.
    supports=frozenset(
        {"streaming", "tools", "structured_output", "logprobs", "reasoning", "vision"}
    ),
    # True of both servers: max_tokens bounds the answer (llama-cpp-python ignores
    # max_completion_tokens). What only one server needs is applied per server (params.py).
    quirks=Quirks(max_tokens_field="max_tokens"),
    description="llama.cpp servers (llama-cpp-python, llama-server): local GGUF models",
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def validate_options(options: Mapping[str, Any]) -> None:
    check_server_option(options["server"])


@hookimpl
def initialize_client(
    model: ChatCompletionModel, clients: ChatClients | None
) -> ChatClients | None:
    if clients is None:
        return None
    return wrap_clients(clients, *build_detectors(model))


@hookimpl
def adapt_params(model: ChatCompletionModel, params: dict[str, Any]) -> dict[str, Any]:
    return adapt_request(model.provider, params)
