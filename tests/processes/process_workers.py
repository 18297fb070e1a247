"""Functions that worker processes run (importable by name, so spawned workers find them).

The tests put this directory on ``sys.path``; ``multiprocessing`` hands ``sys.path`` to
spawned children, which then import this module to unpickle the tasks.
"""

from __future__ import annotations

import os
from typing import Any

_MODEL: Any = None


def keep_model(model: Any) -> None:
    """Pool initializer: with the fork start method the model arrives by memory, unpickled."""
    global _MODEL
    _MODEL = model


def ask_kept(prompt: str) -> tuple[str, int]:
    """Ask the model the initializer kept; return the answer and this worker's pid."""
    return _MODEL(prompt).consume(), os.getpid()


def ask(model: Any, prompt: str) -> tuple[str, int]:
    """Ask ``model`` (it arrived pickled); return the answer and this worker's pid."""
    return model(prompt).consume(), os.getpid()


def ask_error(model: Any, prompt: str) -> str:
    """Ask ``model`` and return the error's type and message (for a missing key)."""
    try:
        model(prompt)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "no error"


def ask_gateway(gateway: Any, prompt: str) -> tuple[str, str, int]:
    """Ask ``gateway`` (it arrived pickled); return the answer, the deployment, this pid."""
    response = gateway(prompt)
    return response.consume(), response.metadata.gateway.deployment, os.getpid()
