"""Groq's rules that need code: reasoning controls per model family, and messages' names.

The rest of how Groq differs is declared as ``Quirks`` in the spec. Sources (Groq
documentation): "OpenAI Compatibility" (fields Groq answers with a 400) and "Reasoning"
(``reasoning_format``, ``include_reasoning``, ``reasoning_effort`` per model family).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgflux.errors import UnsupportedParameterError

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = [
    "MODEL_FAMILIES",
    "REASONING_FORMATS",
    "adapt_request",
    "check_options",
    "model_family",
]

REASONING_FORMATS = ("parsed", "raw", "hidden")
MODEL_FAMILIES = ("auto", "gpt-oss", "qwen3", "other")

#: gpt-oss speaks OpenAI's Harmony format, which has exactly these three efforts.
_GPT_OSS_EFFORTS = ("low", "medium", "high")


def model_family(model: ChatCompletionModel) -> str:
    """``"gpt-oss"``, ``"qwen3"`` or ``"other"``: which reasoning controls the model has."""
    family: str = model.options.get("model_family", "auto")
    if family != "auto":
        return family
    model_id = model.model_id.lower()
    if "gpt-oss" in model_id:
        return "gpt-oss"
    if "qwen3" in model_id:
        return "qwen3"
    return "other"


def check_options(options: Mapping[str, Any]) -> None:
    """What the declared choices cannot say: a boolean, and two options that exclude each other."""
    include_reasoning = options.get("include_reasoning")
    if include_reasoning is not None and not isinstance(include_reasoning, bool):
        raise ValueError(
            f"include_reasoning must be True, False or None; got {include_reasoning!r}"
        )
    if options.get("reasoning_format") is not None and include_reasoning is not None:
        raise ValueError(_EXCLUSIVE)


_EXCLUSIVE = (
    "Groq treats `reasoning_format` and `include_reasoning` as mutually exclusive: set one of "
    "them (reasoning_format='parsed'|'raw'|'hidden', or include_reasoning=True|False)"
)


def adapt_request(model: ChatCompletionModel, params: dict[str, Any]) -> None:
    """Turn the OpenAI-shaped request (already mapped by the openai plugin) into Groq's."""
    for position, message in enumerate(params["messages"]):
        if "name" in message:
            raise UnsupportedParameterError(
                f"provider 'groq' rejects `name` on messages (messages[{position}] has "
                f"name={message['name']!r}); put the speaker's name in the content instead"
            )
    family = model_family(model)
    _map_reasoning(family, params)
    _reasoning_output(model, family, params)


def _map_reasoning(family: str, params: dict[str, Any]) -> None:
    effort = params.get("reasoning_effort")
    thinking = params.get("enable_thinking")
    if family == "gpt-oss":
        if effort is not None and effort not in _GPT_OSS_EFFORTS:
            raise UnsupportedParameterError(
                f"gpt-oss models on provider 'groq' accept reasoning_effort "
                f"{', '.join(_GPT_OSS_EFFORTS)}; got {effort!r} (they always reason)"
            )
        # Always reasoning: `enable_thinking=True` is already true, and there is no way to
        # switch it off, so the flag maps to nothing either way.
        params.pop("enable_thinking", None)
    elif family == "qwen3":
        # Qwen3 on Groq has an on/off switch, spelled reasoning_effort="default"/"none".
        if effort is not None and effort != "none":
            raise UnsupportedParameterError(
                f"qwen3 models on provider 'groq' only switch reasoning on or off: use "
                f"enable_thinking=True (sent as reasoning_effort='default') or "
                f"reasoning_effort='none'; got reasoning_effort={effort!r}"
            )
        if effort is None and thinking is not None:
            params["reasoning_effort"] = "default" if thinking else "none"
        params.pop("enable_thinking", None)
    # Other families: reasoning_effort goes as given (Groq answers for the model), and
    # enable_thinking stays, so that True is refused by msgflux as having no equivalent.


def _reasoning_output(model: ChatCompletionModel, family: str, params: dict[str, Any]) -> None:
    """Where Groq puts the reasoning: ``reasoning_format`` / ``include_reasoning``."""
    extra_body = params.get("extra_body") or {}
    reasoning_format = extra_body.get("reasoning_format", model.options.get("reasoning_format"))
    include_reasoning = extra_body.get("include_reasoning", model.options.get("include_reasoning"))
    if reasoning_format is not None and include_reasoning is not None:
        raise UnsupportedParameterError(_EXCLUSIVE)
    if reasoning_format is None and include_reasoning is None and family == "qwen3":
        # Groq's default for qwen3 is "raw" (reasoning inside <think> tags in the content);
        # msgflux keeps reasoning apart from the answer, so ask for the separate field.
        reasoning_format = "parsed"
    if reasoning_format == "raw" and (params.get("tools") or params.get("response_format")):
        raise UnsupportedParameterError(
            "provider 'groq' rejects reasoning_format='raw' together with tools or structured "
            "output; use 'parsed' (reasoning in response.reasoning) or 'hidden'"
        )
    if reasoning_format is not None or include_reasoning is not None:
        extra_body = dict(extra_body)  # may be the caller's: replace, never mutate
        extra_body.pop("reasoning_format", None)
        extra_body.pop("include_reasoning", None)
        if reasoning_format is not None:
            extra_body["reasoning_format"] = reasoning_format
        if include_reasoning is not None:
            extra_body["include_reasoning"] = include_reasoning
        params["extra_body"] = extra_body
