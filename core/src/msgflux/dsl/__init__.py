"""Small languages msgflux understands in model output (``msgflux.dsl.typed_parsers``)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["typed_parsers"]


def __getattr__(name: str) -> Any:
    # `mf.dsl.typed_parsers` is importable on demand; nothing here is loaded at `import msgflux`.
    if name == "typed_parsers":
        return importlib.import_module(f"{__name__}.typed_parsers")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
