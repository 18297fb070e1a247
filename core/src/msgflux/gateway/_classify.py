"""What a failed attempt means for the gateway: the error classes and how each is told.

Each class, the errors in it, what it does to the deployment's circuit, and to the call:

- ``unavailable``: connection errors, timeouts, 408, 409, 5xx, other failures of the
  provider (an error event, a 402), an undecodable answer, a stream cut before its end.
  A failure of the deployment; the call fails over.
- ``rate_limited``: 429. The call fails over. A ``Retry-After`` rests the deployment that
  long; without one the deployment is up but busy, so its circuit is left alone (counting
  such 429s toward an outage would park a healthy replica for the whole ``cooldown`` in the
  middle of a batch); a 429 saying the quota is used up is a failure.
- ``context_length``: a 4xx saying the request exceeds the context window. The
  deployment answered; the call goes to the group's ``context_length_fallbacks``, and
  without them the error is raised.
- ``content_policy``: a 4xx refusing the content (safety system, content filter). The
  deployment answered; the error is raised, never failed over.
- ``auth``: 401, 403. Raised, unless ``failover_on`` names it (then a failure, failed
  over).
- ``bad_request``: any other 4xx, a parameter the provider cannot honour. The deployment
  answered; raised, unless ``failover_on`` names it.
- ``caller``: anything else (a bad argument, an answer that fails its schema). The
  circuit is untouched; raised.

A content-policy refusal that arrives as an answer (``finish_reason="content_filter"``,
``message.refusal``) is an answer like any other: the gateway returns it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from msgflux.errors import (
    AuthenticationError,
    BadRequestError,
    ProviderError,
    ResponseDecodeError,
    StructuredOutputError,
    UnsupportedParameterError,
)

__all__ = [
    "AUTH",
    "BAD_REQUEST",
    "CALLER",
    "CONTENT_POLICY",
    "CONTEXT_LENGTH",
    "DEFAULT_FAILOVER_ON",
    "FAILOVER_CLASSES",
    "RATE_LIMITED",
    "UNAVAILABLE",
    "classify",
]

UNAVAILABLE: Final = "unavailable"
RATE_LIMITED: Final = "rate_limited"
CONTEXT_LENGTH: Final = "context_length"
CONTENT_POLICY: Final = "content_policy"
AUTH: Final = "auth"
BAD_REQUEST: Final = "bad_request"
CALLER: Final = "caller"

#: The classes ``failover_on=`` may name.
FAILOVER_CLASSES: Final = (UNAVAILABLE, RATE_LIMITED, AUTH, BAD_REQUEST)
DEFAULT_FAILOVER_ON: Final = (UNAVAILABLE, RATE_LIMITED)

# Provider error codes (``error.code`` or ``error.type``). OpenAI and Groq send
# ``context_length_exceeded`` (so does llama-cpp-python's server); llama.cpp's own server
# sends the type ``exceed_context_size_error``.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
# OpenAI's ``content_policy_violation``; Azure OpenAI's ``content_filter`` and the inner
# ``ResponsibleAIPolicyViolation``.
_POLICY_CODES = frozenset(
    {"content_policy_violation", "content_filter", "responsibleaipolicyviolation"}
)
# Messages of servers that send no such code: vLLM ("This model's maximum context length is
# 4096 tokens...", "...is longer than the maximum model length of 4096"), llama.cpp
# ("request (5000 tokens) exceeds the available context size (4096 tokens)"),
# llama-cpp-python ("Requested tokens (5000) exceed context window of 4096"), Anthropic
# ("prompt is too long").
_CONTEXT_MESSAGE = re.compile(
    r"maximum context length|context length exceeded|context_length_exceeded"
    r"|exceeds? the available context size|exceeds? (the )?context window"
    r"|longer than the maximum model length|prompt is too long",
    re.IGNORECASE,
)
_POLICY_MESSAGE = re.compile(
    r"content[ _]policy|content management policy|rejected as a result of our safety system",
    re.IGNORECASE,
)


def classify(error: BaseException) -> str:
    """The class of ``error`` (see the module docstring's table)."""
    from msgflux.utils.retry import is_retryable

    if isinstance(error, StructuredOutputError):
        return CALLER  # the deployment answered; the answer does not fit the schema
    status = getattr(error, "status", None)
    if status == 429:
        return RATE_LIMITED
    if is_retryable(error) or isinstance(error, ResponseDecodeError):
        return UNAVAILABLE
    if isinstance(error, AuthenticationError):
        return AUTH
    if isinstance(error, BadRequestError):
        return _rejection_class(error)
    if isinstance(error, UnsupportedParameterError):
        return BAD_REQUEST
    if isinstance(error, ProviderError):
        return UNAVAILABLE  # any other failure of the provider (an error event, a 402...)
    return CALLER


def _rejection_class(error: BadRequestError) -> str:
    codes = {str(code).lower() for code in _error_codes(error.body) if code is not None}
    text = error.message or ""
    if codes & _POLICY_CODES or _POLICY_MESSAGE.search(text):
        return CONTENT_POLICY
    if codes & _CONTEXT_CODES or _CONTEXT_MESSAGE.search(text):
        return CONTEXT_LENGTH
    return BAD_REQUEST


def _error_codes(body: Any) -> list[Any]:
    """``code`` and ``type`` of an error body (and of Azure's ``innererror``)."""
    if not isinstance(body, Mapping):
        return []
    inner = body.get("error", body)
    if not isinstance(inner, Mapping):
        return []
    codes = [inner.get("code"), inner.get("type")]
    nested = inner.get("innererror")
    if isinstance(nested, Mapping):
        codes.append(nested.get("code"))
    return codes
