"""Which llama.cpp server a model talks to: llama.cpp's own ``llama-server``, or
``llama-cpp-python``'s.

The two accept different requests (see ``params.py``), so the plugin needs to know. The
``server=`` option says it (``"llama-server"``, ``"llama-cpp-python"``); with ``"auto"``, the
default, the first request asks the server: ``GET /props`` beside the API root (for
``http://host:8080/v1``, ``http://host:8080/props``). llama-server answers with its settings
as JSON (``build_info``, ``default_generation_settings``, ``chat_template``...); llama-cpp-python
has no such route and answers 404.

The probe goes only to the model's own base URL (an injected ``openai`` client's URL when
there is one), with its API key, at most once per model instance once it has an answer.
An answer that settles nothing (no connection, a timeout, 401, 5xx: a llama-server still
loading its model answers 503) is not remembered: that request is sent with
llama-cpp-python's rules, the standard OpenAI forms, and the next one asks again.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "LLAMA_CPP_PYTHON",
    "LLAMA_SERVER",
    "PROBE_TIMEOUT",
    "SERVER_CHOICES",
    "ServerDetector",
    "check_server_option",
    "classify_props",
    "props_url",
]

LLAMA_SERVER: Final = "llama-server"
LLAMA_CPP_PYTHON: Final = "llama-cpp-python"
#: Values of the provider's ``server=`` option.
SERVER_CHOICES: Final = ("auto", LLAMA_SERVER, LLAMA_CPP_PYTHON)
#: Seconds the probe waits for an answer: a local server answers in milliseconds, and the
#: request that triggered the probe waits for it.
PROBE_TIMEOUT: Final = 5.0

# Keys of llama-server's /props answer; any one of them is enough (versions differ).
_PROPS_KEYS = frozenset({"build_info", "default_generation_settings", "chat_template"})
# A server without the route (llama-cpp-python, another OpenAI-compatible server): a
# definite "not llama-server". Redirects are not followed (the probe talks to the base URL
# only) and llama-server never redirects /props.
_NO_ROUTE = frozenset({301, 302, 303, 307, 308, 404, 405})

logger = logging.getLogger("msgflux.llamacpp")
_opener: Any = None  # built on the first probe: `import msgflux` loads no HTTP client


def check_server_option(value: object) -> str:
    """``value`` if it is a valid ``server=`` option.

    Raises:
        ValueError: It is not one of :data:`SERVER_CHOICES` (the message lists them).
    """
    if value not in SERVER_CHOICES:
        choices = ", ".join(repr(choice) for choice in SERVER_CHOICES)
        raise ValueError(
            f"the llamacpp provider's server= must be one of {choices} (which llama.cpp "
            f"server answers at the base URL; 'auto' asks it); got {value!r}"
        )
    return str(value)


def props_url(base_url: str) -> str:
    """The ``/props`` URL beside the API root ``base_url`` (a trailing ``/v1`` dropped)."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/props", "", ""))


def classify_props(status: int, body: bytes) -> str | None:
    """The server kind an answer to ``GET /props`` shows, or ``None`` if it settles nothing."""
    if status == 200:
        try:
            props = json.loads(body)
        except ValueError:
            return LLAMA_CPP_PYTHON  # a page, not llama-server's JSON
        if isinstance(props, dict) and _PROPS_KEYS & props.keys():
            return LLAMA_SERVER
        return LLAMA_CPP_PYTHON
    if status in _NO_ROUTE:
        return LLAMA_CPP_PYTHON
    return None


class ServerDetector:
    """Knows, or finds out on first use, which server answers at one base URL.

    Thread-safe: concurrent first requests wait for one probe. Sync callers probe in their
    own thread (at most :data:`PROBE_TIMEOUT` seconds, once); async callers probe in a worker
    thread, so the event loop never waits on the network.

    Args:
        base_url: The API root the requests go to.
        api_key: Sent with the probe (llama-server started with ``--api-key`` guards
            ``/props`` too); ``None`` sends no ``Authorization``.
        server: The ``server=`` option: a kind, or ``"auto"`` to probe.
    """

    __slots__ = ("_api_key", "_kind", "_lock", "base_url")

    def __init__(self, base_url: str, api_key: str | None, server: str = "auto") -> None:
        self.base_url = base_url
        self._api_key = api_key
        self._kind: str | None = None if check_server_option(server) == "auto" else server
        self._lock = threading.Lock()

    @property
    def kind(self) -> str | None:
        """The server kind if known (declared, or probed with a clear answer)."""
        return self._kind

    def detect(self) -> str:
        """The server kind, probing if it is not known yet (blocks up to the probe timeout).

        Returns :data:`LLAMA_CPP_PYTHON` when the probe settles nothing (and asks again next
        time).
        """
        kind = self._kind
        if kind is not None:
            return kind
        with self._lock:
            if self._kind is None:
                self._kind = self._probe()
            return self._kind or LLAMA_CPP_PYTHON

    async def adetect(self) -> str:
        """:meth:`detect` for async code: the probe runs in a worker thread."""
        kind = self._kind
        if kind is not None:
            return kind
        import asyncio

        return await asyncio.to_thread(self.detect)

    def _probe(self) -> str | None:
        import urllib.error
        import urllib.request

        url = props_url(self.base_url)
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self._api_key:
            request.add_header("Authorization", f"Bearer {self._api_key}")
        try:
            with _no_redirect_opener().open(request, timeout=PROBE_TIMEOUT) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, b""
            error.close()
        except (OSError, ValueError) as error:  # no connection, timeout, TLS, bad URL
            logger.debug("llamacpp: probing %s failed: %s", url, error)
            return None
        kind = classify_props(status, body)
        logger.debug("llamacpp: %s answered %s: %s", url, status, kind or "undecided")
        return kind

    def __repr__(self) -> str:
        return f"ServerDetector({self.base_url!r}, kind={self._kind!r})"


def _no_redirect_opener() -> Any:
    """A urllib opener that answers a redirect as it is, without following it."""
    global _opener
    if _opener is None:
        import urllib.request

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None  # the 3xx is raised as an HTTPError, and read as an answer

        _opener = urllib.request.build_opener(NoRedirect)
    return _opener
