"""pytest fixtures for msgflux tests (enable with ``-p msgflux.testing.pytest_plugin``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# Plugin authors subclass the conformance suite: show its failed asserts with full diffs.
pytest.register_assert_rewrite("msgflux.testing.conformance")


@pytest.fixture
def loopback_server() -> Iterator[object]:
    """A started ``LoopbackServer``; stopped (connections closed, thread joined) afterwards."""
    from msgflux.testing.server import LoopbackServer

    with LoopbackServer() as server:
        yield server
