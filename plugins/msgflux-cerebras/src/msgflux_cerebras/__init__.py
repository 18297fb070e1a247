"""msgflux-cerebras: Cerebras Inference's OpenAI-compatible API as the ``cerebras`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("cerebras/gpt-oss-120b", reasoning_effort="low")
response = model("What is 15 * 7 + 3?")
response.consume(), response.reasoning
```

The provider extends ``openai``: transport, decoding and reasoning extraction (the
``reasoning`` field, and ``<think>`` blocks through the OpenAI plugin's ``think_tags``) are
the OpenAI plugin's. This plugin adds Cerebras' request rules (``params.py``).
"""

from __future__ import annotations

from msgflux import hookimpl
from msgflux.providers import ProviderSpec
from msgflux_cerebras.chat import CerebrasChatCompletion
from msgflux_cerebras.params import adapt_request, validate_options

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="cerebras",
    extends="openai",
    api_key_env=("CEREBRAS_API_KEY",),
    base_url_env="CEREBRAS_BASE_URL",
    default_base_url="https://api.cerebras.ai/v1",
    options={
        # "parsed" | "raw" | "hidden" | "none"; None: Cerebras' default for the model.
        "reasoning_format": None,
        # Qwen3's default ("raw") puts its reasoning in a leading <think>...</think> block of
        # the content: move it to response.reasoning (msgflux_openai.think_tags).
        "think_tags": True,
    },
    # Not declared: vision (text-only messages), audio output, web search.
    supports=frozenset({"streaming", "tools", "structured_output", "reasoning", "logprobs"}),
    description="Cerebras Inference: wafer-scale fast inference of open models",
    model_class=CerebrasChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def initialize_client(model):
    # Called once per model: the place to reject bad options before any request.
    validate_options(model.options)


@hookimpl
def adapt_params(model, params):
    return adapt_request(model, params)
