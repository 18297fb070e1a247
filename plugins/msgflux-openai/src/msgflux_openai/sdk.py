"""The ``openai`` SDK as a transport (``transport="sdk"``).

Imported when the first model that needs it is created, never at plugin import. The SDK's
own retries are off (``max_retries=0``) because msgflux retries once, in one place. Its
exceptions are mapped to ``msgflux.errors`` with the original chained, so the user sees the
same error types whatever the transport. A ready ``openai.OpenAI`` / ``AsyncOpenAI`` can be
injected with ``client=`` / ``async_client=`` (Azure, proxies, custom HTTP settings).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from msgflux.errors import (
    AuthenticationError,
    BadRequestError,
    MsgfluxError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ResponseDecodeError,
)
from msgflux.models.clients import ChatClients
from msgflux.utils.http import parse_retry_after
from msgflux.utils.rate_limits import rate_limit_headers

__all__ = ["map_sdk_error", "sdk_clients", "to_httpx_timeout"]


def sdk_clients(model: Any) -> ChatClients:
    """The ``openai`` SDK's clients for ``model``, wrapped to map errors and fit parameters."""
    import openai

    provider = model.provider
    keyless = not model.api_key
    injected_sync = model.options.get("client")
    injected_async = model.options.get("async_client")
    settings: dict[str, Any] = {
        # Never None: the SDK would fall back to OPENAI_API_KEY and could send an OpenAI
        # key to another provider. Keyless servers get a placeholder the SDK accepts, and
        # every request then omits the Authorization header (see _omit_authorization).
        "api_key": model.api_key or _NO_KEY,
        "base_url": model.base_url,
        "max_retries": 0,
        "timeout": to_httpx_timeout(model.timeout),
    }
    verify = _tls_verify(model)
    if verify is True:
        make_sync = lambda: openai.OpenAI(**settings)  # noqa: E731
        make_async = lambda: openai.AsyncOpenAI(**settings)  # noqa: E731
    else:
        # Custom TLS (a CA bundle, client certificates): the SDK takes it through its
        # httpx client, which keeps reading proxies from the environment (trust_env).
        def make_sync() -> Any:
            return openai.OpenAI(**settings, http_client=openai.DefaultHttpxClient(verify=verify))

        def make_async() -> Any:
            return openai.AsyncOpenAI(
                **settings, http_client=openai.DefaultAsyncHttpxClient(verify=verify)
            )

    sync_client = _PerProcessClient(make_sync, injected_sync)
    async_clients = _PerLoopAsyncClients(make_async, injected_async)
    allowed = _create_parameters(openai.OpenAI)

    def close() -> None:
        sync_client.close()
        async_clients.close()

    async def aclose() -> None:
        sync_client.close()
        await async_clients.aclose()

    return ChatClients(
        client=_Client(
            _SyncCompletions(sync_client, provider, allowed, keyless and not injected_sync)
        ),
        aclient=_Client(
            _AsyncCompletions(async_clients, provider, allowed, keyless and not injected_async)
        ),
        close=close,
        aclose=aclose,
    )


def _tls_verify(model: Any) -> Any:
    """What httpx's ``verify=`` gets: the model's ``ssl_context`` or ``verify`` option."""
    context = getattr(model, "ssl_context", None)
    if context is not None:
        return context
    return getattr(model, "verify", True)


def to_httpx_timeout(timeout: Any) -> Any:
    """Map a ``timeout=`` value (seconds, ``None`` or a :class:`msgflux.Timeout`) for httpx.

    ``connect`` and ``read`` map one to one (``read`` is httpx's gap between bytes too);
    writes get the read limit and waiting for a pooled connection the connect limit, as in
    msgflux's own transport. What httpx cannot do: ``first_token`` (it has no notion of a
    stream's first event) is not enforced, and ``total`` only shortens each limit to the
    time left when the request starts (a server trickling bytes can outlast it; msgflux's
    retry layer still starts no attempt after the deadline).
    """
    from msgflux.http import Timeout

    if not isinstance(timeout, Timeout):
        return timeout
    # The SDK's own Timeout class: httpx's in openai 1.x, httpx2's in later majors (which do
    # not install httpx at all).
    from openai import Timeout as SDKTimeout

    left = timeout.remaining()
    if left is None and timeout.total is not None:
        left = timeout.total

    def cap(value: float | None) -> float | None:
        if left is None:
            return value
        left_now = max(left, 0.001)
        return left_now if value is None else min(value, left_now)

    return SDKTimeout(
        connect=cap(timeout.connect),
        read=cap(timeout.read),
        write=cap(timeout.read),
        pool=cap(timeout.connect),
    )


def _create_parameters(client_class: type) -> frozenset[str] | None:
    """The keyword arguments this SDK version's ``chat.completions.create`` accepts."""
    try:
        from openai.resources.chat.completions import Completions

        return frozenset(inspect.signature(Completions.create).parameters) - {"self"}
    except (ImportError, AttributeError, ValueError):  # an SDK laid out differently
        return None


