"""OpenAI-shaped response types, decoded with msgspec.

The pipeline reads responses by attribute (``completion.choices[0].message.content``), the
same way it reads the ``openai`` SDK's pydantic objects, so these structs mirror the SDK's
field names. They are tolerant on purpose, because OpenAI-compatible servers differ:

- every field is optional and unknown fields are ignored, so a server that adds, renames
  or omits fields still decodes. Vendor fields msgflux's providers read are modelled
  (``x_groq``, OpenRouter's ``provider``/``usage.cost``/``reasoning_details``, vLLM's
  ``stop_reason``/``prompt_logprobs``, llama.cpp's ``timings``, ``citations``...); any
  other unknown field is dropped, where the SDK would keep it in ``model_extra``;
- ``null`` where OpenAI sends a list decodes: ``choices`` becomes ``[]``; other list fields
  (``tool_calls``, ``annotations``...) stay ``None`` as in the SDK, where ``None`` means
  "absent";
- a missing ``delta`` in a stream choice becomes an empty :class:`ChoiceDelta`, so
  ``chunk.choices[0].delta.content`` never fails;
- tool-call ``arguments`` sent as a JSON object instead of a string are re-encoded to the
  string OpenAI would have sent;
- numbers sent as integral floats or strings are coerced (decoding is non-strict).

Nested objects whose shape varies by provider (``usage.*_details``, ``logprobs``,
``x_groq``, ``reasoning_details``) are kept as plain builtins.

Every struct has ``to_dict()``: plain builtins, ``None`` fields omitted, so callers treat
these and the SDK's objects (``model_dump(exclude_none=True)``) alike.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

__all__ = [
    "ChatCompletion",
    "ChatCompletionAudio",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "Choice",
    "ChoiceDelta",
    "ChoiceDeltaToolCall",
    "ChoiceDeltaToolCallFunction",
    "ChunkChoice",
    "CompletionUsage",
    "Function",
    "ToolCall",
]

_to_builtins = msgspec.to_builtins


def _plain(value: Any) -> Any:
    """Convert one field value to new builtins, dropping ``None`` entries of objects.

    Raw dicts decoded from the wire (``logprobs``, ``x_groq``...) lose their ``null`` members
    too, as the SDK's ``model_dump(exclude_none=True)`` does; everything is copied so the
    caller cannot change the response through the result.
    """
    if isinstance(value, _Struct):
        return value.to_dict()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, (str, int, float, bool)):
        return value
    return _to_builtins(value)


class _Struct(msgspec.Struct):
    """Base: the shared ``to_dict`` and a readable ``repr``."""

    def to_dict(self) -> dict[str, Any]:
        """Return this object as plain builtins, ``None`` fields omitted.

        Returns:
            A new dict (nested objects converted too) that the caller may mutate.
        """
        out: dict[str, Any] = {}
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is not None:
                out[name] = _plain(value)
        return out


class _Extensible(_Struct):
    """A struct that keeps the fields it does not model, as the SDK's pydantic models do.

    Servers add fields of their own (SambaNova's ``time_to_first_token`` in usage, a
    custom reasoning field in messages...). Plugins read them by attribute; they are kept in
    ``model_extra`` and included by ``to_dict()``.
    """

    model_extra: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        # Reached only for names that are not fields: the server's own fields.
        extra = self.model_extra
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the object as plain builtins, the server's own fields included."""
        out = super().to_dict()
        extra = out.pop("model_extra", None)
        if extra:
            for name, value in extra.items():
                out.setdefault(name, value)
        return out


_E = TypeVar("_E", bound=_Extensible)


def _build(cls: type[_E], fields: frozenset[str], raw: Any) -> _E | None:
    """``cls`` from a decoded JSON object, unknown members kept in ``model_extra``."""
    if raw is None or isinstance(raw, cls):
        return raw
    if not isinstance(raw, dict):
        raise TypeError(f"{cls.__name__} must be an object, got {type(raw).__name__}")
    extra = None
    for key in raw:
        if key not in fields:
            extra = {k: v for k, v in raw.items() if k not in fields}
            raw = {k: v for k, v in raw.items() if k in fields}
            break
    built = msgspec.convert(raw, cls, strict=False)
    if extra:
        built.model_extra = extra
    return built


def _fields(cls: type[_Struct]) -> frozenset[str]:
    return frozenset(cls.__struct_fields__) - {"model_extra"}


class Function(_Struct):
    """The function a model called: its name and JSON-encoded ``arguments``."""

    name: str | None = None
    arguments: str | dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.arguments, dict):
            self.arguments = msgspec.json.encode(self.arguments).decode()


class ToolCall(_Struct):
    """One complete tool call in a non-streamed message."""

    id: str | None = None
    type: str | None = None
    function: Function | None = None

    def __post_init__(self) -> None:
        if self.type is None:
            self.type = "function"


class ChatCompletionAudio(_Struct):
    """Audio output of a message (``modalities=["text", "audio"]``)."""

    id: str | None = None
    data: str | None = None
    transcript: str | None = None
    expires_at: int | None = None


class ChatCompletionMessage(_Extensible):
    """The assistant message of a non-streamed choice.

    ``reasoning_content`` (vLLM, DeepSeek), ``reasoning`` (Groq, OpenRouter), ``thinking``
    and ``reasoning_details`` (OpenRouter) carry the reasoning trace, depending on the server;
    any other field a server adds is kept in ``model_extra`` and readable as an attribute.
    """

    role: str | None = None
    content: str | list[Any] | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: Function | None = None
    annotations: list[Any] | None = None
    audio: ChatCompletionAudio | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    thinking: str | None = None
    reasoning_details: list[Any] | None = None


