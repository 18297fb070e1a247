"""msgflux-together: Together AI's OpenAI-compatible API as the ``together`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("together/moonshotai/Kimi-K2.5", enable_thinking=True)
response = model("What is 15 * 7 + 3?")
response.consume(), response.reasoning
```

The provider extends ``openai`` (transport, decoding, reasoning extraction). How Together's
API differs is declared as ``Quirks`` (sources: Together's API reference "Create Chat
Completion": ``max_tokens`` only; tool functions with ``name``/``description``/``parameters``
and no ``strict``; ``logprobs`` as an integer with its own response shape); the one hook maps
its reasoning switches (``params.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux import hookimpl
from msgflux.providers import ProviderSpec, Quirks
from msgflux_together.chat import TogetherChatCompletion
from msgflux_together.params import map_reasoning

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="together",
    extends="openai",
    api_key_env=("TOGETHER_API_KEY",),
    base_url_env="TOGETHER_BASE_URL",
    default_base_url="https://api.together.xyz/v1",
    # Not declared: logprobs (Together's is a top-k integer answered in its own shape, not
    # OpenAI's), audio output and web search.
    supports=frozenset({"streaming", "tools", "structured_output", "reasoning", "vision"}),
    quirks=Quirks(
        refused={
            "prompt_cache_retention": "it is an OpenAI-only cache setting",
            "verbosity": "Together has no verbosity control",
        },
        max_tokens_field="max_tokens",
        tool_strict=False,
        # DeepSeek-R1 answers with its reasoning in a leading <think>...</think> block.
        think_tags=True,
    ),
    description="Together AI: serverless and dedicated open models",
    model_class=TogetherChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def adapt_params(model: ChatCompletionModel, params: dict[str, Any]) -> None:
    map_reasoning(model, params)
