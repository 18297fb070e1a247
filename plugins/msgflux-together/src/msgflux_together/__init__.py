"""msgflux-together: Together AI's OpenAI-compatible API as the ``together`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("together/moonshotai/Kimi-K2.5", enable_thinking=True)
response = model("What is 15 * 7 + 3?")
response.consume(), response.reasoning
```

The provider extends ``openai``: transport, decoding and reasoning extraction (Together's
``reasoning`` field, and ``<think>`` blocks through the OpenAI plugin's ``think_tags``) are the
OpenAI plugin's. This plugin adds Together's request rules (``params.py``).
"""

from __future__ import annotations

from msgflux import hookimpl
from msgflux.providers import ProviderSpec
from msgflux_together.chat import TogetherChatCompletion
from msgflux_together.params import adapt_request

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="together",
    extends="openai",
    api_key_env=("TOGETHER_API_KEY",),
    base_url_env="TOGETHER_BASE_URL",
    default_base_url="https://api.together.xyz/v1",
    options={
        # DeepSeek-R1 answers with its reasoning in a leading <think>...</think> block of the
        # content: move it to response.reasoning (msgflux_openai.think_tags).
        "think_tags": True,
    },
    # Not declared: logprobs (Together's `logprobs` is a top-k integer answered in its own
    # shape, not OpenAI's), audio output and web search.
    supports=frozenset({"streaming", "tools", "structured_output", "reasoning", "vision"}),
    description="Together AI: serverless and dedicated open models",
    model_class=TogetherChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def adapt_params(model, params):
    return adapt_request(model, params)
