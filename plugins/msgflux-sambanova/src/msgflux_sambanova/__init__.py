"""msgflux-sambanova: SambaNova Cloud's OpenAI-compatible API as the ``sambanova`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("sambanova/gpt-oss-120b", reasoning_effort="high")
response = model("What is 15 * 7 + 3?")
response.consume(), response.reasoning
```

The provider extends ``openai``: transport, decoding and reasoning extraction (the
``reasoning`` field of gpt-oss, and DeepSeek-R1's ``<think>`` blocks through the OpenAI
plugin's ``think_tags``) are the OpenAI plugin's. This plugin adds SambaNova's request rules
(``params.py``).
"""

from __future__ import annotations

from msgflux import hookimpl
from msgflux.providers import ProviderSpec
from msgflux_sambanova.chat import SambaNovaChatCompletion
from msgflux_sambanova.params import adapt_request

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="sambanova",
    extends="openai",
    api_key_env=("SAMBANOVA_API_KEY",),
    base_url_env="SAMBANOVA_BASE_URL",
    default_base_url="https://api.sambanova.ai/v1",
    options={
        # DeepSeek-R1 answers with its reasoning in a leading <think>...</think> block of the
        # content: move it to response.reasoning (msgflux_openai.think_tags).
        "think_tags": True,
    },
    # Not declared: logprobs ("not yet supported by our models"), audio output, web search.
    supports=frozenset({"streaming", "tools", "structured_output", "reasoning", "vision"}),
    description="SambaNova Cloud: fast inference of open models on RDUs",
    model_class=SambaNovaChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def adapt_params(model, params):
    return adapt_request(model, params)
