"""msgflux 0.5's ``ModelGateway``, kept working on top of the new one.

0.5 took a list of ``{"model_name": ..., "model": ..., "time_constraints": [...]}`` dicts
(``description`` optional), ``fallback=`` (whether a failed model may hand the call to the
next), and ``model_preference=`` at the call (the ``model_name`` to try first). Here a
``model_name`` is a deployment ``name`` with no ``group``, so each 0.5 model is a group of
its own and a call tries them in the listed order, as 0.5 did; ``fallback=False`` keeps a
call on its first group; ``model_preference`` names a group or a deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["normalize_entry"]


def normalize_entry(position: int, entry: Mapping[str, Any]) -> dict[str, Any]:
    """A deployment dict with 0.5's ``model_name`` renamed ``name``."""
    entry = dict(entry)
    if "model_name" in entry:
        if "name" in entry:
            raise ValueError(
                f"deployment {position} has both 'name' and 'model_name' (its msgflux 0.5 "
                "spelling): keep one"
            )
        entry["name"] = entry.pop("model_name")
    return entry
