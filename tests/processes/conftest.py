"""Models crossing process boundaries: pickles, forks, worker pools.

These tests use the ``openai`` provider plugin against the loopback server.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = str(Path(__file__).resolve().parent)


@pytest.fixture(scope="session")
def workers() -> Any:
    """The ``process_workers`` module, importable by name in spawned children too."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    return importlib.import_module("process_workers")
