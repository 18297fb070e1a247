"""msgflux-acme: the ``acme`` provider, an example of a third-party msgflux plugin.

Acme (made up for this example) serves an OpenAI-compatible Chat Completions API with four
differences, and this module handles exactly those; everything else (the HTTP client,
messages, tools, structured output, streaming, decoding) comes from the ``openai`` provider
that ``acme`` extends:

1. it still spells the output limit ``max_tokens`` (OpenAI now says ``max_completion_tokens``):
   a fact, declared as a quirk;
2. extended thinking is switched with ``"thinking": {"type": "enabled", "budget_tokens": N}``:
   behaviour, in the ``adapt_params`` hook;
3. it has a ``safety_mode`` request field (``"off"``, ``"standard"``, ``"strict"``): an option
   declared with its values, sent by ``adapt_params``;
4. it returns the reasoning trace in a ``thoughts`` field of the message (or stream delta):
   read by the ``extract_reasoning`` hook when the fields OpenAI-compatible servers use are
   empty.

```python
import msgflux as mf

model = mf.Model.chat_completion("acme/acme-large-1", safety_mode="strict")  # ACME_API_KEY
response = model("What is 15 * 7 + 3?", enable_thinking=True, reasoning_max_tokens=512)
response.consume()    # "108"
response.reasoning    # Acme's `thoughts`
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux import hookimpl
from msgflux.providers import ProviderOption, ProviderSpec, Quirks

# The hooks' argument types (msgflux/hookspecs.py), for type checkers only: with
# `from __future__ import annotations` the hints are never evaluated, so importing the
# plugin (which `import msgflux` does) loads nothing more for them.
if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["PROVIDER", "SAFETY_MODES"]

SAFETY_MODES = ("off", "standard", "strict")

PROVIDER = ProviderSpec(
    name="acme",
    extends="openai",
    # Only Acme's own variables: a derived provider never reads OPENAI_API_KEY.
    api_key_env=("ACME_API_KEY",),
    base_url_env="ACME_BASE_URL",
    default_base_url="https://api.acme.example/v1",
    # Keyword arguments `mf.Model.chat_completion("acme/...", ...)` accepts, with defaults
    # (a derived provider's default replaces its base's). A value outside `choices` fails
    # when the model is created.
    options={
        "safety_mode": ProviderOption(None, choices=SAFETY_MODES, doc="Acme's content filter"),
    },
    # What the pipeline may send; it refuses logprobs, audio and web search for acme models
    # (UnsupportedParameterError) instead of sending something Acme would ignore.
    supports=frozenset({"streaming", "tools", "structured_output", "reasoning"}),
    # Facts the OpenAI wire format applies for us: the request says `max_tokens`.
    quirks=Quirks(max_tokens_field="max_tokens"),
    description="Acme (example plugin): an OpenAI-compatible API",
)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [PROVIDER]


@hookimpl
def adapt_params(model: ChatCompletionModel, params: dict[str, Any]) -> dict[str, Any]:
    # Runs after openai's adapt_params, on the request it produced.
    # extra_body may be shared with the caller or the model: build a new dict.
    extra_body = dict(params.get("extra_body") or {})
    # The neutral thinking switches must be mapped and removed; one left with a value
    # would make the pipeline refuse the request.
    enable_thinking = params.pop("enable_thinking", None)
    budget = params.pop("reasoning_max_tokens", None)
    if enable_thinking or budget is not None:
        thinking: dict[str, Any] = {"type": "enabled"}
        if budget is not None:
            thinking["budget_tokens"] = budget
        extra_body["thinking"] = thinking
    if model.options["safety_mode"] is not None:
        extra_body["safety_mode"] = model.options["safety_mode"]
    if extra_body:
        params["extra_body"] = extra_body
    return params


@hookimpl
def extract_reasoning(message: Any, reasoning: str | None) -> str | None:
    # `message` is a whole message or a stream delta (attribute access). The base provider
    # already looked at reasoning_content / reasoning / thinking: keep what it found.
    if reasoning is not None:
        return None
    thoughts = getattr(message, "thoughts", None)
    return thoughts if isinstance(thoughts, str) and thoughts else None
