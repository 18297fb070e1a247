"""The public client: one API's base URL, sync and async requests and event streams."""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from msgflux.http._config import Config
from msgflux.http._response import Response
from msgflux.http._status import error_from_response
from msgflux.http._timeout import Timeout

if TYPE_CHECKING:
    import ssl

    from msgflux.http._aio import AsyncEventStream
    from msgflux.http._sync import EventStream

__all__ = ["DEFAULT_TIMEOUT", "Client", "Transport"]

#: Seconds for connecting and for each read when a client is given no ``timeout=``.
DEFAULT_TIMEOUT = 600.0

_UNSET: Any = object()


class Transport(Protocol):
    """What moves request bytes: sockets (the default) or a :class:`MockTransport`."""

    def request(self, request: bytes, timeout: Timeout) -> Response: ...
    def stream(self, request: bytes, timeout: Timeout) -> Any: ...
    async def arequest(self, request: bytes, timeout: Timeout) -> Response: ...
    async def astream(self, request: bytes, timeout: Timeout) -> Any: ...
    def close(self) -> None: ...
    async def aclose(self) -> None: ...


class _Sockets:
    """The real transport: a blocking pool and per-loop asyncio pools, made on first use."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._sync: Any = None
        self._async: Any = None

    def _sync_transport(self) -> Any:
        if self._sync is None:
            from msgflux.http._sync import SyncTransport

            self._sync = SyncTransport(self._config)
        return self._sync

    def _async_transport(self) -> Any:
        if self._async is None:
            from msgflux.http._aio import AsyncTransport

            self._async = AsyncTransport(self._config)
        return self._async

    def request(self, request: bytes, timeout: Timeout) -> Response:
        return self._sync_transport().request(request, timeout)  # type: ignore[no-any-return]

    def stream(self, request: bytes, timeout: Timeout) -> Any:
        return self._sync_transport().stream(request, timeout)

    # Plain functions handing back the transport's coroutine: one frame less per request.
    def arequest(self, request: bytes, timeout: Timeout) -> Coroutine[Any, Any, Response]:
        return self._async_transport().request(request, timeout)  # type: ignore[no-any-return]

    def astream(self, request: bytes, timeout: Timeout) -> Coroutine[Any, Any, Any]:
        return self._async_transport().stream(request, timeout)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        if self._async is not None:
            self._async.close()

    async def aclose(self) -> None:
        if self._sync is not None:
            self._sync.close()
        if self._async is not None:
            await self._async.aclose()


class Client:
    """An HTTP/1.1 client for one API: keep-alive pools, sync and async, event streams.

    Args:
        base_url: The API root, ``https://api.anthropic.com/v1``; a request's path is
            appended to it, its query string (``?api-version=``) is kept on every request.
        headers: Headers sent with every request (authentication, content type...). The
            client adds ``User-Agent``, ``Accept-Encoding: gzip, deflate`` and ``Host``.
        timeout: The default :class:`Timeout` (or seconds for connect and read; ``None``
            waits forever). A request's ``timeout=`` replaces it.
        provider: The msgflux provider name that errors report.
        verify: ``True`` (system trust store), ``False`` (no check) or a CA bundle path.
        ssl_context: TLS settings used as given (client certificates...); overrides
            ``verify``.
        proxy: An ``http://`` proxy URL; by default the environment's (``HTTPS_PROXY``,
            ``NO_PROXY``... read as urllib does) when ``trust_env``.
        trust_env: Read proxy settings from the environment.
        max_connections: Cap on open connections (per event loop for async requests); a
            request finding none free waits up to the connect timeout.
        transport: Something else to move the bytes, e.g. a :class:`MockTransport`.

    Raises:
        ValueError: An invalid URL (credentials in it included: the message never repeats
            them), header, proxy, ``verify`` or limit.

    A client is safe to share between threads, tasks and event loops. ``close()`` (or
    ``await aclose()``) releases its connections; it stays usable afterwards.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, Any] | None = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        provider: str = "http",
        verify: bool | str = True,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        max_connections: int = 100,
        transport: Transport | None = None,
    ) -> None:
        defaults = {"User-Agent": _user_agent(), "Accept-Encoding": "gzip, deflate"}
        lowered = {name.lower() for name in headers or ()}
        merged = {name: value for name, value in defaults.items() if name.lower() not in lowered}
        merged.update({name: value for name, value in (headers or {}).items() if value is not None})
        self._config = Config(
            base_url=base_url,
            headers=merged,
            timeout=timeout,
            provider=provider,
            verify=verify,
            ssl_context=ssl_context,
            proxy=proxy,
            trust_env=trust_env and transport is None,
            max_connections=max_connections,
        )
        self._transport: Transport = transport if transport is not None else _Sockets(self._config)

    @property
    def provider(self) -> str:
        """The provider name errors report."""
        return self._config.provider

    @property
    def timeout(self) -> Timeout:
        """The default timeout."""
        return self._config.timeout

    @property
    def proxy(self) -> str | None:
        """The proxy requests go through (without credentials), or ``None``."""
        proxy = self._config.proxy
        return None if proxy is None else proxy.url

    def build(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        accept: str | None = None,
    ) -> bytes:
        """The exact bytes a request would send (for tests and debugging)."""
        return self._config.builder.build(
            method, path, body, headers=headers, query=params, accept=accept
        )

    def _timeout(self, timeout: Any) -> Timeout:
        return self._config.timeout if timeout is _UNSET else Timeout.of(timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | float | None = _UNSET,
        check_status: bool = True,
    ) -> Response:
        """Send one request and read its whole response.

        Args:
            method: ``"POST"``, ``"GET"``...
            path: The path under the base URL (``"/messages"``), query string allowed.
            body: The body bytes (sent with ``Content-Length``), or ``None``.
            headers: Headers over the client's; a ``None`` value removes one.
            params: Query parameters to append.
            timeout: This request's :class:`Timeout` (or seconds, or ``None``).
            check_status: Raise the mapped :mod:`msgflux.errors` exception for a non-2xx
                status (``False`` returns every response).

        Returns:
            ``Response(status, headers, body)``.

        Raises:
            msgflux.errors.RequestTimeoutError: A phase of ``timeout`` ran out (``.phase``).
            msgflux.errors.ProviderConnectionError: Connecting failed, the connection broke
                or the answer is not valid HTTP. Raised once: the request is never resent.
            msgflux.errors.ResponseDecodeError: The body's compression is broken.
            msgflux.errors.ProviderError: A non-2xx status (subclasses by status).
            ValueError: An invalid method, path or header.
        """
        data = self._config.builder.build(method, path, body, headers=headers, query=params)
        response = self._transport.request(data, self._timeout(timeout))
        if check_status and not 200 <= response.status < 300:
            raise error_from_response(
                response.status, response.headers, response.body, provider=self.provider
            )
        return response

    def stream(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | float | None = _UNSET,
    ) -> EventStream:
        """Send one request and return its server-sent events once the head has arrived.

        ``Accept: text/event-stream`` is sent unless ``headers`` set another. A non-2xx
        answer is read and raised as for :meth:`request`. A 2xx answer that is not an
        event stream (check ``stream.headers["content-type"]``) can be read whole with
        ``stream.read()``.

        Returns:
            An :class:`EventStream`: iterate it for :class:`ServerSentEvent` objects; close
            it (from any thread) to stop early.

        Raises:
            As :meth:`request`; a stream's ``first_token`` and ``total`` limits apply until
            its first event.
        """
        data = self._config.builder.build(
            method, path, body, headers=headers, query=params, accept="text/event-stream"
        )
        stream = self._transport.stream(data, self._timeout(timeout))
        if not 200 <= stream.status < 300:
            raise self._stream_error(stream, stream.read())
        return stream  # type: ignore[no-any-return]

    async def arequest(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | float | None = _UNSET,
        check_status: bool = True,
    ) -> Response:
        """:meth:`request` for async code (same arguments, same errors)."""
        data = self._config.builder.build(method, path, body, headers=headers, query=params)
        response = await self._transport.arequest(data, self._timeout(timeout))
        if check_status and not 200 <= response.status < 300:
            raise error_from_response(
                response.status, response.headers, response.body, provider=self.provider
            )
        return response

    async def astream(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | float | None = _UNSET,
    ) -> AsyncEventStream:
        """:meth:`stream` for async code: an :class:`AsyncEventStream` (``aclose()`` it)."""
        data = self._config.builder.build(
            method, path, body, headers=headers, query=params, accept="text/event-stream"
        )
        stream = await self._transport.astream(data, self._timeout(timeout))
        if not 200 <= stream.status < 300:
            raise self._stream_error(stream, await stream.read())
        return stream  # type: ignore[no-any-return]

    def _stream_error(self, stream: Any, body: bytes) -> Exception:
        return error_from_response(stream.status, stream.headers, body, provider=self.provider)

    def close(self) -> None:
        """Close the connections (from any thread); the client stays usable."""
        self._transport.close()

    async def aclose(self) -> None:
        """:meth:`close` from async code: returns once this loop's sockets are closed."""
        await self._transport.aclose()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Client({self._config.endpoint.origin + self._config.endpoint.path!r})"


_USER_AGENT: str | None = None


def _user_agent() -> str:
    global _USER_AGENT
    if _USER_AGENT is None:
        try:
            from importlib.metadata import version

            _USER_AGENT = f"msgflux/{version('msgflux')}"
        except Exception:
            _USER_AGENT = "msgflux"
    return _USER_AGENT
