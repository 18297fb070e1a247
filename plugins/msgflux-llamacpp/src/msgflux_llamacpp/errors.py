"""Error mapping: llama-cpp-python answers an invalid request with HTTP 500.

Its server turns every request validation error (pydantic's "N validation errors: ...")
into ``500 internal_server_error``. Read as a 500, msgflux would retry a request that can
never succeed and report a server failure; it is the caller's mistake, so it becomes a
``BadRequestError`` (status 422, what the validation layer means) and is not retried.
Everything else passes through untouched. ``clients.py`` applies this to calls to
llama-cpp-python, the original exception chained (llama-server answers a bad request with a
400 of its own).
"""

from __future__ import annotations

import re

from msgflux.errors import BadRequestError, ProviderError

__all__ = ["as_bad_request"]

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
