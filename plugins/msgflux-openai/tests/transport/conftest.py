"""Fixtures for the fast transport's tests: the loopback server, clients, socket counting."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from msgflux_openai.transport import create_clients


@pytest.fixture
def server(loopback_server: Any) -> Any:
    return loopback_server


@pytest.fixture
def clients(server: Any) -> Iterator[Any]:
    pair = create_clients(base_url=server.base_url, api_key="sk-test", timeout=5.0)
    yield pair
    pair.close()


@pytest.fixture
def client(clients: Any) -> Any:
    return clients.client


@pytest.fixture
def aclient(clients: Any) -> Any:
    return clients.aclient


def _socket_inodes() -> set[str]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def client_sockets(port: int) -> int:
    """Open TCP sockets of this process whose remote end is ``port`` (the client side).

    The loopback server runs in this process too; its sockets have ``port`` as their local
    port, so they are not counted.
    """
    inodes = _socket_inodes()
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    # States: 01 established, 08 close-wait (peer closed, we did not).
                    if remote_port == port and fields[9] in inodes and fields[3] in ("01", "08"):
                        count += 1
        except FileNotFoundError:
            continue
    return count


@pytest.fixture
def sockets(server: Any) -> Any:
    """``sockets()``: how many client connections to ``server`` this process holds open."""
    if not sys.platform.startswith("linux"):
        pytest.skip("counts sockets through /proc (Linux only)")
    return lambda: client_sockets(server.port)
