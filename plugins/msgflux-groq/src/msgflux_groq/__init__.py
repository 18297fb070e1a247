"""msgflux-groq: Groq's OpenAI-compatible API as the ``groq`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("groq/openai/gpt-oss-120b", reasoning_effort="low")
response = model("What is 15 * 7 + 3?")
response.consume()    # "108"
response.reasoning    # Groq's `reasoning` field, kept apart from the answer
```

The provider extends ``openai`` (transport, decoding, reasoning extraction). How Groq's API
differs is declared in the spec (sources: Groq's "OpenAI Compatibility" page and API
reference: penalties not supported by any model yet; stream usage in ``x_groq.usage`` on the
last chunk); its reasoning controls per model family need code (``params.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgflux import hookimpl
from msgflux.providers import ProviderOption, ProviderSpec, Quirks
from msgflux_groq.chat import GroqChatCompletion
from msgflux_groq.params import MODEL_FAMILIES, REASONING_FORMATS, adapt_request, check_options

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="groq",
    extends="openai",
    api_key_env=("GROQ_API_KEY",),
    base_url_env="GROQ_BASE_URL",
    default_base_url="https://api.groq.com/openai/v1",
    options={
        "reasoning_format": ProviderOption(
            None,
            choices=REASONING_FORMATS,
            doc="None: 'parsed' for qwen3 models, Groq's own default for the others",
        ),
        # True | False; Groq refuses it together with reasoning_format.
        "include_reasoning": None,
        "model_family": ProviderOption(
            "auto", choices=MODEL_FAMILIES, doc="which reasoning controls apply (see README)"
        ),
    },
    # Not declared: logprobs (Groq answers 400), audio output, web search through
    # web_search_options (Groq's search lives in its compound models and tools).
    supports=frozenset({"streaming", "tools", "structured_output", "reasoning", "vision"}),
    quirks=Quirks(
        refused={
            "prompt_cache_retention": "it is an OpenAI-only cache setting (Groq caches "
            "prompts itself)",
            "presence_penalty": "Groq documents it as not supported by any of its models yet",
            "frequency_penalty": "Groq documents it as not supported by any of its models yet",
        },
        stream_usage="x_groq.usage",
    ),
    description="Groq (GroqCloud): fast inference of open models",
    model_class=GroqChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def validate_options(options: Mapping[str, Any]) -> None:
    check_options(options)


@hookimpl
def adapt_params(model: ChatCompletionModel, params: dict[str, Any]) -> None:
    adapt_request(model, params)
