"""In-process providers with ``@register_model`` keep working, in each of the three stages
of docs/plugins.md ("A custom in-process provider")."""

from __future__ import annotations

from os import getenv
from typing import Any

import pytest

import msgflux as mf
from msgflux.models.cache import ResponseCache
from msgflux.models.providers.openai import OpenAIChatCompletion
from msgflux.models.registry import register_model
from msgflux.plugins import unregister_plugin
from msgflux.testing.server import Reply
from msgflux.utils.tenacity import apply_retry, default_model_retry


@pytest.fixture
def provider_env(loopback_server, monkeypatch):
    monkeypatch.setenv("MYPROVIDER_BASE_URL", loopback_server.base_url)
    monkeypatch.setenv("MYPROVIDER_API_KEY", "my-key")
    yield
    unregister_plugin("register_model:myprovider")


class _BaseMyProvider:
    provider: str = "myprovider"

    def _get_base_url(self):
        return getenv("MYPROVIDER_BASE_URL", "https://api.myprovider.com/v1")

    def _get_api_key(self):
        key = getenv("MYPROVIDER_API_KEY")
        if not key:
            raise ValueError("Please set `MYPROVIDER_API_KEY`")
        return key


def test_stage_1_url_and_key_only(provider_env, loopback_server):
    @register_model
    class MyProviderChatCompletion(_BaseMyProvider, OpenAIChatCompletion):
        """MyProvider Chat Completion."""

    model = mf.Model.chat_completion("myprovider/my-model")
    assert isinstance(model, MyProviderChatCompletion)
    assert model("hi").consume() == "echo: hi"
    assert loopback_server.last_request.headers["authorization"] == "Bearer my-key"
    assert loopback_server.last_request.json["model"] == "my-model"
    assert "myprovider" in mf.list_providers()


def test_stage_2_adapt_params_override(provider_env, loopback_server):
    @register_model
    class MyProviderChatCompletion(_BaseMyProvider, OpenAIChatCompletion):
        def _adapt_params(self, params: dict[str, Any]) -> dict[str, Any]:
            params["max_completion_tokens"] = params.pop("max_tokens")
            if params["tool_choice"] is None:
                params["tool_choice"] = "auto" if params["tools"] else "none"
            reasoning_effort = params.pop("reasoning_effort", None)
            if reasoning_effort is not None:
                extra_body = params.get("extra_body", {})
                extra_body["reasoning"] = {"effort": reasoning_effort}
                params["extra_body"] = extra_body
            params["extra_headers"] = {"X-App-Name": "myapp"}
            return params

    model = mf.Model.chat_completion("myprovider/m", reasoning_effort="low", max_tokens=5)
    model("hi")
    request = loopback_server.last_request
    assert request.json["max_completion_tokens"] == 5
    assert request.json["tool_choice"] == "none"
    assert request.json["reasoning"] == {"effort": "low"}
    assert "tools" not in request.json and "reasoning_effort" not in request.json
    assert request.headers["x-app-name"] == "myapp"


def test_stage_3_a_different_client(provider_env, loopback_server):
    import openai

    created: list[str] = []

    class Tracked(openai.OpenAI):
        def __init__(self, **kwargs):
            created.append(kwargs["base_url"])
            super().__init__(**kwargs)

    @register_model
    class MyProviderChatCompletion(_BaseMyProvider, OpenAIChatCompletion):
        def _initialize(self):
            base_url = self._get_base_url()
            api_key = self._get_api_key()
            self.client = Tracked(base_url=base_url, api_key=api_key, max_retries=0)
            self.aclient = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0)
            cache_size = getattr(self, "cache_size", 128)
            enable_cache = getattr(self, "enable_cache", None)
            self._response_cache = ResponseCache(maxsize=cache_size) if enable_cache else None
            retry_config = getattr(self, "retry", None)
            self.acall = apply_retry(self.acall, retry_config, default=default_model_retry)

    model = mf.Model.chat_completion("myprovider/m", enable_cache=True)
    assert model("cached?").consume() == "echo: cached?"
    assert model("cached?").consume() == "echo: cached?"
    assert created == [loopback_server.base_url]
    assert model._response_cache.cache_info()["hits"] == 1
    assert len([r for r in loopback_server.requests if r.path.endswith("/chat/completions")]) == 1


def test_retry_is_not_applied_twice_by_a_legacy_initialize(provider_env, loopback_server):
    import asyncio

    @register_model
    class MyProviderChatCompletion(_BaseMyProvider, OpenAIChatCompletion):
        def _initialize(self):
            super()._initialize()
            self.acall = apply_retry(
                self.acall, getattr(self, "retry", None), default=default_model_retry
            )

    model = mf.Model.chat_completion(
        "myprovider/m", retry={"max_attempts": 2, "initial_backoff": 0.01}
    )
    loopback_server.enqueue(Reply.error(503), Reply.error(503), Reply.error(503))
    with pytest.raises(mf.ProviderError):
        asyncio.run(model.acall("q"))
    assert len(loopback_server.requests) == 2  # 2 attempts, not 2 x 2


def test_importing_the_plugin_before_msgflux_still_registers_it():
    import subprocess
    import sys

    code = (
        "import msgflux_openai.transport\n"  # imports msgflux while msgflux_openai is half-imported
        "import msgflux as mf\n"
        "assert 'openai' in mf.list_providers(), mf.list_providers()\n"
        "print(type(mf.Model.chat_completion('openai/m', api_key='k')).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OpenAIChatCompletion"
