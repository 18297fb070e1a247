"""msgflux-sambanova: SambaNova Cloud's OpenAI-compatible API as the ``sambanova`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("sambanova/gpt-oss-120b", reasoning_effort="high")
response = model("What is 15 * 7 + 3?")
response.consume(), response.reasoning
```

The provider extends ``openai`` (transport, decoding, reasoning extraction) and is a pure
declaration: every way SambaNova's API differs is a fact in ``Quirks``, applied by the OpenAI
wire format. Sources: SambaNova's API reference ("Create chat completion", and the request
types of its official SDK generated from the same OpenAPI spec): ``reasoning_effort``
low/medium/high; tool functions without ``strict``; ``logprobs`` "not yet supported by our
models"; images as base64 data only; text parts sent as one string, because SambaNova
answers list content with "Invalid 'content' type. Expected one of: ['str'], got list"
(reported with gpt-oss-120b).
"""

from __future__ import annotations

from msgflux import hookimpl
from msgflux.providers import ProviderSpec, Quirks
from msgflux_sambanova.chat import SambaNovaChatCompletion

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="sambanova",
    extends="openai",
    api_key_env=("SAMBANOVA_API_KEY",),
    base_url_env="SAMBANOVA_BASE_URL",
    default_base_url="https://api.sambanova.ai/v1",
    # Not declared: logprobs, audio output, web search.
    supports=frozenset({"streaming", "tools", "structured_output", "reasoning", "vision"}),
    quirks=Quirks(
        refused={
            "prompt_cache_retention": "it is an OpenAI-only cache setting",
            "verbosity": "SambaNova has no verbosity control",
        },
        reasoning_efforts=("low", "medium", "high"),
        tool_strict=False,
        text_content_only=True,
        remote_images=False,
        # DeepSeek-R1 answers with its reasoning in a leading <think>...</think> block.
        think_tags=True,
    ),
    description="SambaNova Cloud: fast inference of open models on RDUs",
    model_class=SambaNovaChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]
