"""A client's settings and the limits of one request attempt, shared by sync and async.

:class:`Config` is built once per client: the endpoint, the default headers (validated),
TLS, the proxy route and the default :class:`~msgflux.http.Timeout`. :class:`Budget` turns a
call's ``Timeout`` into the wait allowed for the next connect or read, and names the phase
that ran out when one does.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from msgflux.errors import ProviderConnectionError, RequestTimeoutError, ResponseDecodeError
from msgflux.http._parser import ContentDecodingError, HTTPProtocolError
from msgflux.http._proxy import Proxy, parse_proxy, proxy_from_env
from msgflux.http._timeout import Timeout
from msgflux.http._tls import check_verify, make_ssl_context
from msgflux.http._url import RequestBuilder, check_header, parse_url

if TYPE_CHECKING:
    import ssl

__all__ = ["Budget", "Config"]

_monotonic = time.monotonic

_PHASES = {
    "connect": "connect timeout",
    "read": "read timeout: no data for that long",
    "first_token": "first_token: no stream event that long after sending the request",
    "total": "the call's total deadline",
}


class Budget:
    """The limits of one attempt, as absolute ``time.monotonic()`` deadlines.

    ``total`` counts from the call's start (:meth:`Timeout.start`), so retries share it;
    ``first_token`` counts from this attempt's request. For a stream both stop applying
    once it is established (:meth:`established`): after that only the read gap counts.
    """

    __slots__ = ("connect", "deadline", "first_deadline", "read", "timeout")

    def __init__(self, timeout: Timeout, *, stream: bool = False) -> None:
        self.timeout = timeout
        self.connect = timeout.connect
        self.read = timeout.read
        deadline = timeout.deadline
        if deadline is None and timeout.total is not None:
            deadline = _monotonic() + timeout.total
        self.deadline = deadline
        first = timeout.first_token if stream else None
        self.first_deadline = None if first is None else _monotonic() + first

    def connect_wait(self, until: float | None) -> tuple[float | None, str]:
        """Seconds left for connecting (``until``: the connect deadline) and its phase."""
        now = _monotonic()
        wait, phase = (None if until is None else until - now), "connect"
        if self.deadline is not None and (wait is None or self.deadline - now < wait):
            wait, phase = self.deadline - now, "total"
        return wait, phase

    def connect_deadline(self) -> float | None:
        return None if self.connect is None else _monotonic() + self.connect

    def read_wait(self, since: float | None = None) -> tuple[float | None, str]:
        """Seconds allowed for the next read, and the phase that limit belongs to.

        Args:
            since: When bytes last arrived (``time.monotonic()``); the read gap counts
                from there instead of from now.
        """
        now = _monotonic()
        wait, phase = self.read, "read"
        if wait is not None and since is not None:
            wait = since + wait - now
        if self.first_deadline is not None:
            left = self.first_deadline - now
            if wait is None or left < wait:
                wait, phase = left, "first_token"
        if self.deadline is not None:
            left = self.deadline - now
            if wait is None or left < wait:
                wait, phase = left, "total"
        return wait, phase

    def established(self) -> None:
        """A stream's first event arrived: from now on only the read gap applies."""
        self.first_deadline = None
        self.deadline = None

    def limit(self, phase: str) -> float | None:
        """The configured seconds of ``phase``."""
        seconds: float | None = getattr(self.timeout, phase)
        return seconds


class Config:
    """Immutable per-client settings, shared by the sync and async clients."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, Any] | None,
        timeout: Any,
        provider: str,
        verify: Any = True,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        max_connections: int = 100,
    ) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise ValueError(f"max_connections must be an integer, got {max_connections!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self.endpoint = parse_url(base_url)
        checked = dict(check_header(name, value) for name, value in (headers or {}).items())
        if proxy is None and trust_env:
            proxy = proxy_from_env(base_url)
        self.proxy: Proxy | None = parse_proxy(proxy) if proxy else None
        # https through a proxy: a CONNECT tunnel; http: absolute request targets.
        self.tunnel = self.proxy is not None and self.endpoint.tls
        plain_proxy = self.proxy is not None and not self.endpoint.tls
        self.builder = RequestBuilder(
            self.endpoint,
            checked,
            absolute_form=plain_proxy,
            proxy_headers=self.proxy.headers if plain_proxy and self.proxy else None,
        )
        self.timeout = Timeout.of(timeout)
        self.provider = provider
        self.verify = check_verify(verify)
        self._ssl_context = ssl_context
        self.max_connections = max_connections

    @property
    def address(self) -> tuple[str, int]:
        """Where sockets connect: the proxy, or the server itself."""
        if self.proxy is not None:
            return self.proxy.host, self.proxy.port
        return self.endpoint.host, self.endpoint.port

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context, built on first use (loading CA certificates takes milliseconds)."""
        context = self._ssl_context
        if context is None:
            context = self._ssl_context = make_ssl_context(self.verify)
        return context

    def where(self) -> str:
        """The server, for messages (never credentials)."""
        via = f" via proxy {self.proxy.url}" if self.proxy is not None else ""
        return self.endpoint.origin + via

    def timeout_error(self, phase: str, budget: Budget, what: str) -> RequestTimeoutError:
        """The exception for ``phase`` running out while ``what`` ("reading the response")."""
        limit = budget.limit(phase)
        error = RequestTimeoutError(
            f"timed out after {limit}s {what} ({_PHASES[phase]}; {self.where()}); raise "
            f"timeout= (or msgflux.Timeout({phase}=...)) if the provider is just slow",
            provider=self.provider,
        )
        error.phase = phase  # type: ignore[attr-defined]
        return error

    def connection_error(self, exc: BaseException, what: str) -> ProviderConnectionError:
        """The exception for a failed or broken connection (the cause is chained by callers)."""
        ssl = sys.modules.get("ssl")
        if isinstance(exc, OSError) and type(exc).__name__ == "gaierror":
            host = self.address[0]
            detail = f"could not resolve host {host!r}: {exc.strerror or exc}"
        elif ssl is not None and isinstance(exc, ssl.SSLCertVerificationError):
            detail = (
                f"TLS certificate verification failed: {exc.verify_message or exc} (pass "
                "verify='/path/to/ca.pem' or ssl_context= to trust a private CA)"
            )
        elif ssl is not None and isinstance(exc, ssl.SSLError):
            detail = f"TLS error: {exc.reason or exc}"
        elif isinstance(exc, HTTPProtocolError | ProviderConnectionError):
            detail = str(exc)
        else:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return ProviderConnectionError(
            f"{what} {self.where()} failed: {detail}", provider=self.provider
        )

    def failure(self, exc: BaseException, what: str) -> Exception:
        """The msgflux error for anything that broke an exchange after it started."""
        if isinstance(exc, ContentDecodingError):
            return ResponseDecodeError(f"{self.provider}: {exc}", provider=self.provider)
        return self.connection_error(exc, what)
