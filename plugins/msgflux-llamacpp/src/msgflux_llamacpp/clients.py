"""The llamacpp clients: the ``openai`` provider's, with the server's rules applied at send time.

``initialize_client`` wraps whatever transport the openai provider built (msgflux's fast
transport or the ``openai`` SDK, injected or not). Each ``chat.completions.create`` then

1. learns which server it talks to (``server.py``: the ``server=`` option, or one probe of
   ``/props`` on the first request; async calls probe in a worker thread),
2. applies that server's request rules (``params.adapt_for_server``), and
3. for llama-cpp-python, maps its 500 validation errors to ``BadRequestError``
   (``errors.py``; llama-server answers a bad request with a 400 itself).

The server rules run here rather than in ``adapt_params`` because that hook is synchronous
and runs on the event loop for async calls, where a first probe must not block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from msgflux.errors import ProviderError
from msgflux.models.clients import ChatClients
from msgflux_llamacpp.errors import as_bad_request
from msgflux_llamacpp.params import adapt_for_server
from msgflux_llamacpp.server import LLAMA_CPP_PYTHON, ServerDetector, check_server_option

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["build_detectors", "wrap_clients"]


def build_detectors(model: ChatCompletionModel) -> tuple[ServerDetector, ServerDetector]:
    """The detectors for ``model``'s sync and async clients (one, when both share a URL).

    An injected ``openai`` client (``client=`` / ``async_client=``) sends to its own base URL
    with its own key; the probe follows it there, and nowhere else.
    """
    server = check_server_option(model.options.get("server", "auto"))
    endpoints = [
        _endpoint(model.options.get(option), model.base_url, model.api_key)
        for option in ("client", "async_client")
    ]
    sync_detector = ServerDetector(*endpoints[0], server=server)
    if endpoints[1] == endpoints[0]:
        return sync_detector, sync_detector
    return sync_detector, ServerDetector(*endpoints[1], server=server)


def _endpoint(injected: Any, base_url: str, api_key: str | None) -> tuple[str, str | None]:
    url = getattr(injected, "base_url", None) if injected is not None else None
    if url is None:
        return base_url, api_key
    key = getattr(injected, "api_key", None)
    return str(url), key if isinstance(key, str) and key else None


def wrap_clients(
    clients: ChatClients, sync_detector: ServerDetector, async_detector: ServerDetector
) -> ChatClients:
    """``clients`` sending each server its own request forms, with their errors mapped."""
    return clients._replace(
        client=(
            _Client(_SyncCreate(clients.client, sync_detector))
            if clients.client is not None
            else None
        ),
        aclient=(
            _Client(_AsyncCreate(clients.aclient, async_detector))
            if clients.aclient is not None
            else None
        ),
    )


class _Client:
    __slots__ = ("chat",)

    def __init__(self, completions: Any) -> None:
        self.chat = _Chat(completions)


class _Chat:
    __slots__ = ("completions",)

    def __init__(self, completions: Any) -> None:
        self.completions = completions


class _SyncCreate:
    __slots__ = ("_client", "detector")

    def __init__(self, client: Any, detector: ServerDetector) -> None:
        self._client = client
        self.detector = detector

    def create(self, **params: Any) -> Any:
        server = self.detector.detect()
        params = adapt_for_server(server, params)
        try:
            return self._client.chat.completions.create(**params)
        except ProviderError as exc:
            mapped = as_bad_request(exc) if server == LLAMA_CPP_PYTHON else None
            if mapped is None:
                raise
            raise mapped from exc


class _AsyncCreate:
    __slots__ = ("_client", "detector")

    def __init__(self, client: Any, detector: ServerDetector) -> None:
        self._client = client
        self.detector = detector

    async def create(self, **params: Any) -> Any:
        server = await self.detector.adetect()
        params = adapt_for_server(server, params)
        try:
            return await self._client.chat.completions.create(**params)
        except ProviderError as exc:
            mapped = as_bad_request(exc) if server == LLAMA_CPP_PYTHON else None
            if mapped is None:
                raise
            raise mapped from exc
