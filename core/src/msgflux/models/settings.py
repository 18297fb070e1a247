"""Every option of a chat-completion model, declared once.

``RequestOptions`` holds what a request carries (settable per model, overridable per call),
``ConnectionOptions`` the key and URL, ``BehaviourOptions`` how msgflux behaves. Each field's
type, constraints, default and one-line description are the single declaration: validation
(msgspec Structs built from them check types and bounds), the model's defaults and typed
attributes (``ChatCompletionModel`` inherits ``BehaviourOptions``), ``serialize()``, the
constructor's docstring and its ``inspect.signature`` all come from here, so adding an option
is one edit. Rules between options (``top_logprobs`` needs ``logprobs``) are in
``check_request``.

Values are validated, never converted: what the user passes is what is sent.
"""

from __future__ import annotations

import difflib
import inspect
import re
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from msgflux.errors import UnsupportedParameterError

__all__ = [
    "CALL_OPTIONS",
    "MODEL_OPTIONS",
    "NEUTRAL_OPTIONS",
    "REQUEST_OPTIONS",
    "BehaviourOptions",
    "ConnectionOptions",
    "ModelSettings",
    "RequestOptions",
    "RequestSchema",
    "check_request",
    "describe",
    "model_signature",
    "neutral_leftovers",
    "unknown_keyword",
    "validate",
]

# Neutral options are read by name: they carry ``Meta(extra={"neutral": True})``.
_NEUTRAL: dict[str, Any] = {"neutral": True}


def _doc(text: str, **constraints: Any) -> Meta:
    return Meta(description=text, **constraints)


class RequestOptions:
    """Generation parameters: set per model, overridable per call, sent in every request.

    They use OpenAI's names; provider plugins adapt them. ``None`` means "not set": falsy
    values (``temperature=0``) are sent. The neutral ones (``enable_thinking``,
    ``reasoning_max_tokens``) exist in no OpenAI-style API: a provider's plugin maps them, or
    the request is refused with ``UnsupportedParameterError``.
    """

    max_tokens: Annotated[int, _doc("Upper bound on the tokens of the answer.", gt=0)] | None = None
    temperature: Annotated[float, _doc("Sampling temperature, 0 to 2.", ge=0, le=2)] | None = None
    top_p: Annotated[float, _doc("Nucleus sampling mass, 0 to 1.", ge=0, le=1)] | None = None
    stop: Annotated[str | list[str], _doc("Stop sequence(s).")] | None = None
    seed: Annotated[int, _doc("Seed for reproducible sampling.")] | None = None
    presence_penalty: Annotated[float, _doc("Penalty on tokens already present.")] | None = None
    frequency_penalty: Annotated[float, _doc("Penalty by token frequency.")] | None = None
    reasoning_effort: (
        Annotated[
            Literal["none", "minimal", "low", "medium", "high", "xhigh"],
            _doc("How hard a reasoning model thinks."),
        ]
        | None
    ) = None
    verbosity: Annotated[Literal["low", "medium", "high"], _doc("Answer length.")] | None = None
    modalities: Annotated[list[Literal["text", "audio"]], _doc("Output modalities.")] | None = None
    audio: Annotated[dict[str, str], _doc("Audio output settings (voice, format).")] | None = None
    logprobs: Annotated[bool, _doc("Return token log probabilities.")] | None = None
    top_logprobs: (
        Annotated[int, _doc("Alternatives per token (needs logprobs=True).", ge=0, le=20)] | None
    ) = None
    parallel_tool_calls: Annotated[bool, _doc("Allow several tool calls at once.")] | None = None
    prompt_cache_retention: Annotated[str, _doc("OpenAI prompt-cache retention.")] | None = None
    web_search_options: Annotated[dict[str, Any], _doc("Web search settings.")] | None = None
    enable_thinking: (
        Annotated[bool, Meta(description="Switch extended thinking on or off.", extra=_NEUTRAL)]
        | None
    ) = False
    reasoning_max_tokens: (
        Annotated[int, Meta(description="Reasoning token budget.", gt=0, extra=_NEUTRAL)] | None
    ) = None


class ConnectionOptions:
    """Where requests go and with which key (the model exposes them as properties)."""

    api_key: Annotated[str, _doc("The API key (default: the provider's env var).")] | None = None
    base_url: Annotated[str, _doc("The API base URL (default: env var or default).")] | None = None


