"""msgflux-ollama: an Ollama server's OpenAI-compatible API as the ``ollama`` provider.

```python
import msgflux as mf

model = mf.Model.chat_completion("ollama/qwen3:8b", enable_thinking=True)
response = model("What is 15 * 7 + 3?")   # OLLAMA_BASE_URL or http://localhost:11434/v1
response.consume(), response.reasoning
```

The provider extends ``openai``: transport, decoding and reasoning extraction (Ollama's
``reasoning`` field) are the OpenAI plugin's. This plugin adds Ollama's request rules
(``params.py``).
"""

from __future__ import annotations

from msgflux import hookimpl
from msgflux.providers import ProviderSpec
from msgflux_ollama.chat import OllamaChatCompletion
from msgflux_ollama.params import adapt_request

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
    description="Ollama: open models on a local (or Ollama Cloud) server",
    model_class=OllamaChatCompletion,
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def adapt_params(model, params):
    return adapt_request(model, params)
