"""What the loopback server saw: one `RecordedRequest` per HTTP request, with its `Headers`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Headers", "RecordedRequest"]


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive request headers.

    ``headers["authorization"]`` and ``headers["Authorization"]`` are the same; iteration yields
    lower-case names; a header sent several times maps to its values joined by ``", "``
    (`get_list` returns them apart). ``raw`` keeps the names and order as received.
    """

    __slots__ = ("_map", "raw")

    def __init__(self, raw: list[tuple[str, str]]) -> None:
        self.raw = raw
        folded: dict[str, str] = {}
        for name, value in raw:
            key = name.lower()
            folded[key] = f"{folded[key]}, {value}" if key in folded else value
        self._map = folded

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name`` (case-insensitive), or ``default``."""
        return self._map.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def get_list(self, name: str) -> list[str]:
        """Every value sent for ``name``, in order."""
        key = name.lower()
        return [value for n, value in self.raw if n.lower() == key]

    def __repr__(self) -> str:
        return f"Headers({self.raw!r})"


class RecordedRequest:
    """One HTTP request as the server received it.

    Attributes:
        method: ``"GET"``, ``"POST"``, ...
        path: The path without the query string, e.g. ``"/v1/chat/completions"``.
        query: Query-string parameters (last value wins).
        headers: Case-insensitive request headers.
        body: The raw body (de-chunked when sent with ``Transfer-Encoding: chunked``).
        json: The body decoded as JSON, or ``None`` when it is empty or not JSON.
        client_address: The ``(host, port)`` the request came from: requests with the same
            address came over the same connection (tests of connection reuse use it).
    """

    __slots__ = ("body", "client_address", "headers", "json", "method", "path", "query")

    def __init__(
        self,
        method: str,
        path: str,
        headers: Headers,
        body: bytes = b"",
        json: Any = None,
        query: Mapping[str, str] | None = None,
        client_address: tuple[str, int] | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.query: Mapping[str, str] = query or {}
        self.headers = headers
        self.body = body
        self.json = json
        self.client_address = client_address

    def __repr__(self) -> str:
        return f"RecordedRequest({self.method} {self.path}, {len(self.body)} bytes)"
