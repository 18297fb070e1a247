"""The plugin contract: every hook a msgflux provider plugin can implement.

A plugin is a module (or any object) with functions marked ``@msgflux.hookimpl``, published
through the entry point group ``msgflux``::

    [project.entry-points.msgflux]
    groq = "msgflux_groq"

It declares its provider(s) with ``register_providers``. The per-model hooks then run for a
model only when that model's provider is one of the plugin's providers, or one they extend
(scoped dispatch). For a ``groq`` model (groq extends openai) the order is always
base first, derived last: ``openai``'s implementation, then ``groq``'s. Each implementation
receives what the previous one produced, so a derived provider sees and may change what its
base did, and an implementation that has nothing to change returns ``None``.

Most differences between OpenAI-compatible providers are facts, not behaviour: declare them
as ``ProviderSpec(quirks=Quirks(...))`` and leave the hooks for what needs code. A provider
with its own wire format (``msgflux-anthropic``) extends no provider and implements
``initialize_client``, ``adapt_params`` and ``process_output`` itself, on ``msgflux.http``.

Implementations may accept any subset of a hook's arguments (pluggy passes only the ones a
function names). Hook chains are resolved once per provider (``msgflux._dispatch``), so the
per-chunk hooks (``extract_reasoning``, ``process_output`` on streams) cost about one
function call each, and a traceback through a hook shows the plugin's own function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel
    from msgflux.models.clients import ChatClients
    from msgflux.models.response import ModelResponse, ModelStreamResponse
    from msgflux.providers import ProviderSpec

PROJECT_NAME = "msgflux"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_providers() -> list[ProviderSpec] | None:
    """Return the providers this plugin declares (name, base, env vars, URL, options)."""


@hookspec
def validate_options(model: ChatCompletionModel, options: Mapping[str, Any]) -> None:
    """Check this provider's options of a new model; raise ``ValueError`` saying what to fix.

    Called once per model instance, before ``initialize_client``, with ``model.options``
    (the provider options the user passed, over their declared defaults). Values declared
    as ``ProviderOption(choices=...)`` are already checked; implement this hook for rules
    that involve several options. Every implementation of the chain runs, base first.
    """


@hookspec
def initialize_client(
    model: ChatCompletionModel, clients: ChatClients | None
) -> ChatClients | None:
    """Build the transport clients for ``model``; ``clients`` is what a base provider built.

    Called once per model instance. Return a ``ChatClients(client=..., aclient=...)``, or
    ``None`` to keep ``clients``. Each client speaks msgflux's neutral protocol,
    ``send(params)`` (the whole answer) and ``stream(params)`` (an iterable of chunks with
    ``close()``; async: awaitables, ``aclose()``), for any wire format; or OpenAI's,
    ``chat.completions.create(**params)`` (``msgflux.models.clients``). Import any vendor
    SDK here, never at plugin import time.
    """


@hookspec
def adapt_params(model: ChatCompletionModel, params: dict[str, Any]) -> dict[str, Any] | None:
    """Turn the provider-neutral request ``params`` into this provider's request.

    ``params`` holds OpenAI-style keyword arguments for ``chat.completions.create`` plus the
    neutral msgflux keys (``enable_thinking``, ``reasoning_max_tokens``) that a provider must
    map or remove. Rename fields, move extensions into ``extra_body`` / ``extra_headers``,
    drop what the provider rejects. Mutate ``params`` (it is the pipeline's own copy; nested
    values may be shared with the caller, so replace them rather than mutate them) or return
    a new dict. A neutral key left in the final request is an error naming this provider.

    The result is what the model's client receives: the keyword arguments of
    ``chat.completions.create``, or, for a client of the neutral protocol, the ``params`` of
    its ``send`` / ``stream`` (a wire format of its own builds its whole request here). An
    assistant message may carry ``provider_data`` (what this provider's ``process_output``
    left for the next request, e.g. thinking blocks); only the entries of this model's
    provider chain reach this hook.
    """


@hookspec
def extract_reasoning(
    model: ChatCompletionModel, message: Any, reasoning: str | None
) -> str | None:
    """Return the reasoning text carried by ``message`` (a whole message or a stream delta).

    ``reasoning`` is what a base provider extracted (``None`` if nothing). Return the
    replacement, or ``None`` to keep it.
    """


@hookspec
def process_output(
    model: ChatCompletionModel,
    output: Any,
    response: ModelResponse | ModelStreamResponse,
) -> None:
    """Decode ``output`` into ``response``.

    Non-streaming: ``output`` is the whole completion and ``response`` a ``ModelResponse``
    to fill (``add``, ``set_response_type``, ``reasoning``, ``metadata``, tool calls).
    Streaming: called once per chunk with a ``ModelStreamResponse`` (``add``,
    ``add_reasoning``, ``add_tool_call``, ``update_metadata``). ``output`` is what the
    client returned, as it returned it. Structured-output and typed parser decoding happen
    in the core afterwards, the same for every provider.

    What the next request must send back (Anthropic's thinking blocks and signatures) goes
    in ``response.provider_data[<provider name>]``: the answer's tool-call aggregator puts
    it on the assistant message of ``get_messages()``, and only this provider's chain sees
    it again (``adapt_params``).
    """