_NO_KEY = "msgflux-no-key"


def _omit_authorization(params: dict[str, Any]) -> dict[str, Any]:
    """Request options that send no Authorization header (for keyless providers)."""
    import openai

    headers = params.get("extra_headers") or {}
    if any(name.lower() == "authorization" for name in headers):
        return params  # the caller set one explicitly
    return {**params, "extra_headers": {**headers, "Authorization": openai.Omit()}}


def _fit(params: dict[str, Any], allowed: frozenset[str] | None) -> dict[str, Any]:
    """Move fields this SDK version has no argument for into ``extra_body`` (same JSON)."""
    if allowed is None:
        return params
    unknown = [name for name in params if name not in allowed]
    if not unknown:
        return params
    fitted = {name: value for name, value in params.items() if name in allowed}
    fitted["extra_body"] = {
        **{name: params[name] for name in unknown if name != "extra_body"},
        **(params.get("extra_body") or {}),
    }
    return fitted


class _PerProcessClient:
    """The SDK's sync client of this process.

    After ``os.fork()`` the child builds its own client on first use: the inherited one's
    pooled sockets are the parent's connections too, and two processes writing requests
    to one socket would mix their answers. An injected client is the caller's and is used
    as given.
    """

    def __init__(self, factory: Callable[[], Any], injected: Any = None) -> None:
        self._factory = factory
        self._injected = injected
        self._pid = os.getpid()
        self._client = injected if injected is not None else factory()

    def current(self) -> Any:
        if self._pid != os.getpid() and self._injected is None:
            inherited, self._client = self._client, self._factory()
            self._pid = os.getpid()
            inherited.close()  # closes this process's copies of the sockets only
        return self._client

    def close(self) -> None:
        if self._injected is None:
            self._client.close()


class _PerLoopAsyncClients:
    """One ``AsyncOpenAI`` per event loop: its connection pool is bound to the loop it
    first ran on, and the same model may be used from several loops (tests, asyncio.run)."""

    def __init__(self, factory: Callable[[], Any], injected: Any = None) -> None:
        self._factory = factory
        self._injected = injected
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def current(self) -> Any:
        if self._injected is not None:
            return self._injected
        if self._pid != os.getpid():
            # A forked child: the parent's loops and their clients are not ours to use or
            # close (their sockets and selectors belong to the parent); start afresh.
            self._pid = os.getpid()
            self._clients = weakref.WeakKeyDictionary()
            self._lock = threading.Lock()
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                client = self._clients[loop] = self._factory()
            return client

    def close(self) -> None:
        """Close every client on its own loop (an SDK client cannot be closed elsewhere)."""
        with self._lock:
            clients = list(self._clients.items())
            self._clients.clear()
        for loop, client in clients:
            _close_on_loop(loop, client)

    async def aclose(self) -> None:
        """Close every client: the running loop's awaited here, the others on their loops."""
        running = asyncio.get_running_loop()
        with self._lock:
            clients = list(self._clients.items())
            self._clients.clear()
        for loop, client in clients:
            if loop is running:
                await client.close()
            else:
                _close_on_loop(loop, client)


_closing: set[asyncio.Future[Any]] = set()  # keeps fire-and-forget closes alive until done


