"""The option names a model and a call accept, and the checks on their values.

Kept apart from the pipeline so the full list of what a user can pass is one screen.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from msgflux.errors import UnsupportedParameterError

#: Generation parameters, settable per model and overridable per call. They go into the
#: request under the same name (OpenAI's), and plugins adapt them for their provider.
REQUEST_OPTIONS = (
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
    "verbosity",
    "modalities",
    "audio",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "prompt_cache_retention",
    "web_search_options",
)

#: Provider-neutral parameters no OpenAI-style API shares: a provider plugin must map them
#: (e.g. into ``extra_body``) or they are refused with ``UnsupportedParameterError``.
NEUTRAL_OPTIONS = ("enable_thinking", "reasoning_max_tokens")

#: Constructor options that change how msgflux behaves rather than what it sends.
MODEL_OPTIONS = (
    "api_key",
    "base_url",
    "timeout",
    "extra_body",
    "extra_headers",
    "return_reasoning",
    "reasoning_in_tool_call",
    "validate_typed_parser_output",
    "verbose",
    "context_length",
    "enable_cache",
    "cache_size",
    "retry",
    # TLS for the provider's HTTP client (read by the plugins when they build clients).
    "verify",
    "ssl_context",
)

#: Keyword arguments of ``model(...)`` / ``model.acall(...)`` besides ``REQUEST_OPTIONS``.
CALL_OPTIONS = (
    "system_prompt",
    "prefilling",
    "stream",
    "generation_schema",
    "tool_definitions",
    "typed_parser",
    "timeout",
    "extra_body",
    "extra_headers",
    "tool_schemas",  # deprecated (spec 004): use tool_definitions
    "tool_choice",  # deprecated (spec 004): use tool_definitions
)

_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_VERBOSITIES = ("low", "medium", "high")
_MODALITIES = ("text", "audio")


def unknown_keyword(kind: str, name: str, valid: Iterable[str]) -> TypeError:
    """A ``TypeError`` for an unknown keyword, suggesting the closest valid one."""
    valid = sorted(set(valid))
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else f" Valid: {', '.join(valid)}."
    return TypeError(f"{kind} got an unexpected keyword argument {name!r}.{hint}")


def check_request_options(options: Mapping[str, Any]) -> None:
    """Validate generation parameter values; raise ``ValueError`` naming what is allowed."""
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        value = options.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"`{name}` must be a number, got {value!r}")
    temperature = options.get("temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        raise ValueError(f"`temperature` must be between 0 and 2, got {temperature}")
    top_p = options.get("top_p")
    if top_p is not None and not 0 <= top_p <= 1:
        raise ValueError(f"`top_p` must be between 0 and 1, got {top_p}")
    for name in ("max_tokens", "reasoning_max_tokens", "seed"):
        value = options.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"`{name}` must be an integer, got {value!r}")
    for name in ("max_tokens", "reasoning_max_tokens"):
        value = options.get(name)
        if value is not None and value <= 0:
            raise ValueError(f"`{name}` must be a positive integer, got {value}")
    stop = options.get("stop")
    if stop is not None and not (
        isinstance(stop, str)
        or (isinstance(stop, list | tuple) and all(isinstance(s, str) for s in stop))
    ):
        raise ValueError(f"`stop` must be a string or a list of strings, got {stop!r}")
    effort = options.get("reasoning_effort")
    if effort is not None and effort not in _EFFORTS:
        raise ValueError(f"`reasoning_effort` must be one of {', '.join(_EFFORTS)}; got {effort!r}")
    verbosity = options.get("verbosity")
    if verbosity is not None and verbosity not in _VERBOSITIES:
        raise ValueError(f"`verbosity` must be one of {', '.join(_VERBOSITIES)}; got {verbosity!r}")
    modalities = options.get("modalities")
    if modalities is not None and (
        not isinstance(modalities, list | tuple) or not set(modalities) <= set(_MODALITIES)
    ):
        raise ValueError(
            f"`modalities` must be a list drawn from {list(_MODALITIES)}, got {modalities!r}"
        )
    if options.get("audio") is not None and "audio" not in (modalities or ()):
        raise ValueError(
            "`audio` output settings need `modalities=['text', 'audio']` (or ['audio'])"
        )
    top_logprobs = options.get("top_logprobs")
    if top_logprobs is not None:
        if options.get("logprobs") is not True:
            raise ValueError("`top_logprobs` requires `logprobs=True`")
        if (
            isinstance(top_logprobs, bool)
            or not isinstance(top_logprobs, int)
            or not 0 <= top_logprobs <= 20
        ):
            raise ValueError(
                f"`top_logprobs` must be an integer from 0 to 20, got {top_logprobs!r}"
            )
    enable_thinking = options.get("enable_thinking")
    if enable_thinking is not None and not isinstance(enable_thinking, bool):
        raise ValueError(f"`enable_thinking` must be True or False, got {enable_thinking!r}")


def neutral_leftovers(provider: str, params: Mapping[str, Any]) -> None:
    """Refuse neutral parameters that the provider's plugins left unmapped."""
    for name in NEUTRAL_OPTIONS:
        if name not in params:
            continue
        value = params[name]
        if value is None or value is False:
            continue  # "off" needs no knob
        advice = {
            "enable_thinking": "use `reasoning_effort` if the provider has it",
            "reasoning_max_tokens": "use `reasoning_effort` or `max_tokens` instead",
        }[name]
        raise UnsupportedParameterError(
            f"provider {provider!r} has no equivalent of `{name}` ({name}={value!r}); {advice}"
        )
