"""What the two server installations share: the cache directory, a file lock, messages."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["NotInstalledError", "cache_root", "file_lock", "run", "say"]


class NotInstalledError(RuntimeError):
    """A server or the model is missing; the message says which and how to fix it."""


def cache_root() -> Path:
    """``~/.cache/msgflux`` (``$XDG_CACHE_HOME`` honoured): outside any checkout, so a build
    survives fresh clones and worktrees, and no tool crawls it."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "msgflux"


def say(message: str, quiet: bool) -> None:
    """Progress for a person at a terminal (stderr: stdout carries what commands print)."""
    if not quiet:
        print(f"[llamacpp] {message}", file=sys.stderr, flush=True)


def run(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    quiet: bool,
    cwd: Path | None = None,
) -> None:
    """Run ``command``; its output goes to stderr, or is kept and shown only if it fails.

    Raises:
        subprocess.CalledProcessError: The command failed (not quiet: its output went to
            stderr).
        RuntimeError: The command failed with ``quiet=True``; the message ends with the tail
            of its output.
    """
    command = [str(part) for part in command]
    if quiet:
        done = subprocess.run(
            command, env=env, cwd=cwd, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            raise RuntimeError(
                f"`{' '.join(command)}` failed with status {done.returncode}:\n{output[-4000:]}"
            )
    else:
        subprocess.run(command, env=env, cwd=cwd, check=True, stdout=sys.stderr)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``: concurrent installers (two test runs, a test run
    and a terminal) take turns instead of building into each other's directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
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
