"""What the sync and async façades share: request preparation and OpenAI decoding.

``create(**params)`` takes the ``openai`` SDK's keyword arguments. Everything except the
SDK's request options is JSON body; the request options are:

- ``extra_body``: merged into the top-level body, winning on conflicts (as the SDK does);
- ``extra_headers``: merged into the headers (case-insensitively); ``None`` removes one;
- ``extra_query``: appended to the URL's query string;
- ``timeout``: a :class:`msgflux.Timeout`, seconds for connecting and for each read
  (``None``: no limit), or an ``httpx.Timeout``-like object.

Values are sent as given: ``None`` becomes ``null``, falsy values are values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec

from msgflux.errors import ResponseDecodeError
from msgflux.http import ServerSentEvent, error_from_payload
from msgflux.utils.rate_limits import rate_limit_headers
from msgflux_openai.transport.structs import (
    ChatCompletion,
    ChatCompletionChunk,
    chunk_decoder,
    completion_decoder,
)

__all__ = ["PATH", "Prepared", "StreamDecoder", "decode_completion", "prepare"]

PATH = "/chat/completions"
_UNSET: Any = object()


def _enc_hook(obj: Any) -> Any:
    """Encode what msgspec does not know: pydantic models, objects with ``to_dict``, sets."""
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json", exclude_unset=True)
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_encode = msgspec.json.Encoder(enc_hook=_enc_hook).encode


class Prepared(NamedTuple):
    """A ``create()`` call turned into request pieces."""

    body: bytes
    stream: bool
    headers: Mapping[str, Any] | None
    query: Mapping[str, Any] | None
    timeout: Any  # _UNSET: the client's default


def prepare(params: dict[str, Any]) -> Prepared:
    """Split ``create()`` keyword arguments into the body and the request options.

    Args:
        params: The keyword arguments (this dict is consumed: ``create`` owns it).
    """
    extra_body = params.pop("extra_body", None)
    extra_headers = params.pop("extra_headers", None)
    extra_query = params.pop("extra_query", None)
    timeout = params.pop("timeout", _UNSET)
    if extra_body:
        params.update(extra_body)
    stream = bool(params.get("stream"))
    try:
        body = _encode(params)
    except TypeError as exc:
        raise TypeError(f"request parameters are not JSON serializable: {exc}") from None
    return Prepared(body, stream, extra_headers or None, extra_query or None, timeout)


def timeout_kwargs(prepared: Prepared) -> dict[str, Any]:
    """``timeout=`` for the client call, only when the caller gave one."""
    return {} if prepared.timeout is _UNSET else {"timeout": prepared.timeout}


def decode_completion(provider: str, body: bytes, headers: dict[str, str]) -> ChatCompletion:
    """Decode a 200 body into a :class:`ChatCompletion`.

    Raises:
        ResponseDecodeError: The body is not a chat completion (the raw text is kept).
        ProviderError: The server answered 200 with an ``{"error": ...}`` object.
    """
    try:
        completion = completion_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        text = body.decode("utf-8", "replace")
        raise ResponseDecodeError(
            f"{provider} returned a response that is not a chat completion ({exc}): {text[:200]!r}",
            raw_text=text,
            provider=provider,
        ) from exc
    if completion.error is not None and not completion.choices:
        raise error_from_payload(msgspec.json.decode(body), provider=provider, headers=headers)
    rate_limit = rate_limit_headers(headers)
    if rate_limit is not None:  # the pipeline moves it to response.metadata.rate_limit
        # Not a wire field: ChatCompletion takes extra attributes (dict=True) for this.
        setattr(completion, "_msgflux_rate_limit", rate_limit)  # noqa: B010
    return completion


def is_event_stream(headers: Mapping[str, str]) -> bool:
    """Whether a 2xx answer to a stream request is an event stream (not a JSON error)."""
    return not headers.get("content-type", "").startswith("application/json")


class StreamDecoder:
    """Server-sent events in, :class:`ChatCompletionChunk` objects out.

    Chat streams send unnamed (``message``) events, ``data: [DONE]`` at the end, and
    errors as ``event: error`` or as a chunk holding ``{"error": ...}``; other named
    events are not chat chunks and are skipped. Chunks before a failure are returned;
    the failure waits in :attr:`failure` for the stream to raise once they are consumed.
    """

    __slots__ = ("_headers", "_provider", "done", "failure")

    def __init__(self, provider: str, headers: dict[str, str]) -> None:
        self._provider = provider
        self._headers = headers
        self.done = False  # ``data: [DONE]`` arrived
        self.failure: BaseException | None = None

    def feed(self, events: list[ServerSentEvent]) -> list[ChatCompletionChunk]:
        """Decode a batch of events."""
        out: list[ChatCompletionChunk] = []
        if self.done or self.failure is not None:
            return out
        decode = chunk_decoder.decode
        for name, payload in events:
            if name != "message":
                if name == "error":
                    self._fail_with_event(payload)
                    return out
                continue
            if payload == b"[DONE]":
                self.done = True
                return out
            try:
                chunk = decode(payload)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                text = payload.decode("utf-8", "replace")
                self.failure = ResponseDecodeError(
                    f"{self._provider} sent a stream event that is not a chat completion "
                    f"chunk ({exc}): {text[:200]!r}",
                    raw_text=text,
                    provider=self._provider,
                )
                return out
            if chunk.error is not None:
                self.failure = error_from_payload(
                    msgspec.json.decode(payload), provider=self._provider, headers=self._headers
                )
                return out
            out.append(chunk)
        return out

    def _fail_with_event(self, payload: bytes) -> None:
        try:
            value: Any = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            value = payload.decode("utf-8", "replace")
        self.failure = error_from_payload(value, provider=self._provider, headers=self._headers)


def stream_content_error(provider: str, headers: dict[str, str], body: bytes) -> Exception:
    """The exception for a 2xx answer to a stream request that is not an event stream."""
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError:
        payload = None
    if isinstance(payload, dict) and payload.get("error") is not None:
        return error_from_payload(payload, provider=provider, headers=headers)
    text = body.decode("utf-8", "replace")
    return ResponseDecodeError(
        f"{provider} answered a stream request with "
        f"{headers.get('content-type', 'no content type')!r} instead of an event stream: "
        f"{text[:200]!r}",
        raw_text=text,
        provider=provider,
    )
