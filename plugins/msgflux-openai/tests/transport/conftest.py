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


def client_local_ports(port: int) -> list[int]:
    """Local ports of this process's open TCP sockets whose remote end is ``port``.

    The loopback server runs in this process too; its sockets have ``port`` as their local
    port, so they are not counted.
    """
    inodes = _socket_inodes()
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                    # States: 01 established, 08 close-wait (peer closed, we did not).
                    if remote_port == port and fields[9] in inodes and fields[3] in ("01", "08"):
                        found.append(int(fields[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            continue
    return found


def client_sockets(port: int) -> int:
    """How many client connections to ``port`` this process holds open."""
    return len(client_local_ports(port))


@pytest.fixture
def sockets(server: Any) -> Any:
    """``sockets()``: how many client connections to ``server`` this process holds open."""
    if not sys.platform.startswith("linux"):
        pytest.skip("counts sockets through /proc (Linux only)")
    return lambda: client_sockets(server.port)


@pytest.fixture
def local_ports(server: Any) -> Any:
    """``local_ports()``: local ports of this process's client connections to ``server``."""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads sockets through /proc (Linux only)")
    return lambda: client_local_ports(server.port)
