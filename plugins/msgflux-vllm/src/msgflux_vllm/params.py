"""Requests for vLLM's OpenAI-compatible server: what it spells or handles differently.

Sources (vLLM documentation): "Structured Outputs" (OpenAI ``response_format`` accepted;
``guided_*`` fields removed in v0.12.0 in favour of ``structured_outputs``), "Reasoning
Outputs" (the ``reasoning`` field, ``chat_template_kwargs`` switches, ``thinking_token_budget``)
and "OpenAI-Compatible Server" (extra parameters go at the top level of the JSON body;
fields it does not know are ignored, which is why msgflux refuses them first).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["LEGACY_GUIDED_FIELDS", "adapt_request", "check_options"]

#: vLLM ignores (with a server-side log line) fields it does not know, so these OpenAI-only
#: settings would be dropped without the caller noticing.
#: ``guided_*`` extra fields (removed in vLLM v0.12.0) -> their ``structured_outputs`` key.
LEGACY_GUIDED_FIELDS: Mapping[str, str | None] = {
    "guided_json": "json",
    "guided_regex": "regex",
    "guided_choice": "choice",
    "guided_grammar": "grammar",
    "guided_whitespace_pattern": "whitespace_pattern",
    "guided_decoding_backend": None,  # now a server flag; vLLM says to drop it
}


def check_options(options: Mapping[str, Any]) -> None:
    """Check the vLLM options once, when the model is created."""
    keys = options.get("thinking_kwargs")
    if (
        isinstance(keys, str)
        or not isinstance(keys, Sequence)
        or not all(isinstance(key, str) and key for key in keys)
    ):
        raise ValueError(
            "thinking_kwargs must be a list of chat-template variable names, e.g. "
            f"['enable_thinking', 'thinking'] (or [] to never send them); got {keys!r}"
        )


def adapt_request(model: ChatCompletionModel, params: dict[str, Any]) -> dict[str, Any]:
    """Turn the OpenAI-shaped request (already mapped by the openai plugin) into vLLM's."""
    extra_body = dict(params.get("extra_body") or {})  # may be the caller's: copy
    _migrate_guided_fields(extra_body)
    _map_thinking(model, params, extra_body)
    if extra_body:
        params["extra_body"] = extra_body
    else:
        params.pop("extra_body", None)
    return params


def _map_thinking(
    model: ChatCompletionModel, params: dict[str, Any], extra_body: dict[str, Any]
) -> None:
    """Thinking switches (``chat_template_kwargs``) and budget (``thinking_token_budget``).

    Thinking is on with ``enable_thinking=True`` or when the request asks for a reasoning
    effort or budget; off with ``reasoning_effort="none"`` or ``enable_thinking=False``
    (msgflux's default); untouched with ``enable_thinking=None`` and no effort or budget.
    """
    thinking = params.pop("enable_thinking", None)
    budget = params.pop("reasoning_max_tokens", None)
    effort = params.get("reasoning_effort")
    if budget is not None:
        extra_body["thinking_token_budget"] = budget
    if effort == "none":
        thinking = False
    elif effort is not None or budget is not None:
        thinking = True
    keys = model.options.get("thinking_kwargs") or ()
    if thinking is None or not keys:
        return
    # Templates read different names (Qwen3: enable_thinking; Granite, DeepSeek-V3.1, Holo2:
    # thinking); vLLM passes a template only the variables it uses, so both are safe.
    switches = dict.fromkeys(keys, thinking)
    user = extra_body.get("chat_template_kwargs") or {}
    extra_body["chat_template_kwargs"] = {**switches, **user}  # the caller's own values win


def _migrate_guided_fields(extra_body: dict[str, Any]) -> None:
    legacy = [name for name in LEGACY_GUIDED_FIELDS if name in extra_body]
    if not legacy:
        return
    warnings.warn(
        f"vLLM removed {', '.join(legacy)} in v0.12.0; msgflux sends them as "
        "extra_body={'structured_outputs': {...}} (or use generation_schema=...)",
        DeprecationWarning,
        stacklevel=2,
    )
    structured = dict(extra_body.get("structured_outputs") or {})
    for name in legacy:
        value = extra_body.pop(name)
        key = LEGACY_GUIDED_FIELDS[name]
        if key is not None:
            structured.setdefault(key, value)
    if structured:
        extra_body["structured_outputs"] = structured
