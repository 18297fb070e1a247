"""The spec's import paths of provider model classes (``msgflux.models.providers.<name>``).

Each class lives in its provider's plugin distribution; these modules keep the documented
paths working and name the ``pip install`` that provides a missing one.
"""

from __future__ import annotations

import importlib
from typing import Any


def load_model_class(module: str, name: str, extra: str) -> Any:
    """``name`` from the plugin module ``module``, or an ImportError naming ``extra``."""
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ImportError(
            f"{name} comes with its provider plugin: pip install 'msgflux[{extra}]'"
        ) from exc
