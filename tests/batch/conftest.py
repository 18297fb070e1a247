"""Batch tests: models on the loopback server (``openai`` plugin) or the offline ``fake``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import msgflux as mf
from msgflux.testing.server import LoopbackServer

API_KEY = "sk-batch-tests-4f3e2d1c0b"
#: The model's own retries wait milliseconds, so error tests stay quick.
FAST_RETRY = {"initial_backoff": 0.001, "max_backoff": 0.005}


@pytest.fixture
def make_model(loopback_server: LoopbackServer) -> Iterator[Callable[..., Any]]:
    """``make_model(**options)``: an ``openai/m`` model on the loopback server."""
    pytest.importorskip("msgflux_openai")
    models: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("retry", FAST_RETRY)
        model = mf.Model.chat_completion(
            "openai/m", base_url=loopback_server.base_url, api_key=API_KEY, **options
        )
        models.append(model)
        return model

    yield make
    for model in models:
        model.close()


def chat_requests(server: LoopbackServer) -> list[Any]:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]
