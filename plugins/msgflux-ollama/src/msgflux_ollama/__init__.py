"""msgflux-ollama: an Ollama server's OpenAI-compatible API as the ``ollama`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("ollama/qwen3:8b", enable_thinking=True)
response = model("What is 15 * 7 + 3?")   # OLLAMA_BASE_URL or http://localhost:11434/v1
response.consume(), response.reasoning
```

The provider extends ``openai`` (transport, decoding, reasoning extraction from Ollama's
``reasoning`` field). How Ollama's endpoint differs is declared as ``Quirks`` (it reads
``max_tokens``, takes images as base64 data URIs only, and accepts four efforts); its tool
choice and thinking switch need code (``params.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux import hookimpl
from msgflux.providers import ProviderSpec, Quirks
from msgflux_ollama.chat import OllamaChatCompletion
from msgflux_ollama.params import EFFORTS, map_thinking, map_tools

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="ollama",
    extends="openai",
    # A local server takes no key; Ollama's cloud API (https://ollama.com/v1) does.
    api_key_env=("OLLAMA_API_KEY",),
    api_key_required=False,
    base_url_env="OLLAMA_BASE_URL",
    default_base_url="http://localhost:11434/v1",
    # Not declared: audio output and web search (the chat endpoint has neither).
    supports=frozenset(
        {"streaming", "tools", "structured_output", "reasoning", "logprobs", "vision"}
    ),
    quirks=Quirks(
        refused={
            "prompt_cache_retention": "it is an OpenAI-only cache setting (Ollama keeps the "
            "model's KV cache itself)",
            "verbosity": "Ollama has no verbosity control",
        },
        reasoning_efforts=EFFORTS,
        # The endpoint reads `max_tokens` (Ollama's num_predict), not max_completion_tokens.
        max_tokens_field="max_tokens",
        remote_images=False,
    ),
    description="Ollama: open models on a local (or Ollama Cloud) server",
    model_class=OllamaChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def adapt_params(model: ChatCompletionModel, params: dict[str, Any]) -> None:
    map_tools(params)
    map_thinking(model, params)