class BehaviourOptions:
    """What only a model takes: how msgflux behaves, not what it sends.

    ``ChatCompletionModel`` inherits these declarations, so each is a typed attribute of a
    model (``model.timeout``, ``model.retry``...).
    """

    timeout: Annotated[
        Any,
        _doc(
            "A msgflux.Timeout (connect, read gap, first_token, total), or seconds for "
            "connecting and for each read (so also between stream chunks); None: forever."
        ),
    ] = 600.0
    extra_body: Annotated[dict[str, Any], _doc("JSON merged into every request body.")] | None = (
        None
    )
    extra_headers: Annotated[dict[str, Any], _doc("Headers sent with every request.")] | None = None
    return_reasoning: Annotated[bool, _doc("Keep the reasoning in response.reasoning.")] = True
    reasoning_in_tool_call: Annotated[
        bool, _doc("Carry the reasoning into a tool call round's assistant message.")
    ] = False
    validate_typed_parser_output: Annotated[
        bool, _doc("Validate typed-parser output against the schema.")
    ] = False
    verbose: Annotated[bool, _doc("Print the raw output before structured decoding.")] = False
    context_length: Annotated[int, _doc("The context window, if you know better.", gt=0)] | None = (
        None
    )
    enable_cache: Annotated[bool, _doc("Cache identical requests in process.")] = False
    cache_size: Annotated[int, _doc("How many answers the cache keeps.", gt=0)] = 128
    cache: Annotated[
        Any,
        _doc(
            "Response cache: True or 'memory', 'disk', 'disk:PATH', 'sqlite:///PATH', a path, "
            "'redis://HOST:PORT/DB', or a backend object (see msgflux.cache)."
        ),
    ] = None
    cache_ttl: (
        Annotated[float, _doc("Seconds a cached answer lives (a call may override it).", gt=0)]
        | None
    ) = None
    verify: Annotated[
        Any, _doc("TLS verification: True (system trust store), False, or a CA bundle's path.")
    ] = True
    ssl_context: Annotated[
        Any, _doc("An ssl.SSLContext used as given (client certificates...); overrides verify.")
    ] = None
    retry: Annotated[
        Any,
        _doc(
            "Retry policy: None (default), False, a settings dict, a tenacity Retrying, or a "
            "tenacity.retry(...) decorator (as msgflux 0.5 took)."
        ),
    ] = None


def _schema(name: str, *declarations: type) -> type[msgspec.Struct]:
    """A msgspec Struct with the fields (types, constraints, defaults) of ``declarations``."""
    fields = [
        (field, hint, getattr(declaration, field))
        for declaration in declarations
        for field, hint in typing.get_type_hints(declaration, include_extras=True).items()
    ]
    return msgspec.defstruct(name, fields, kw_only=True, forbid_unknown_fields=True)


#: What validates a call's request options.
RequestSchema = _schema("RequestOptions", RequestOptions)
#: What validates a model's options: every declaration above.
ModelSettings = _schema("ModelSettings", RequestOptions, ConnectionOptions, BehaviourOptions)


#: Keyword arguments of ``model(...)`` / ``model.acall(...)`` besides the request options.
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
    "cache_ttl",
    "tool_schemas",  # deprecated (spec 004): use tool_definitions
    "tool_choice",  # deprecated (spec 004): use tool_definitions
)


def _meta(annotation: Any) -> Meta | None:
    """The ``Meta`` of a field annotation (``Annotated[T, Meta(...)] | None`` or bare)."""
    for candidate in (annotation, *get_args(annotation)):
        for item in getattr(candidate, "__metadata__", ()):
            if isinstance(item, Meta):
                return item
    return None


def _is_neutral(field: msgspec.structs.FieldInfo) -> bool:
    meta = _meta(field.type)
    return bool(meta is not None and meta.extra and meta.extra.get("neutral"))


_REQUEST_FIELDS = msgspec.structs.fields(RequestSchema)
_MODEL_FIELDS = msgspec.structs.fields(ModelSettings)

#: Generation parameters sent under their own (OpenAI's) name.
REQUEST_OPTIONS = tuple(f.name for f in _REQUEST_FIELDS if not _is_neutral(f))
#: Provider-neutral parameters a provider's plugin must map.
NEUTRAL_OPTIONS = tuple(f.name for f in _REQUEST_FIELDS if _is_neutral(f))
#: Options only a model takes.
MODEL_OPTIONS = tuple(
    f.name for f in _MODEL_FIELDS if f.name not in REQUEST_OPTIONS + NEUTRAL_OPTIONS
)
#: Every option's default.
DEFAULTS: Mapping[str, Any] = {f.name: f.default for f in _MODEL_FIELDS}
_FIELD_TYPES = {f.name: f.type for f in _MODEL_FIELDS}
_HINTS = typing.get_type_hints(ModelSettings)  # the field types without their Meta


def unknown_keyword(kind: str, name: str, valid: Iterable[str]) -> TypeError:
    """A ``TypeError`` for an unknown keyword, suggesting the closest valid one."""
    valid = sorted(set(valid))
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else f" Valid: {', '.join(valid)}."
    return TypeError(f"{kind} got an unexpected keyword argument {name!r}.{hint}")


