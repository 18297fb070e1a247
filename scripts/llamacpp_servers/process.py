"""A running server, either kind: start it on a free port, wait until it answers, stop it.

Each server runs under a small Python launcher that ends it when the process that started
it is gone, however that one ended (a killed test run, a closed terminal), so no server
outlives its owner. The launcher's PID is the one :meth:`LlamaCppServer.stop` signals.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from .llama_server import LlamaServerInstallation
from .python_server import Installation

__all__ = ["LLAMA_SERVER_ARGS", "SERVER_KINDS", "LlamaCppServer", "start_server"]

#: The two servers, as the plugin's ``server=`` option names them.
SERVER_KINDS = ("llama-cpp-python", "llama-server")

#: What ``llama-server`` is started with unless ``extra_args`` says otherwise:
#: Jinja chat templates (tool calls need them), 4 slots answering concurrently, and 2048
#: tokens of context per slot (the Python server's default, so both overflow alike).
LLAMA_SERVER_ARGS: tuple[str, ...] = ("--jinja", "--parallel", "4", "--ctx-size", "8192")

# `python -m llama_cpp.server`, ending when its owner (our parent) is gone.
_PYTHON_LAUNCHER = """
import os, runpy, threading, time
owner = os.getppid()
def watch():
    while os.getppid() == owner:
        time.sleep(1.0)
    os._exit(0)
threading.Thread(target=watch, name="owner-watchdog", daemon=True).start()
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""

# Runs the native binary given as argv[1:] and stops it when asked (SIGTERM) or when the
# owner is gone. On Linux the kernel also kills the server if this launcher dies (SIGKILL
# included): PR_SET_PDEATHSIG, set in the child before exec.
_NATIVE_LAUNCHER = """
import os, signal, subprocess, sys, threading, time
owner = os.getppid()
def die_with_launcher():
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
server = subprocess.Popen(
    sys.argv[1:], preexec_fn=die_with_launcher if sys.platform == "linux" else None
)
signal.signal(signal.SIGTERM, lambda *_: server.terminate())
def watch():
    while os.getppid() == owner and server.poll() is None:
        time.sleep(1.0)
    server.terminate()
threading.Thread(target=watch, name="owner-watchdog", daemon=True).start()
sys.exit(server.wait())
"""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LlamaCppServer:
    """A running server process (see :func:`start_server`).

    Attributes:
        kind: ``"llama-cpp-python"`` or ``"llama-server"``.
        host: The interface it listens on.
        port: Its TCP port.
        base_url: The OpenAI-compatible base URL, ``http://host:port/v1``.
        log_path: Where the server's output goes (read it when something fails).
        process: The launcher process (its PID is the one to signal).
    """

    def __init__(
        self, process: subprocess.Popen[bytes], kind: str, host: str, port: int, log_path: Path
    ):
        self.process = process
        self.kind = kind
        self.host = host
        self.port = port
        self.base_url = f"http://{host}:{port}/v1"
        self.log_path = log_path

    def healthy(self) -> bool:
        """Whether the model is loaded: llama-server's ``/health`` answers 200 then (503
        while loading); llama-cpp-python has no such route, but ``/v1/models`` answers."""
        path = "/health" if self.kind == "llama-server" else "/v1/models"
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.port}{path}", timeout=2) as r:
                return r.status == 200
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
                    f"the {self.kind} server exited with status {self.process.returncode}:\n"
                    f"{self.log_tail()}"
                )
            if self.healthy():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"the {self.kind} server did not answer in {timeout} s:\n{self.log_tail()}"
        )

    def log_text(self) -> str:
        """Everything the server has written so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the server's output."""
        text = self.log_text()
        return "\n".join(text.splitlines()[-lines:]) if text else "(no log)"

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
        return f"LlamaCppServer({self.kind!r}, {self.base_url!r}, {state})"


def start_server(
    installation: Installation | LlamaServerInstallation,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 120.0,
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> LlamaCppServer:
    """Start a server for ``installation`` and wait until it answers.

    Args:
        installation: :func:`setup`'s (``llama-cpp-python``) or :func:`setup_llama_server`'s
            (``llama-server``).
        host: Interface to listen on.
        port: TCP port; ``None`` picks a free one.
        timeout: Seconds to wait for the server to answer.
        log_path: File for the server's output; default a new temporary file.
        extra_args: More server options (``["--n_ctx", "4096"]`` for llama-cpp-python,
            ``["--ctx-size", "4096"]`` for llama-server; later options win).
        env: More environment variables for the server (e.g. llama-server's
            ``LLAMA_SERVER_SLOTS_DEBUG=1``, which makes ``GET /slots`` show each slot's
            last request: its rendered prompt and its grammar).

    Returns:
        The running server; stop it with ``stop()`` or use it as a context manager.
    """
    port = port or _free_port(host)
    address = ["--host", host, "--port", str(port)]
    environment = dict(os.environ)
    if isinstance(installation, LlamaServerInstallation):
        kind = "llama-server"
        command = [
            sys.executable,
            "-c",
            _NATIVE_LAUNCHER,
            str(installation.binary),
            "--model",
            str(installation.model),
            *address,
            "--no-webui",
            *LLAMA_SERVER_ARGS,
            *extra_args,
        ]
        # llama-server reads LLAMA_ARG_* variables as options: only ours apply.
        environment = {
            name: value for name, value in environment.items() if not name.startswith("LLAMA_ARG_")
        }
    else:
        kind = "llama-cpp-python"
        command = [
            str(installation.python),
            "-c",
            _PYTHON_LAUNCHER,
            "--model",
            str(installation.model),
            *address,
            # By default a new request makes the server abort the stream in progress (the
            # client sees the connection drop); queue requests instead, so concurrent
            # callers each get their whole answer.
            "--interrupt_requests",
            "False",
            *extra_args,
        ]
    # Unbuffered, so the log is current when someone reads it (a failed start, a test).
    env = {**environment, **(env or {}), "PYTHONUNBUFFERED": "1"}
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix=f"{kind}-", suffix=".log")
        os.close(handle)
        log_path = Path(name)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    server = LlamaCppServer(process, kind, host, port, log_path)
    try:
        server.wait_until_healthy(timeout)
    except BaseException:
        server.stop()
        raise
    return server
