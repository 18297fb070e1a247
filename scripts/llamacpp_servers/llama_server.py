"""llama.cpp's own ``llama-server``, built once from the sources a PyPI package ships.

The ``llama-cpp-python`` sdist carries llama.cpp's sources under ``vendor/llama.cpp``; the
pinned release (:data:`LLAMA_CPP_VERSION`) is the one the Python server runs, so both servers
answer from the same llama.cpp. Only the ``llama-server`` target is built: CPU only,
Release, statically linked (the binary needs no build tree beside it), no HTTPS (the tests
talk to 127.0.0.1) and nothing fetched from the network at build time (the web UI's
prebuilt assets would be downloaded from Hugging Face otherwise). CMake and Ninja come from
the system, or from PyPI into the Python server's environment when the system has none.

The binary lands in ``~/.cache/msgflux/llama-server-<version>/bin/llama-server``, beside
``templates/`` (llama.cpp's collection of chat templates, ``models/templates/*.jinja`` in its
sources) and a ``build.json`` recording the CMake options and how long each step took; a
changed option list makes :func:`check_llama_server` ask for a rebuild.
``MSGFLUX_LLAMA_SERVER`` names a ``llama-server`` binary to use instead of building one (a
user's own build; then there are no templates).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from .common import NotInstalledError, cache_root, file_lock, run, say
from .python_server import LLAMA_CPP_VERSION, Installation, check_installation, pip_env, setup

__all__ = [
    "CMAKE_OPTIONS",
    "TOOL_TEMPLATE",
    "LlamaServerInstallation",
    "check_llama_server",
    "llama_server_dir",
    "setup_llama_server",
]

#: ``cmake -D`` options of the build (see the module docstring for why each is set).
CMAKE_OPTIONS: tuple[str, ...] = (
    "CMAKE_BUILD_TYPE=Release",
    "BUILD_SHARED_LIBS=OFF",
    "LLAMA_BUILD_SERVER=ON",
    "LLAMA_BUILD_TOOLS=ON",  # the server lives under tools/
    "LLAMA_BUILD_TESTS=OFF",
    "LLAMA_BUILD_EXAMPLES=OFF",
    "LLAMA_BUILD_APP=OFF",
    "LLAMA_OPENSSL=OFF",
    "LLAMA_BUILD_UI=OFF",
    "LLAMA_USE_PREBUILT_UI=OFF",
    "GGML_CCACHE=OFF",
)
_TARGET = "llama-server"
#: A chat template with tool calls (ChatML, Hermes-style ``<tool_call>`` tags) from the
#: collection. SmolLM2's own template has no tools, so llama-server ignores tools with it;
#: SmolLM2 speaks ChatML, so with this template llama-server builds its tool-call grammars.
TOOL_TEMPLATE = "Qwen-Qwen2.5-7B-Instruct.jinja"
# ui-assets.cmake, run at build time, needs 3.18; the top-level project 3.14.
_MIN_CMAKE = (3, 18)


@dataclasses.dataclass(frozen=True)
class LlamaServerInstallation:
    """A usable ``llama-server`` binary and the model it serves.

    Attributes:
        binary: The ``llama-server`` executable.
        model: The GGUF file to serve (the one the Python server's environment holds).
        templates: llama.cpp's chat templates of the same release (``None`` for a binary
            from ``MSGFLUX_LLAMA_SERVER``).
    """

    binary: Path
    model: Path
    templates: Path | None = None


def llama_server_dir() -> Path:
    """Where the build for the pinned version lives (one directory per version)."""
    return cache_root() / f"llama-server-{LLAMA_CPP_VERSION}"


def check_llama_server(installation: Installation | None = None) -> LlamaServerInstallation:
    """The built ``llama-server`` (or ``MSGFLUX_LLAMA_SERVER``'s), without building.

    Args:
        installation: The Python server's installation, for the model file; default
            :func:`check_installation`.

    Raises:
        NotInstalledError: No binary, a binary built with other options, or no model.
    """
    fix = f"run `{Path(sys.executable).name} scripts/llamacpp.py setup`"
    override = os.environ.get("MSGFLUX_LLAMA_SERVER")
    templates: Path | None = None
    if override:
        binary = Path(override).expanduser()
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            raise NotInstalledError(f"MSGFLUX_LLAMA_SERVER names no executable file: {binary}")
    else:
        directory = llama_server_dir()
        binary = directory / "bin" / _TARGET
        templates = directory / "templates"
        if not binary.is_file():
            raise NotInstalledError(f"llama-server is not built: no {binary} ({fix})")
        try:
            recorded = json.loads((directory / "build.json").read_text())["cmake_options"]
        except (OSError, ValueError, KeyError):
            recorded = None
        if recorded != list(CMAKE_OPTIONS) or not (templates / TOOL_TEMPLATE).is_file():
            raise NotInstalledError(
                f"the llama-server in {directory} is incomplete or was built with other "
                f"options ({fix})"
            )
    model = (installation or check_installation()).model
    return LlamaServerInstallation(binary=binary, model=model, templates=templates)


def setup_llama_server(
    installation: Installation | None = None, *, quiet: bool = False
) -> LlamaServerInstallation:
    """Build ``llama-server`` if it is missing (and set up the Python server first: its
    environment provides pip and the model).

    Safe to run concurrently (a file lock serialises builders). An interrupted build starts
    over; a finished one is never rebuilt for the same version and options.

    Args:
        installation: The Python server's installation; default :func:`setup`.
        quiet: Capture the tools' output (shown only if one fails).

    Raises:
        RuntimeError: A build step failed with ``quiet=True`` (its output ends the message).
        subprocess.CalledProcessError: A build step failed (its output went to stderr).
        NotInstalledError: The build finished, yet no usable binary is there.
    """
    installation = installation or setup(quiet=quiet)
    with contextlib.suppress(NotInstalledError):
        return check_llama_server(installation)
    directory = llama_server_dir()
    with file_lock(directory.with_name(directory.name + ".lock")):
        with contextlib.suppress(NotInstalledError):
            return check_llama_server(installation)  # another process built it meanwhile
        _build(installation.python, directory, quiet)
        return check_llama_server(installation)


def _build(python: Path, directory: Path, quiet: bool) -> None:
    """Download the sdist, build the target, install the binary into ``directory``."""
    work = directory.with_name(directory.name + ".build")
    shutil.rmtree(work, ignore_errors=True)  # an interrupted build's leftovers
    work.mkdir(parents=True)
    steps: dict[str, float] = {}
    started = time.monotonic()

    say(f"downloading the llama-cpp-python {LLAMA_CPP_VERSION} sdist (llama.cpp's sources)", quiet)
    sdist = _download_sdist(python, work, quiet)
    steps["download"] = time.monotonic() - started

    mark = time.monotonic()
    source = _extract_llama_cpp(sdist, work)
    steps["extract"] = time.monotonic() - mark

    mark = time.monotonic()
    cmake, generator = _build_tools(python, quiet)
    steps["tools"] = time.monotonic() - mark

    jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
    build = work / "build"
    mark = time.monotonic()
    configure = [cmake, "-S", source, "-B", build, *generator]
    run([*configure, *(f"-D{option}" for option in CMAKE_OPTIONS)], quiet=quiet)
    steps["configure"] = time.monotonic() - mark

    say(f"compiling {_TARGET} with {jobs} jobs (about 15 CPU-minutes)", quiet)
    mark = time.monotonic()
    run([cmake, "--build", build, "--target", _TARGET, "--parallel", jobs], quiet=quiet)
    steps["compile"] = time.monotonic() - mark

    # Assemble beside the final directory, then rename: a directory that exists is complete.
    staging = directory.with_name(directory.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "bin").mkdir(parents=True)
    shutil.copy2(build / "bin" / _TARGET, staging / "bin" / _TARGET)
    shutil.copytree(source / "models" / "templates", staging / "templates")
    total = time.monotonic() - started
    record = {
        "llama_cpp_python": LLAMA_CPP_VERSION,
        "cmake_options": list(CMAKE_OPTIONS),
        "jobs": int(jobs),
        "seconds": {name: round(value, 1) for name, value in {**steps, "total": total}.items()},
    }
    (staging / "build.json").write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(directory, ignore_errors=True)
    staging.rename(directory)
    shutil.rmtree(work, ignore_errors=True)  # sources and objects: hundreds of MB
    say(f"built {directory / 'bin' / _TARGET} in {total:.0f} s ({_seconds(steps)})", quiet)


def _seconds(steps: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.0f} s" for name, value in steps.items())


def _download_sdist(python: Path, work: Path, quiet: bool) -> Path:
    # pip, so that the index configuration and pip's cache of the sdist apply.
    downloads = work / "sdist"
    run(
        [
            python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--dest", downloads, f"llama-cpp-python=={LLAMA_CPP_VERSION}",
        ],
        env=pip_env(),
        quiet=quiet,
    )  # fmt: skip
    [sdist] = downloads.glob("llama_cpp_python-*.tar.gz")
    return sdist


def _extract_llama_cpp(sdist: Path, work: Path) -> Path:
    """Extract ``vendor/llama.cpp`` only; return its directory."""
    prefix = f"llama_cpp_python-{LLAMA_CPP_VERSION}/vendor/llama.cpp/"
    with tarfile.open(sdist) as archive:
        members = [member for member in archive.getmembers() if member.name.startswith(prefix)]
        if not members:
            raise NotInstalledError(f"{sdist.name} has no {prefix}: cannot build llama-server")
        if hasattr(tarfile, "data_filter"):  # refuses absolute paths and links out of `work`
            archive.extractall(work, members=members, filter="data")
        else:  # pragma: no cover - Python releases before the filter existed
            archive.extractall(work, members=members)
    return work / prefix.rstrip("/")


def _build_tools(python: Path, quiet: bool) -> tuple[Path, list[str]]:
    """CMake and a generator: the system's, else PyPI's wheels in the server environment."""
    system_cmake = shutil.which("cmake")
    cmake = Path(system_cmake) if system_cmake and _cmake_ok(Path(system_cmake)) else None
    ninja = shutil.which("ninja")
    if cmake is not None and (ninja or shutil.which("make")):
        return cmake, (["-G", "Ninja"] if ninja else [])
    say("no usable cmake/ninja on this machine: installing them from PyPI", quiet)
    run([python, "-m", "pip", "install", "cmake>=3.18", "ninja"], env=pip_env(), quiet=quiet)
    scripts = python.parent
    ninja_path = scripts / "ninja"
    return scripts / "cmake", ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja_path}"]


def _cmake_ok(cmake: Path) -> bool:
    try:
        output = subprocess.run(
            [str(cmake), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    found = re.search(r"(\d+)\.(\d+)", output)
    return bool(found) and (int(found.group(1)), int(found.group(2))) >= _MIN_CMAKE