def _close_on_loop(loop: asyncio.AbstractEventLoop, client: Any) -> None:
    if loop.is_closed():
        return  # its connections were closed with the loop
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task = loop.create_task(client.close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
    elif loop.is_running():
        asyncio.run_coroutine_threadsafe(client.close(), loop)
    else:
        loop.run_until_complete(client.close())


class _Client:
    def __init__(self, completions: Any) -> None:
        self.chat = _Chat(completions)


class _Chat:
    def __init__(self, completions: Any) -> None:
        self.completions = completions


class _SyncCompletions:
    def __init__(
        self, client: Any, provider: str, allowed: frozenset[str] | None, keyless: bool
    ) -> None:
        self._client = client
        self._provider = provider
        self._allowed = allowed
        self._keyless = keyless

    def create(self, **params: Any) -> Any:
        if self._keyless:
            params = _omit_authorization(params)
        if "timeout" in params:
            params = {**params, "timeout": to_httpx_timeout(params["timeout"])}
        completions = self._client.current().chat.completions
        try:
            raw = _raw(completions).create(**_fit(params, self._allowed))
            result = raw.parse()
        except Exception as exc:
            raise map_sdk_error(exc, self._provider) from exc
        return _with_rate_limit(result, raw, self._provider, params, _SyncStream)


class _AsyncCompletions:
    def __init__(
        self,
        clients: _PerLoopAsyncClients,
        provider: str,
        allowed: frozenset[str] | None,
        keyless: bool,
    ) -> None:
        self._clients = clients
        self._provider = provider
        self._allowed = allowed
        self._keyless = keyless

    async def create(self, **params: Any) -> Any:
        if self._keyless:
            params = _omit_authorization(params)
        if "timeout" in params:
            params = {**params, "timeout": to_httpx_timeout(params["timeout"])}
        completions = self._clients.current().chat.completions
        try:
            raw = await _raw(completions).create(**_fit(params, self._allowed))
            result = await _parsed(raw)
        except Exception as exc:
            raise map_sdk_error(exc, self._provider) from exc
        return _with_rate_limit(result, raw, self._provider, params, _AsyncStream)


class _PlainResponse:
    """What a client without ``with_raw_response`` gives: the result, no headers."""

    headers = None

    def __init__(self, result: Any) -> None:
        self.result = result

    def parse(self) -> Any:
        return self.result


class _PlainCreate:
    def __init__(self, completions: Any) -> None:
        self._completions = completions

    def create(self, **params: Any) -> Any:
        result = self._completions.create(**params)
        if inspect.isawaitable(result):
            return _awaited_plain(result)
        return _PlainResponse(result)


async def _awaited_plain(result: Any) -> _PlainResponse:
    return _PlainResponse(await result)


def _raw(completions: Any) -> Any:
    """``completions.with_raw_response`` (the SDK's documented way to read the response
    headers), or a stand-in for a client that has none."""
    raw = getattr(completions, "with_raw_response", None)
    return raw if raw is not None else _PlainCreate(completions)


async def _parsed(raw: Any) -> Any:
    result = raw.parse()
    return await result if inspect.isawaitable(result) else result


def _with_rate_limit(
    result: Any, raw: Any, provider: str, params: dict[str, Any], stream_class: Any
) -> Any:
    """The result, carrying the response's rate-limit headers for the pipeline."""
    rate_limit = rate_limit_headers(raw.headers)
    if params.get("stream"):
        stream = stream_class(result, provider)
        stream.rate_limit = rate_limit
        return stream
    if rate_limit is not None:
        result._msgflux_rate_limit = rate_limit
    return result


class _SyncStream:
    """The SDK's stream with its errors mapped; ``close()`` releases the connection."""

    rate_limit: dict[str, str] | None = None

    def __init__(self, stream: Any, provider: str) -> None:
        self._stream = stream
        self._provider = provider

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self._stream
        except Exception as exc:
            raise map_sdk_error(exc, self._provider) from exc

    def close(self) -> None:
        self._stream.close()


class _AsyncStream:
    rate_limit: dict[str, str] | None = None

    def __init__(self, stream: Any, provider: str) -> None:
        self._stream = stream
        self._provider = provider

    async def __aiter__(self) -> AsyncIterator[Any]:
        try:
            async for chunk in self._stream:
                yield chunk
        except Exception as exc:
            raise map_sdk_error(exc, self._provider) from exc

    async def close(self) -> None:
        await self._stream.close()


def map_sdk_error(exc: BaseException, provider: str) -> BaseException:
    """The ``msgflux.errors`` equivalent of an ``openai`` SDK (or HTTP library) exception."""
    if isinstance(exc, MsgfluxError):
        return exc
    import openai

    if isinstance(exc, openai.APIStatusError):
        response = exc.response
        headers = dict(response.headers) if response is not None else {}
        body = exc.body
        message = _provider_message(body) or exc.message
        common: dict[str, Any] = {
            "provider": provider,
            "status": exc.status_code,
            "request_id": exc.request_id,
            "body": body,
            "headers": headers,
        }
        status = exc.status_code
        if status in (401, 403):
            return AuthenticationError(message, **common)
        if status == 429:
            return RateLimitError(message, retry_after=parse_retry_after(headers), **common)
        if status in (400, 404, 413, 422):
            return BadRequestError(message, **common)
        return ProviderError(message, **common)
    if isinstance(exc, openai.APITimeoutError):
        return RequestTimeoutError(f"no response within the timeout ({exc})", provider=provider)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderConnectionError(
            f"connection failed: {exc.__cause__ or exc}", provider=provider
        )
    if isinstance(exc, openai.APIError):  # e.g. an error event in the middle of a stream
        # Same mapping as the fast transport: an HTTP status in the event's ``code`` picks
        # the class and makes it retryable when it is one (a 503 before the first chunk).
        from msgflux.http import error_from_payload

        body = exc.body if exc.body is not None else {"message": exc.message}
        return error_from_payload({"error": body}, provider=provider)
    if isinstance(exc, json.JSONDecodeError):
        return ResponseDecodeError(
            f"{provider} sent a body that is not valid JSON: {exc}",
            raw_text=exc.doc,
            provider=provider,
        )
    name = type(exc).__name__
    if "Timeout" in name:  # the HTTP library's own timeouts, raised while streaming
        return RequestTimeoutError(f"{name}: {exc}", provider=provider)
    if isinstance(exc, OSError) or name in (
        "RemoteProtocolError",
        "ReadError",
        "WriteError",
        "ConnectError",
    ):
        return ProviderConnectionError(f"{name}: {exc}", provider=provider)
    return exc


def _provider_message(body: Any) -> str | None:
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else None
        if isinstance(message, str):
            return message
        message = body.get("message")
        if isinstance(message, str):
            return message
    if isinstance(body, str) and body:
        return body
    return None
