"""msgflux-vllm: a vLLM server (``vllm serve``) as the ``vllm`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("vllm/Qwen/Qwen3-8B", enable_thinking=True)
response = model("What is 15 * 7 + 3?")   # VLLM_BASE_URL or http://localhost:8000/v1
response.consume(), response.reasoning
```

The provider extends ``openai``: transport, decoding and reasoning extraction (vLLM's
``reasoning`` field, ``reasoning_content`` from servers before the rename) are the OpenAI
plugin's. This plugin adds vLLM's request rules (``params.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgflux import hookimpl
from msgflux.providers import ProviderSpec, Quirks
from msgflux_vllm.chat import VLLMChatCompletion
from msgflux_vllm.params import adapt_request, check_options

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="vllm",
    extends="openai",
    # `vllm serve --api-key` is optional: without it the server accepts anonymous requests.
    api_key_env=("VLLM_API_KEY",),
    api_key_required=False,
    base_url_env="VLLM_BASE_URL",
    default_base_url="http://localhost:8000/v1",
    options={
        # Chat-template variables that switch a model's thinking on/off (Qwen3 reads
        # enable_thinking; Granite, DeepSeek-V3.1 and Holo2 read thinking).
        "thinking_kwargs": ("enable_thinking", "thinking"),
    },
    # Not declared: audio output and web search (a vLLM server has neither).
    supports=frozenset(
        {"streaming", "tools", "structured_output", "reasoning", "logprobs", "vision"}
    ),
    quirks=Quirks(
        refused={
            "prompt_cache_retention": "it is an OpenAI-only cache setting (vLLM caches "
            "prefixes itself)",
            "verbosity": "vLLM has no verbosity control",
        },
        # A server without --reasoning-parser sends reasoning inline as a leading
        # <think>...</think> block.
        think_tags=True,
    ),
    description="vLLM's OpenAI-compatible server (self-hosted open models)",
    model_class=VLLMChatCompletion,
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
