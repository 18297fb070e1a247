"""What the sync and async clients share: configuration, request preparation, decoding.

``create(**params)`` takes the ``openai`` SDK's keyword arguments. Everything except the
SDK's request options is JSON body; the request options are:

- ``extra_body``: merged into the top-level body, winning on conflicts (as the SDK does);
- ``extra_headers``: merged into the headers (case-insensitively); ``None`` removes one;
- ``extra_query``: appended to the URL's query string;
- ``timeout``: seconds (``None`` for no limit) for connecting and for each read, which
  also bounds the gap between two stream chunks. An object with ``read`` and ``connect``
  attributes (``httpx.Timeout``) is accepted too.

Values are sent as given: ``None`` becomes ``null``, falsy values are values.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import msgspec

from msgflux.errors import (
    ProviderConnectionError,
    RequestTimeoutError,
    ResponseDecodeError,
)
from msgflux.utils.rate_limits import rate_limit_headers
from msgflux_openai.transport._errors import error_from_payload, error_from_response
from msgflux_openai.transport._http11 import Endpoint, HTTPProtocolError, RequestBuilder
from msgflux_openai.transport._sse import SSEParser
from msgflux_openai.transport.structs import (
    ChatCompletion,
    ChatCompletionChunk,
    chunk_decoder,
    completion_decoder,
)

if TYPE_CHECKING:
    import ssl

__all__ = [
    "Config",
    "StreamDecoder",
    "Timeouts",
    "decode_completion",
    "prepare",
    "raise_for_status",
    "stream_content_error",
]

_UNSET: Any = object()
_OPTIONS = ("extra_body", "extra_headers", "extra_query", "timeout")


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


class Timeouts:
    """Connect and read timeouts in seconds (``None``: wait forever)."""

    __slots__ = ("connect", "read")

    def __init__(self, connect: float | None, read: float | None) -> None:
        self.connect = connect
        self.read = read

    @classmethod
    def of(cls, value: Any) -> Timeouts:
        """Build from a number, ``None`` or an ``httpx.Timeout``-like object."""
        if value is None or isinstance(value, (int, float)):
            seconds = None if value is None else float(value)
            if seconds is not None and seconds <= 0:
                raise ValueError(f"timeout must be positive or None, got {value!r}")
            return cls(seconds, seconds)
        read = getattr(value, "read", _UNSET)
        if read is _UNSET:
            raise TypeError(f"timeout must be a number of seconds or None, got {value!r}")
        connect = getattr(value, "connect", read)
        return cls(connect, read)


class Config:
    """Immutable per-client settings, shared by the sync and async clients."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        headers: dict[str, str],
        timeout: float | None,
        provider: str,
        ssl_context: ssl.SSLContext | None,
        max_connections: int,
    ) -> None:
        self.endpoint = endpoint
        self.builder = RequestBuilder(endpoint, headers)
        self.timeouts = Timeouts.of(timeout)
        self.provider = provider
        self._ssl_context = ssl_context
        self.max_connections = max_connections

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context, built on first use (loading CA certificates takes milliseconds)."""
        context = self._ssl_context
        if context is None:
            import ssl  # only clients of https:// endpoints pay for it

            context = ssl.create_default_context()
            if not context.get_ca_certs() and not context.cert_store_stats().get("x509_ca"):
                # No system CA bundle (some minimal images): fall back to certifi if present.
                try:
                    import certifi
                except ImportError:
                    pass
                else:
                    context.load_verify_locations(certifi.where())
            context.set_alpn_protocols(["http/1.1"])
            self._ssl_context = context
        return context

    def timeout_error(self, timeouts: Timeouts, what: str) -> RequestTimeoutError:
        """The exception for a timeout while ``what`` (e.g. "waiting for the response")."""
        limit = timeouts.read if what != "connecting" else timeouts.connect
        return RequestTimeoutError(
            f"timed out after {limit}s {what} ({self._where()})", provider=self.provider
        )

    def connection_error(self, exc: BaseException, what: str) -> ProviderConnectionError:
        """The exception for a failed or broken connection."""
        ssl = sys.modules.get("ssl")
        if isinstance(exc, OSError) and type(exc).__name__ == "gaierror":
            detail = f"could not resolve host {self.endpoint.host!r}: {exc.strerror or exc}"
        elif ssl is not None and isinstance(exc, ssl.SSLCertVerificationError):
            detail = f"TLS certificate verification failed: {exc.verify_message or exc}"
        elif isinstance(exc, HTTPProtocolError):
            detail = str(exc)
        else:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return ProviderConnectionError(
            f"{what} {self._where()} failed: {detail}", provider=self.provider
        )

    def _where(self) -> str:
        scheme = "https" if self.endpoint.tls else "http"
        return f"{scheme}://{self.endpoint.host_header}"


def prepare(config: Config, params: dict[str, Any]) -> tuple[bytes, bool, Timeouts]:
    """Turn ``create()`` keyword arguments into request bytes, the stream flag and timeouts.

    Args:
        config: The client's settings.
        params: The keyword arguments (this dict is consumed: ``create`` owns it).

    Returns:
        ``(request_bytes, stream, timeouts)``.
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
    request = config.builder.build(
        body, stream=stream, extra_headers=extra_headers, extra_query=extra_query
    )
    timeouts = config.timeouts if timeout is _UNSET else Timeouts.of(timeout)
    return request, stream, timeouts


