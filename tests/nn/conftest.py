"""Fixtures of the nn.Agent tests: loopback-backed models standing in for the spec's models."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

import msgflux as mf
from msgflux.testing.pytest_plugin import require_provider
from msgflux.testing.server import LoopbackServer


@pytest.fixture
def server(loopback_server: LoopbackServer) -> Iterator[LoopbackServer]:
    """The loopback server; fails the test if a scripted reply could not be rendered."""
    require_provider("openai")  # the agents talk to it through the openai plugin
    yield loopback_server
    assert loopback_server.errors == []


@pytest.fixture
def model_for(server: LoopbackServer) -> Callable[..., mf.ChatCompletionModel]:
    """``model_for(**options)``: an OpenAI-provider model talking to the loopback server.

    It replaces the spec's ``groq/openai/gpt-oss-120b`` and ``openai/gpt-4.1-mini`` models;
    retries are off so that scripted failures reach the test at once.
    """

    def make(model_id: str = "gpt-oss-120b", **options) -> mf.ChatCompletionModel:
        return mf.Model.chat_completion(
            f"openai/{model_id}", base_url=server.base_url, api_key="k", retry=False, **options
        )

    return make


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every agent producer thread and tool thread has ended by the end of each test."""
    yield
    for thread in threading.enumerate():
        if thread.name.startswith(("msgflux-agent", "msgflux-stream")):
            thread.join(10)
            assert not thread.is_alive(), f"{thread.name} is still running"
