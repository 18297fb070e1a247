"""Fixtures for tests against real llama.cpp servers (``scripts/llamacpp.py``).

Two servers serve the same model: ``llama-cpp-python``'s and llama.cpp's own ``llama-server``.
Each is started once per test session, when a test first needs it, and stopped (by its PID)
at the end. ``real_server`` is parametrized over both, so a test that takes it (or ``model``)
runs against each. Where a server or the model is not installed the tests are skipped with
the command that installs them; under CI (``CI=true``) the fixtures install and build them
instead and never skip.
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
def llama_server_installation(llamacpp_installation: Any) -> Any:
    """The built ``llama-server`` and the GGUF (``scripts/llamacpp.py``'s
    ``LlamaServerInstallation``)."""
    if in_ci():
        return llamacpp.setup_llama_server(llamacpp_installation, quiet=True)
    try:
        return llamacpp.check_llama_server(llamacpp_installation)
    except llamacpp.NotInstalledError as exc:
        pytest.skip(f"no local llama-server: {exc}")


@pytest.fixture(scope="session")
def llamacpp_server(llamacpp_installation: Any) -> Iterator[Any]:
    """A running llama-cpp-python ``LlamaCppServer`` shared by the session."""
    with llamacpp.start_server(llamacpp_installation) as server:
        yield server


@pytest.fixture(scope="session")
def llama_server(llama_server_installation: Any) -> Iterator[Any]:
    """A running llama-server (``--jinja``, 4 slots) shared by the session."""
    with llamacpp.start_server(llama_server_installation) as server:
        yield server


@pytest.fixture(scope="session")
def llama_server_with_tools(llama_server_installation: Any) -> Iterator[Any]:
    """A llama-server that builds tool-call grammars, and shows them.

    SmolLM2's own chat template has no tools (llama-server then ignores them); SmolLM2
    speaks ChatML, so llama.cpp's Qwen2.5 template (ChatML with ``<tool_call>`` tags, from
    the same sdist) gives it one. One slot, and ``LLAMA_SERVER_SLOTS_DEBUG=1``: ``GET /slots``
    then shows the last request's grammar.
    """
    if llama_server_installation.templates is None:
        pytest.skip("this llama-server (MSGFLUX_LLAMA_SERVER) comes without llama.cpp's templates")
    template = llama_server_installation.templates / llamacpp.TOOL_TEMPLATE
    with llamacpp.start_server(
        llama_server_installation,
        extra_args=["--chat-template-file", str(template), "--parallel", "1", "--ctx-size", "2048"],
        env={"LLAMA_SERVER_SLOTS_DEBUG": "1"},
    ) as server:
        yield server


_SERVER_FIXTURES = {"llama-cpp-python": "llamacpp_server", "llama-server": "llama_server"}


@pytest.fixture(params=list(_SERVER_FIXTURES))
def real_server(request: pytest.FixtureRequest) -> Any:
    """Each server in turn (``.kind``, ``.base_url``, ``.log_path``, ``.log_text()``)."""
    return request.getfixturevalue(_SERVER_FIXTURES[request.param])


def model_for(running: Any, /, **options: Any) -> mf.ChatCompletionModel:
    """The llamacpp provider pointed at the ``running`` server, as a user builds it: no key,
    and ``server="auto"`` unless given (the provider finds out which server it talks to).

    Greedy decoding and short answers: the tests assert structure, not wording, and the
    model runs on two shared cores.
    """
    settings = {"base_url": running.base_url, "temperature": 0, "max_tokens": 32, **options}
    return mf.Model.chat_completion(MODEL, **settings)


@pytest.fixture
def make_model() -> Any:
    """``model_for``, for tests that build models of their own (close them after use)."""
    return model_for


@pytest.fixture
def model(real_server: Any) -> Iterator[mf.ChatCompletionModel]:
    """``model_for`` each server in turn."""
    with model_for(real_server) as built:
        yield built


@pytest.fixture
def python_server_model(llamacpp_server: Any) -> Iterator[mf.ChatCompletionModel]:
    """``model_for`` llama-cpp-python's server: for what needs the model to call tools.

    With SmolLM2, only llama-cpp-python produces tool calls: llama-server follows the chat
    template, and SmolLM2's has no tools (``test_llama_server.py`` shows what it does with
    each tool choice instead).
    """
    with model_for(llamacpp_server) as built:
        yield built