def raise_for_status(config: Config, status: int, reason: str, headers: dict, body: bytes) -> None:
    """Raise the mapped error for a non-2xx response."""
    if not 200 <= status < 300:
        raise error_from_response(status, reason, headers, body, provider=config.provider)


def decode_completion(config: Config, body: bytes, headers: dict[str, str]) -> ChatCompletion:
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
            f"{config.provider} returned a response that is not a chat completion ({exc}): "
            f"{text[:200]!r}",
            raw_text=text,
            provider=config.provider,
        ) from exc
    if completion.error is not None and not completion.choices:
        raise error_from_payload(
            msgspec.json.decode(body), provider=config.provider, headers=headers
        )
    rate_limit = rate_limit_headers(headers)
    if rate_limit is not None:  # the pipeline moves it to response.metadata.rate_limit
        completion._msgflux_rate_limit = rate_limit
    return completion


class StreamDecoder:
    """Body bytes of an event stream in, :class:`ChatCompletionChunk` objects out.

    Chunks that precede a failure are still returned; the failure is kept in
    :attr:`failure` for the stream to raise once they are consumed.
    """

    __slots__ = ("_headers", "_provider", "_sse", "done", "failure")

    def __init__(self, provider: str, headers: dict[str, str]) -> None:
        self._sse = SSEParser()
        self._provider = provider
        self._headers = headers
        self.done = False  # ``data: [DONE]`` arrived
        self.failure: BaseException | None = None

    def feed(self, data: bytes) -> list[ChatCompletionChunk]:
        """Decode the events completed by ``data``."""
        if self.done or self.failure is not None:
            return []
        return self._decode(self._sse.feed(data))

    def finish(self) -> list[ChatCompletionChunk]:
        """The body ended cleanly: decode a last event that lacked its blank line."""
        if self.done or self.failure is not None:
            return []
        return self._decode(self._sse.finish())

    def _decode(self, payloads: list[bytes]) -> list[ChatCompletionChunk]:
        out: list[ChatCompletionChunk] = []
        decode = chunk_decoder.decode
        for payload in payloads:
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
        sse = self._sse
        if sse.failure is not None:
            self.failure = sse.failure
        elif sse.error is not None:
            try:
                payload_obj: Any = msgspec.json.decode(sse.error)
            except msgspec.DecodeError:
                payload_obj = sse.error.decode("utf-8", "replace")
            self.failure = error_from_payload(
                payload_obj, provider=self._provider, headers=self._headers
            )
        return out


def stream_content_error(config: Config, headers: dict[str, str], body: bytes) -> Exception:
    """The exception for a 2xx answer to a stream request that is not an event stream."""
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError:
        payload = None
    if isinstance(payload, dict) and payload.get("error") is not None:
        return error_from_payload(payload, provider=config.provider, headers=headers)
    text = body.decode("utf-8", "replace")
    return ResponseDecodeError(
        f"{config.provider} answered a stream request with "
        f"{headers.get('content-type', 'no content type')!r} instead of an event stream: "
        f"{text[:200]!r}",
        raw_text=text,
        provider=config.provider,
    )