class Choice(_Struct):
    """One choice of a non-streamed completion."""

    index: int | None = 0
    message: Any = None  # a ChatCompletionMessage once decoded (built in __post_init__)
    finish_reason: str | None = None
    logprobs: Any = None
    stop_reason: Any = None  # vLLM: the stop string or token that ended it
    native_finish_reason: str | None = None  # OpenRouter: the upstream provider's reason

    def __post_init__(self) -> None:
        if self.message is not None:
            self.message = _build(ChatCompletionMessage, _MESSAGE_FIELDS, self.message)


class CompletionUsage(_Extensible):
    """Token counts; the ``*_details`` objects are kept as plain dicts, vendor counts in
    ``model_extra`` (read as attributes: ``usage.queue_time``)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: dict[str, Any] | None = None
    completion_tokens_details: dict[str, Any] | None = None
    cost: Any = None  # OpenRouter


def _usage(raw: Any) -> CompletionUsage | None:
    return _build(CompletionUsage, _USAGE_FIELDS, raw)


_USAGE_FIELDS = _fields(CompletionUsage)


class ChatCompletion(_Struct, dict=True):
    """A non-streamed chat completion.

    ``error`` is set only when a server answers HTTP 200 with an error object; the
    transport raises in that case, so callers normally never see it. The transport sets
    ``_msgflux_rate_limit`` (not a wire field) to the response's rate-limit headers.
    """

    id: str | None = None
    object: str | None = None
    created: int | float | None = None
    model: str | None = None
    choices: list[Choice] | None = None
    usage: Any = None  # a CompletionUsage once decoded (built in __post_init__)
    system_fingerprint: str | None = None
    service_tier: str | None = None
    x_groq: Any = None
    provider: str | None = None  # OpenRouter: the upstream provider that answered
    citations: Any = None  # Perplexity-style servers
    search_results: Any = None  # Perplexity-style servers
    timings: Any = None  # llama.cpp server
    prompt_logprobs: Any = None  # vLLM
    kv_transfer_params: Any = None  # vLLM disaggregated serving
    error: Any = None

    def __post_init__(self) -> None:
        if self.choices is None:
            self.choices = []
        if self.usage is not None:
            self.usage = _usage(self.usage)


class ChoiceDeltaToolCallFunction(_Struct):
    """A fragment of a streamed tool call's function: name and/or a piece of arguments."""

    name: str | None = None
    arguments: str | dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.arguments, dict):
            self.arguments = msgspec.json.encode(self.arguments).decode()


class ChoiceDeltaToolCall(_Struct):
    """A fragment of a streamed tool call.

    ``index`` groups fragments of one call; ``id``/``type``/``function.name`` usually come
    only with the first fragment. A server that omits ``index`` leaves it ``None``
    (assemble by ``id`` then).
    """

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: ChoiceDeltaToolCallFunction | None = None


class ChoiceDelta(_Extensible):
    """What one stream chunk adds to a choice (unknown fields kept in ``model_extra``)."""

    role: str | None = None
    content: str | None = None
    tool_calls: list[ChoiceDeltaToolCall] | None = None
    function_call: ChoiceDeltaToolCallFunction | None = None
    refusal: str | None = None
    annotations: list[Any] | None = None
    audio: Any = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    thinking: str | None = None
    reasoning_details: list[Any] | None = None


class ChunkChoice(_Struct):
    """One choice of a stream chunk."""

    index: int | None = 0
    delta: Any = None  # a ChoiceDelta once decoded (built in __post_init__)
    finish_reason: str | None = None
    logprobs: Any = None
    stop_reason: Any = None
    native_finish_reason: str | None = None

    def __post_init__(self) -> None:
        if self.delta is None:
            self.delta = ChoiceDelta()
        else:
            self.delta = _build(ChoiceDelta, _DELTA_FIELDS, self.delta)


class ChatCompletionChunk(_Struct):
    """One streamed chunk (``object: "chat.completion.chunk"``).

    ``usage`` comes in the last chunk when ``stream_options={"include_usage": True}``;
    Groq sends it in ``x_groq["usage"]`` instead. ``error`` is set when a server reports a
    failure in the middle of a stream; the transport raises in that case.
    """

    id: str | None = None
    object: str | None = None
    created: int | float | None = None
    model: str | None = None
    choices: list[ChunkChoice] | None = None
    usage: Any = None  # a CompletionUsage once decoded (built in __post_init__)
    system_fingerprint: str | None = None
    service_tier: str | None = None
    x_groq: Any = None
    provider: str | None = None
    citations: Any = None
    search_results: Any = None
    timings: Any = None
    error: Any = None

    def __post_init__(self) -> None:
        if self.choices is None:
            self.choices = []
        if self.usage is not None:
            self.usage = _usage(self.usage)


_MESSAGE_FIELDS = _fields(ChatCompletionMessage)
_DELTA_FIELDS = _fields(ChoiceDelta)

# Non-strict: integral floats and numeric strings become ints, as lenient servers need.
completion_decoder = msgspec.json.Decoder(ChatCompletion, strict=False)
chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk, strict=False)
