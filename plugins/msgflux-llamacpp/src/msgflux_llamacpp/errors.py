"""Error mapping: llama-cpp-python answers an invalid request with HTTP 500.

Its server turns every request validation error (pydantic's "N validation errors: ...")
into ``500 internal_server_error``. Read as a 500, msgflux would retry a request that can
never succeed and report a server failure; it is the caller's mistake, so it becomes a
``BadRequestError`` (status 422, what the validation layer means) and is not retried.
Everything else passes through untouched, the original exception chained.
"""

from __future__ import annotations

import re
from typing import Any

from msgflux.errors import BadRequestError, ProviderError
from msgflux.models.clients import ChatClients

__all__ = ["as_bad_request", "wrap_clients"]

_VALIDATION = re.compile(r"^\s*\d+ validation errors?\b")


def as_bad_request(error: BaseException) -> BadRequestError | None:
    """The ``BadRequestError`` a llama-cpp-python 500 really is, or ``None``."""
    if type(error) is not ProviderError or error.status != 500:
        return None
    if not _VALIDATION.match(error.message or ""):
        return None
    return BadRequestError(
        f"the server rejected the request (it answered HTTP 500): {error.message}",
        provider=error.provider,
        status=422,
        request_id=error.request_id,
        body=error.body,
        headers=error.headers,
    )


def wrap_clients(clients: ChatClients) -> ChatClients:
    """``clients`` with their ``chat.completions.create`` errors mapped."""
    return clients._replace(
        client=_Client(_SyncCreate(clients.client)) if clients.client is not None else None,
        aclient=_Client(_AsyncCreate(clients.aclient)) if clients.aclient is not None else None,
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
    __slots__ = ("_client",)

    def __init__(self, client: Any) -> None:
        self._client = client

    def create(self, **params: Any) -> Any:
        try:
            return self._client.chat.completions.create(**params)
        except ProviderError as exc:
            mapped = as_bad_request(exc)
            if mapped is None:
                raise
            raise mapped from exc


class _AsyncCreate:
    __slots__ = ("_client",)

    def __init__(self, client: Any) -> None:
        self._client = client

    async def create(self, **params: Any) -> Any:
        try:
            return await self._client.chat.completions.create(**params)
        except ProviderError as exc:
            mapped = as_bad_request(exc)
            if mapped is None:
                raise
            raise mapped from exc
