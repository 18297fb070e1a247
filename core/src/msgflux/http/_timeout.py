"""The one timeout model of msgflux's HTTP layer, shared by sync, async and streams.

A call has four limits, each optional (``None`` waits forever):

- ``connect``: opening a connection (TCP, a proxy's CONNECT, the TLS handshake);
- ``read``: the longest gap between two received bytes, so also between two stream events
  (writing the request is bounded by it too);
- ``first_token``: for streams, from sending the request to the first event;
- ``total``: a deadline for the whole call, every retry attempt included; for a stream it
  covers the time until the stream is established (its first event), not its reading.

``timeout=<number>`` means ``Timeout(connect=number, read=number)``, the same for sync and
async calls: no hidden total deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["Timeout"]

_FIELDS = ("connect", "read", "first_token", "total")


def _check(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(
            f"timeout {name} must be a positive number of seconds or None, got {value!r}"
        )
    if math.isnan(value):
        raise ValueError(f"timeout {name} must be a number of seconds, got {value!r}")


class Timeout(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Connect, read, time-to-first-token and total limits of a call, in seconds.

    Args:
        connect: Seconds allowed to open a connection (TCP, proxy tunnel, TLS handshake).
        read: Longest gap between two received bytes (also between stream events).
        first_token: Streams only: seconds from sending the request to the first event.
        total: Deadline for the whole call, retries included; for a stream, until its
            first event has arrived.
        deadline: Set by :meth:`start` (a ``time.monotonic()`` value); leave it unset.

    Example:
        ``model(..., timeout=mf.Timeout(connect=5, read=30, total=120))``
    """

    connect: float | None = None
    read: float | None = None
    first_token: float | None = None
    total: float | None = None
    deadline: float | None = None

    def __post_init__(self) -> None:
        for name in _FIELDS:
            _check(name, getattr(self, name))

    @classmethod
    def of(cls, value: Any) -> Timeout:
        """Coerce a user's ``timeout=`` value.

        Args:
            value: A :class:`Timeout`; a number of seconds (connect and read limit);
                ``None`` (no limit); a mapping of field names (a serialized model); or an
                object with ``connect``/``read`` attributes (``httpx.Timeout``).

        Returns:
            The timeout.

        Raises:
            ValueError: A non-positive or non-numeric limit, or an unknown field name.
        """
        if isinstance(value, Timeout):
            return value
        if value is None:
            return _NONE
        if isinstance(value, int | float) and not isinstance(value, bool):
            _check("", value)
            return cls(connect=float(value), read=float(value))
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(_FIELDS))
            if unknown:
                raise ValueError(f"unknown timeout fields {unknown}; valid: {', '.join(_FIELDS)}")
            return cls(**{name: value[name] for name in _FIELDS if name in value})
        if hasattr(value, "read") and hasattr(value, "connect"):  # httpx.Timeout
            return cls(connect=value.connect, read=value.read)
        raise ValueError(
            "timeout must be a number of seconds, None (wait forever) or a "
            f"msgflux.Timeout, got {value!r}"
        )

    def start(self, now: float | None = None) -> Timeout:
        """A copy whose ``total`` deadline counts from now (kept if already started).

        The model starts a call's timeout once; every retry attempt and the transport
        then share the same :attr:`deadline`.
        """
        if self.total is None or self.deadline is not None:
            return self
        begun = time.monotonic() if now is None else now
        return msgspec.structs.replace(self, deadline=begun + self.total)

    def remaining(self) -> float | None:
        """Seconds left until :attr:`deadline` (``None`` without one; may be negative)."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()


_NONE = Timeout()


def deadline_of(value: Any) -> float | None:
    """The started total deadline of a ``timeout=`` value, if it has one."""
    return value.deadline if isinstance(value, Timeout) else None
