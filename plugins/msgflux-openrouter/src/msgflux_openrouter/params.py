"""Requests for OpenRouter: its ``reasoning`` object, web plugin, routing and attribution.

Sources (OpenRouter documentation): "Reasoning Tokens" (``reasoning.effort`` or
``reasoning.max_tokens``, not both; ``reasoning.enabled``), "Web Search" (the ``web``
plugin with ``engine`` / ``max_results`` / ``search_prompt``; ``web_search_options`` for
native search context size), "Provider Routing" (the ``provider`` object), "App
Attribution" (``HTTP-Referer``, ``X-OpenRouter-Title``, ``X-OpenRouter-Categories``) and
the API reference (``max_tokens``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from msgflux.errors import UnsupportedParameterError

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["WEB_PLUGIN_FIELDS", "adapt_request", "attribution_headers", "check_options"]

#: Keys of ``web_search_options`` that configure OpenRouter's ``web`` plugin; the other keys
#: (OpenAI's ``search_context_size``, ``user_location``) stay in ``web_search_options``.
WEB_PLUGIN_FIELDS = ("engine", "max_results", "search_prompt")


def check_options(options: Mapping[str, Any]) -> None:
    """Check the OpenRouter options once, when the model is created."""
    for name in ("app_url", "app_name"):
        value = options.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{name} must be a non-empty string or None; got {value!r}")
    categories = options.get("app_categories")
    if categories is not None and not (
        isinstance(categories, str)
        or (isinstance(categories, Sequence) and all(isinstance(c, str) for c in categories))
    ):
        raise ValueError(
            f"app_categories must be a string or a list of strings; got {categories!r}"
        )
    preferences = options.get("provider_preferences")
    if preferences is not None and not isinstance(preferences, Mapping):
        raise ValueError(
            "provider_preferences must be a dict of OpenRouter provider routing fields "
            f"(order, only, ignore, sort, allow_fallbacks...); got {preferences!r}"
        )


def attribution_headers(options: Mapping[str, Any]) -> dict[str, str]:
    """The app attribution headers the application configured (none by default)."""
    headers = {}
    if options.get("app_url"):
        headers["HTTP-Referer"] = options["app_url"]
    if options.get("app_name"):
        headers["X-OpenRouter-Title"] = options["app_name"]
    categories = options.get("app_categories")
    if categories:
        joined = categories if isinstance(categories, str) else ",".join(categories)
        headers["X-OpenRouter-Categories"] = joined
    return headers


def adapt_request(model: ChatCompletionModel, params: dict[str, Any]) -> dict[str, Any]:
    """Turn the OpenAI-shaped request (already mapped by the openai plugin) into OpenRouter's."""
    extra_body = dict(params.get("extra_body") or {})  # may be the caller's: copy
    _map_reasoning(params, extra_body)
    _map_web_search(params, extra_body)
    preferences = model.options.get("provider_preferences")
    if preferences:
        extra_body["provider"] = {**preferences, **(extra_body.get("provider") or {})}
    if extra_body:
        params["extra_body"] = extra_body
    headers = attribution_headers(model.options)
    if headers:
        # The caller's extra_headers (model or call) win over the configured attribution.
        params["extra_headers"] = {**headers, **(params.get("extra_headers") or {})}
    return params


def _map_reasoning(params: dict[str, Any], extra_body: dict[str, Any]) -> None:
    effort = params.pop("reasoning_effort", None)
    budget = params.pop("reasoning_max_tokens", None)
    # enable_thinking=False maps to nothing: several models on OpenRouter reason
    # mandatorily and reject `enabled: false`; reasoning_effort="none" switches it off
    # where a model allows it.
    thinking = params.pop("enable_thinking", None)
    ours: dict[str, Any] = {}
    if effort is not None:
        ours["effort"] = effort
    if budget is not None:
        ours["max_tokens"] = budget
    if thinking is True and not ours:
        ours["enabled"] = True
    reasoning = {**ours, **(extra_body.get("reasoning") or {})}  # the caller's raw keys win
    if "effort" in reasoning and "max_tokens" in reasoning:
        raise UnsupportedParameterError(
            "provider 'openrouter' takes either a reasoning effort or a reasoning token budget, "
            f"not both: got reasoning_effort={reasoning['effort']!r} and "
            f"reasoning_max_tokens={reasoning['max_tokens']!r}; drop one of them"
        )
    if reasoning:
        extra_body["reasoning"] = reasoning


def _map_web_search(params: dict[str, Any], extra_body: dict[str, Any]) -> None:
    options = params.pop("web_search_options", None)
    if options is None:
        return
    plugin = {"id": "web", **{k: v for k, v in options.items() if k in WEB_PLUGIN_FIELDS}}
    native = {k: v for k, v in options.items() if k not in WEB_PLUGIN_FIELDS}
    if native:
        params["web_search_options"] = native
    plugins = [dict(p) if isinstance(p, Mapping) else p for p in extra_body.get("plugins") or ()]
    for existing in plugins:
        if isinstance(existing, dict) and existing.get("id") == "web":
            existing.update({**plugin, **existing})  # the caller's own web plugin wins
            break
    else:
        plugins.append(plugin)
    extra_body["plugins"] = plugins
