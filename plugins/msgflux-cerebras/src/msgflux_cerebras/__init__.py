"""msgflux-cerebras: Cerebras Inference's OpenAI-compatible API as the ``cerebras`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("cerebras/gpt-oss-120b", reasoning_effort="low")
response = model("What is 15 * 7 + 3?")
response.consume(), response.reasoning
```

The provider extends ``openai`` (transport, decoding, reasoning extraction from the
``reasoning`` field). How Cerebras' API differs is declared in the spec (sources: the API
reference "Chat Completions": text-only message content, so no ``vision``); its reasoning
controls differ per model family and need code (``params.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux import hookimpl
from msgflux.providers import ProviderOption, ProviderSpec, Quirks
from msgflux_cerebras.chat import CerebrasChatCompletion
from msgflux_cerebras.params import REASONING_FORMATS, map_reasoning

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="cerebras",
    extends="openai",
    api_key_env=("CEREBRAS_API_KEY",),
    base_url_env="CEREBRAS_BASE_URL",
    default_base_url="https://api.cerebras.ai/v1",
    options={
        "reasoning_format": ProviderOption(
            None, choices=REASONING_FORMATS, doc="None: Cerebras' default for the model"
        ),
    },
    # Not declared: vision (text-only messages), audio output, web search.
    supports=frozenset({"streaming", "tools", "structured_output", "reasoning", "logprobs"}),
    quirks=Quirks(
        refused={
            "prompt_cache_retention": "it is an OpenAI-only cache setting",
            "verbosity": "Cerebras has no verbosity control",
        },
        # Qwen3's default reasoning format ("raw") puts its reasoning in a leading
        # <think>...</think> block of the content.
        think_tags=True,
    ),
    description="Cerebras Inference: wafer-scale fast inference of open models",
    model_class=CerebrasChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def adapt_params(model: ChatCompletionModel, params: dict[str, Any]) -> None:
    map_reasoning(model, params)
