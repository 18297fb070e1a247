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


def require_provider(*names: str) -> None:
    """Skip the running test unless these providers' plugins are installed.

    For tests that must also run where a plugin is absent (the core-only environment):
    they ask the plugin registry rather than naming environments.
    """
    from msgflux.plugins import list_providers

    missing = sorted(set(names) - set(list_providers()))
    if missing:
        pytest.skip(f"needs the plugin of provider(s) {', '.join(missing)}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires_provider(*names): skip unless these providers' plugins are installed",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires_provider"):
        require_provider(*mark.args)
