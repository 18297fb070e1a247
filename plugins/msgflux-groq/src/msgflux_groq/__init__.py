"""msgflux-groq: Groq's OpenAI-compatible API as the ``groq`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("groq/openai/gpt-oss-120b", reasoning_effort="low")
response = model("What is 15 * 7 + 3?")
response.consume()    # "108"
response.reasoning    # Groq's `reasoning` field, kept apart from the answer
```

The provider extends ``openai`` (transport, decoding, reasoning extraction). This plugin adds
Groq's request rules (``params.py``) and reads stream usage from ``x_groq.usage``, where
Groq puts it on the last chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgflux import hookimpl
from msgflux.models.response import ModelStreamResponse
from msgflux.providers import ProviderSpec
from msgflux_groq.chat import GroqChatCompletion
from msgflux_groq.params import adapt_request, validate_options

__all__ = ["PROVIDER"]

PROVIDER = ProviderSpec(
    name="groq",
    extends="openai",
    api_key_env=("GROQ_API_KEY",),
    base_url_env="GROQ_BASE_URL",
    default_base_url="https://api.groq.com/openai/v1",
    options={
        # "parsed" | "raw" | "hidden"; None: "parsed" for qwen3 models (reasoning in
        # response.reasoning), Groq's own default for the others.
        "reasoning_format": None,
        # True | False; Groq refuses it together with reasoning_format.
        "include_reasoning": None,
        # "auto" (from the model id) | "gpt-oss" | "qwen3" | "other": which reasoning
        # controls apply (see README).
        "model_family": "auto",
    },
    # Not declared: logprobs (Groq answers 400), audio output, web search through
    # web_search_options (Groq's search lives in its compound models and tools).
    supports=frozenset({"streaming", "tools", "structured_output", "reasoning", "vision"}),
    description="Groq (GroqCloud): fast inference of open models",
    model_class=GroqChatCompletion,
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


@hookimpl
def process_output(output, response):
    if not isinstance(response, ModelStreamResponse):
        return
    x_groq = _field(output, "x_groq")
    usage = _field(x_groq, "usage") if x_groq is not None else None
    # A standard usage chunk (stream_options.include_usage) wins when both are sent.
    if usage is not None and "usage" not in response.pending_metadata:
        response.update_metadata(usage=_plain(usage))


def _field(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _plain(value: Any) -> Any:
    from msgflux_openai.decode import to_builtins

    return to_builtins(value)
