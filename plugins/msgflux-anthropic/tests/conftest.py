"""Fixtures: a started loopback Messages API server and models pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import msgflux as mf
from msgflux.testing.anthropic_server import MessagesServer

MODEL_ID = "claude-sonnet-4-20250514"
API_KEY = "sk-ant-loopback-key"
FAST_RETRY = {"initial_backoff": 0.001, "max_backoff": 0.005, "max_retry_after": 2.0}


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as started:
        yield started


@pytest.fixture
def make(server: MessagesServer) -> Iterator[Callable[..., Any]]:
    """``make(**options)``: an anthropic model on ``server`` (closed after the test)."""
    models: list[Any] = []

    def build(model_id: str = MODEL_ID, **options: Any) -> Any:
        options.setdefault("api_key", API_KEY)
        options.setdefault("retry", FAST_RETRY)
        model = mf.Model.chat_completion(
            f"anthropic/{model_id}", base_url=server.base_url, **options
        )
        models.append(model)
        return model

    yield build
    for model in models:
        model.close()
