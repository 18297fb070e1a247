"""Run the ``msgflux`` command in a subprocess, with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

# Variables that would change what the command does if the developer's shell has them.
_SCRUBBED_PREFIXES = ("MSGFLUX_", "OPENAI_", "GROQ_", "OPENROUTER_", "VLLM_")

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def clean_env(**overrides: str | None) -> dict[str, str]:
    """``os.environ`` without provider keys, URLs or msgflux switches, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env.pop("NO_COLOR", None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1"
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.fixture
def run_cli() -> RunCli:
    """``run_cli("chat", "-m", "fake/echo", "hi", input=None, env=None)`` -> CompletedProcess.

    Runs ``python -m msgflux.cli`` with this interpreter, so the command sees exactly the
    distributions installed in the test environment.
    """

    def run(
        *args: str,
        input: str | None = "",
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "msgflux.cli", *args],
            input=input,
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else clean_env(),
            timeout=120,  # a guard against a hung child, not a performance assertion
        )

    return run


InstallPlugin = Callable[..., dict[str, str]]


@pytest.fixture
def install_plugin(tmp_path: Path) -> InstallPlugin:
    """Lay out an installed plugin distribution (module + ``.dist-info``) in a temp dir.

    ``install_plugin(distribution="msgflux-x", module="msgflux_x", source="...")`` returns
    the environment (``clean_env`` plus ``PYTHONPATH``) under which ``importlib.metadata``
    finds its entry point exactly as for a pip-installed plugin. Call it again to add more.
    """
    site = tmp_path / "site"
    site.mkdir()

    def install(
        *, distribution: str, module: str, source: str, **env: str | None
    ) -> dict[str, str]:
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = site / f"{distribution.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.2.3\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[msgflux]\n{module} = {module}\n", encoding="utf-8"
        )
        return clean_env(PYTHONPATH=str(site), **env)

    return install


@pytest.fixture
def cli_env() -> Callable[..., dict[str, str]]:
    """``cli_env(OPENAI_API_KEY="k")``: the clean child environment plus overrides."""
    return clean_env
