"""The switch the call path reads: ``observer`` is ``None`` until ``msgflux.instrument()``.

A model call, a stream, an agent run and a tool call each test ``state.observer is not
None`` once; while it is ``None`` nothing else of the telemetry package runs and
OpenTelemetry is never imported. ``msgflux.telemetry.instrument()`` sets it,
``uninstrument()`` puts ``None`` back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from msgflux.telemetry._observer import Observer

__all__ = ["observer"]

observer: Observer | None = None