def validate(options: Mapping[str, Any], schema: type[msgspec.Struct] = ModelSettings) -> None:
    """Check types and bounds of ``options`` against ``schema``; raise ``ValueError``.

    Names must already be known (unknown ones are a ``TypeError`` from the caller, with a
    suggestion). Then ``check_request`` applies the rules between options.
    """
    try:
        msgspec.convert(options, schema, strict=True)
    except msgspec.ValidationError as exc:
        raise _readable(exc, options) from None
    check_request(options)


def _readable(error: msgspec.ValidationError, options: Mapping[str, Any]) -> ValueError:
    """msgspec's ``Expected `float` <= 2.0 - at `$.temperature``` as what a user reads."""
    problem, _, where = str(error).rpartition(" - at `$.")
    match = re.match(r"\w+", where) if problem else None
    name = match.group() if match else ""
    if name not in options:
        return ValueError(f"invalid options: {error}")
    expected = _expected(_HINTS[name], _meta(_FIELD_TYPES[name]))
    return ValueError(f"`{name}` must be {expected}, got {options[name]!r}")


def _expected(hint: Any, meta: Meta | None) -> str:
    """What a field accepts, in words: ``"a number between 0 and 2"``."""
    kinds = [arg for arg in get_args(hint) if arg is not type(None)] or [hint]
    words = " or ".join(_kind(kind) for kind in kinds)
    if meta is None:
        return words
    if meta.ge is not None and meta.le is not None:
        return f"{words} between {meta.ge} and {meta.le}"
    if meta.gt == 0:
        return f"a positive {words.removeprefix('an ')}"
    return words


def _kind(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, get_args(hint)))
    if origin is list:
        (item,) = get_args(hint)
        if typing.get_origin(item) is Literal:
            return "a list drawn from " + ", ".join(map(repr, get_args(item)))
        return f"a list of {_kind(item).split(' ', 1)[1]}s"
    if origin is typing.Union or origin is type(int | str):
        return " or ".join(_kind(arg) for arg in get_args(hint))
    return {
        int: "an integer",
        float: "a number",
        bool: "True or False",
        str: "a string",
        dict: "a dict",
    }.get(origin or hint, getattr(hint, "__name__", str(hint)))


def check_request(request: Mapping[str, Any]) -> None:
    """The rules that involve several request options; raise ``ValueError``."""
    if request.get("audio") is not None and "audio" not in (request.get("modalities") or ()):
        raise ValueError(
            "`audio` output settings need `modalities=['text', 'audio']` (or ['audio'])"
        )
    if request.get("top_logprobs") is not None and request.get("logprobs") is not True:
        raise ValueError("`top_logprobs` requires `logprobs=True`")


def neutral_leftovers(provider: str, params: Mapping[str, Any]) -> None:
    """Refuse neutral parameters that the provider's plugins left unmapped."""
    advice = {
        "enable_thinking": "use `reasoning_effort` if the provider has it",
        "reasoning_max_tokens": "use `reasoning_effort` or `max_tokens` instead",
    }
    for name in NEUTRAL_OPTIONS:
        value = params.get(name)
        if value is None or value is False:
            continue  # "off" needs no knob
        raise UnsupportedParameterError(
            f"provider {provider!r} has no equivalent of `{name}` ({name}={value!r}); "
            f"{advice.get(name, 'remove it')}"
        )


def describe(schema: type[msgspec.Struct] = ModelSettings, indent: int = 8) -> str:
    """A docstring section listing ``schema``'s fields (``name: what.``), lines after the
    first indented by ``indent``."""
    lines = []
    for field in msgspec.structs.fields(schema):
        meta = _meta(field.type)
        text = meta.description if meta is not None and meta.description else ""
        default = (
            "" if field.default in (None, msgspec.NODEFAULT) else f" Default {field.default!r}."
        )
        lines.append(f"{field.name}: {text}{default}")
    return ("\n" + " " * indent).join(lines)


def model_signature(function: Any) -> inspect.Signature:
    """``function``'s signature with ``**options`` spelled out as ``ModelSettings``' fields.

    Interactive tools (``help()``, IPython, Jupyter) read it, so every option shows with
    its default although the constructor takes ``**options``.
    """
    signature = inspect.signature(function)
    parameters = [
        p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    for field in _MODEL_FIELDS:
        default = field.default if field.default is not msgspec.NODEFAULT else None
        parameters.append(
            inspect.Parameter(
                field.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=_HINTS[field.name],
            )
        )
    parameters.append(inspect.Parameter("provider_options", inspect.Parameter.VAR_KEYWORD))
    return signature.replace(parameters=parameters)
