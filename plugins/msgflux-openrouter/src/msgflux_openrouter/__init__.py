"""msgflux-openrouter: OpenRouter's unified API as the ``openrouter`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion(
    "openrouter/anthropic/claude-sonnet-4.5",
    reasoning_max_tokens=2000,          # -> {"reasoning": {"max_tokens": 2000}}
    app_url="https://myapp.example",    # attribution headers: only when you set them
    app_name="My App",
)
```

The provider extends ``openai`` (transport, decoding, the ``reasoning`` field). This plugin
adds OpenRouter's request shape (``params.py``) and reads ``reasoning_details``
(``reasoning.py``): reasoning text when ``reasoning`` is empty, and the blocks themselves in
``response.metadata.reasoning_details``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgflux import hookimpl
from msgflux.models.response import ModelStreamResponse
from msgflux.providers import ProviderSpec, Quirks
from msgflux_openrouter.chat import OpenRouterChatCompletion
from msgflux_openrouter.params import adapt_request, check_options
from msgflux_openrouter.reasoning import details_text, merge_details

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel
    from msgflux.models.response import ModelResponse

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="openrouter",
    extends="openai",
    api_key_env=("OPENROUTER_API_KEY",),
    base_url_env="OPENROUTER_BASE_URL",
    default_base_url="https://openrouter.ai/api/v1",
    options={
        # App attribution (OpenRouter rankings): nothing is sent unless you set them.
        "app_url": None,  # HTTP-Referer
        "app_name": None,  # X-OpenRouter-Title
        "app_categories": None,  # X-OpenRouter-Categories (str or list of str)
        # Provider routing preferences, sent as the request's `provider` object.
        "provider_preferences": None,
    },
    # Not declared: audio output (OpenRouter's chat API returns text).
    supports=frozenset(
        {"streaming", "tools", "structured_output", "reasoning", "logprobs", "web_search", "vision"}
    ),
    quirks=Quirks(
        refused={
            "prompt_cache_retention": "it is an OpenAI-only cache setting, not part of "
            "OpenRouter's API",
        },
        # OpenRouter documents `max_tokens` (and translates it for each upstream provider).
        max_tokens_field="max_tokens",
    ),
    description="OpenRouter: one API for many providers' models, with routing and fallbacks",
    model_class=OpenRouterChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def validate_options(options: Mapping[str, Any]) -> None:
    check_options(options)


@hookimpl
def adapt_params(model: ChatCompletionModel, params: dict[str, Any]) -> dict[str, Any]:
    return adapt_request(model, params)


@hookimpl
def extract_reasoning(message: Any, reasoning: str | None) -> str | None:
    if reasoning:
        return None  # `reasoning` carries the same text as the details: keep it
    return details_text(getattr(message, "reasoning_details", None))


@hookimpl
def process_output(output: Any, response: ModelResponse | ModelStreamResponse) -> None:
    choices = getattr(output, "choices", None)
    if not choices:
        return
    choice = choices[0]
    if isinstance(response, ModelStreamResponse):
        pieces = getattr(choice.delta, "reasoning_details", None) if choice.delta else None
        if pieces:
            pending = response.pending_metadata
            if "reasoning_details" not in pending:
                pending["reasoning_details"] = []
            # Fetched back: a dotdict stores a copy of the list it is given.
            merge_details(pending["reasoning_details"], pieces)
        return
    details = getattr(choice.message, "reasoning_details", None)
    if details:
        blocks: list[dict[str, Any]] = []
        merge_details(blocks, details)
        response.metadata.reasoning_details = blocks
