"""What a request returns: status, headers and body."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Response"]


class Response(NamedTuple):
    """A complete HTTP response (unpacks as ``status, headers, body``).

    Attributes:
        status: The HTTP status code.
        headers: Response headers, lower-case names; repeated headers joined with ``", "``.
        body: The body, decompressed (``gzip``, ``deflate``).
    """

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def request_id(self) -> str | None:
        """The provider's request id (``x-request-id`` or ``request-id``), if sent."""
        return self.headers.get("x-request-id") or self.headers.get("request-id")
