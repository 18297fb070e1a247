"""A third-party plugin, written against the public plugin API only, next to the built-ins.

``Acme`` is what someone would publish as ``msgflux-acme``: a Groq-compatible reseller
(``extends="groq"``) with its own key and URL, one extra body field, and hooks that record
what they see. ``GroqReplacement`` deliberately replaces the built-in ``groq`` provider
(``override=True``). The tests prove scoped dispatch (a plugin's hooks run only for models
of its provider and the providers extending it) and ordering (base first: ``openai``, then
``groq``, then ``acme``, each seeing what the previous one produced).

Needs msgflux-openai and msgflux-groq installed (the workspace dev environment).
"""

from __future__ import annotations

from typing import Any

import pytest

import msgflux as mf
from msgflux import ProviderSpec, hookimpl
from msgflux.errors import UnsupportedParameterError
from msgflux.plugins import registered_plugin
from msgflux.testing.server import Reply, Usage

pytest.importorskip("msgflux_groq", reason="the thirdparty tests extend the groq plugin")


class Acme:
    """The plugin object: hooks are methods, so each test gets a fresh recorder."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []  # (hook, model provider, observation)

    @hookimpl
    def register_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                name="acme",
                extends="groq",
                api_key_env=("ACME_API_KEY",),
                base_url_env="ACME_BASE_URL",
                default_base_url="https://api.acme.example/openai/v1",
                options={"region": "eu"},
                description="Acme: Groq-compatible inference in the EU",
            )
        ]

    @hookimpl
    def adapt_params(self, model, params):
        self.seen.append(("adapt_params", model.provider, _snapshot(params)))
        extra_body = dict(params.get("extra_body") or {})
        extra_body["acme_region"] = model.options["region"]
        params["extra_body"] = extra_body
        return params

    @hookimpl
    def extract_reasoning(self, model, reasoning):
        self.seen.append(("extract_reasoning", model.provider, reasoning))
        return reasoning.upper() if reasoning else None

    @hookimpl
    def process_output(self, model, output, response):
        usage = getattr(response, "pending_metadata", {}).get("usage")
        self.seen.append(("process_output", model.provider, usage))


class GroqReplacement:
    """Replaces the built-in groq provider on purpose (``override=True``)."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def register_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                name="groq",
                extends="openai",
                api_key_env=("GROQ_API_KEY",),
                default_base_url="https://groq.internal.example/v1",
                override=True,
                description="in-house Groq gateway",
            )
        ]

    @hookimpl
    def adapt_params(self, params):
        self.calls += 1
        params["extra_body"] = {**(params.get("extra_body") or {}), "gateway": "in-house"}
        return params


def _snapshot(params: dict[str, Any]) -> dict[str, Any]:
    keys = ("max_completion_tokens", "max_tokens", "reasoning_effort", "extra_body")
    return {key: params[key] for key in keys if key in params}


@pytest.fixture
def acme():
    plugin = Acme()
    with registered_plugin(plugin, "acme-test-plugin"):
        yield plugin


def acme_model(server, model_id="qwen/qwen3-32b", **options):
    return mf.Model.chat_completion(
        f"acme/{model_id}", base_url=server.base_url, api_key="acme-key", **options
    )


def test_a_derived_provider_gets_its_bases_behaviour_and_adds_its_own(acme, loopback_server):
    acme_model(loopback_server, max_tokens=32)("Hello")
    # openai renamed max_tokens, groq mapped qwen3's reasoning switch and format, acme
    # added its field: all three ran, in that order, on the same request.
    assert loopback_server.last_request.json == {
        "model": "qwen/qwen3-32b",
        "messages": [{"role": "user", "content": "Hello"}],
        "max_completion_tokens": 32,
        "reasoning_effort": "none",
        "reasoning_format": "parsed",
        "acme_region": "eu",
    }
    assert loopback_server.last_request.headers["authorization"] == "Bearer acme-key"


def test_the_derived_hook_sees_what_the_bases_produced(acme, loopback_server):
    acme_model(loopback_server, max_tokens=32)("Hello")
    [(hook, provider, params)] = [s for s in acme.seen if s[0] == "adapt_params"]
    assert (hook, provider) == ("adapt_params", "acme")
    assert params == {
        "max_completion_tokens": 32,
        "reasoning_effort": "none",
        "extra_body": {"reasoning_format": "parsed"},
    }


def test_groqs_refusals_apply_to_the_derived_provider(acme, loopback_server):
    with pytest.raises(UnsupportedParameterError, match="'acme'.*presence_penalty.*Groq documents"):
        acme_model(loopback_server)("Hello", presence_penalty=0.5)
    assert loopback_server.requests == []


def test_reasoning_and_stream_output_reach_the_derived_hooks_after_groqs(acme, loopback_server):
    loopback_server.enqueue(
        Reply.text(
            "4",
            reasoning="two plus two",
            reasoning_field="reasoning",
            usage=Usage(3, 4),
            usage_location="x_groq",
        )
    )
    response = acme_model(loopback_server, enable_thinking=True)("2+2?", stream=True)
    assert "".join(response) == "4"
    # acme's extract_reasoning received openai's extraction and replaced it.
    assert response.reasoning == "TWO PLUS TWO"
    received = [obs for hook, _, obs in acme.seen if hook == "extract_reasoning" and obs]
    assert "".join(received) == "two plus two"
    # On the chunk carrying x_groq, groq's process_output had already filled the usage
    # when acme's ran.
    usages = [obs for hook, _, obs in acme.seen if hook == "process_output"]
    assert usages[-1] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert usages[0] is None


def test_a_plugins_hooks_never_run_for_other_providers_models(acme, loopback_server):
    for path in ("openai/gpt-oss-120b", "groq/openai/gpt-oss-120b"):
        model = mf.Model.chat_completion(path, base_url=loopback_server.base_url, api_key="k")
        model("Hello", stream=True).wait()
        model("Hello")
    assert acme.seen == []
    assert "acme_region" not in loopback_server.last_request.json


def test_groqs_hooks_never_run_for_openai_models(loopback_server):
    model = mf.Model.chat_completion(
        "openai/gpt-oss-120b", base_url=loopback_server.base_url, api_key="k"
    )
    # Both would be refused by groq's adapt_params; openai sends them.
    model("Hello", presence_penalty=0.5, reasoning_effort="minimal")
    body = loopback_server.last_request.json
    assert (body["presence_penalty"], body["reasoning_effort"]) == (0.5, "minimal")


def test_the_derived_provider_reads_only_its_own_key(acme, monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk-must-not-leak")
    monkeypatch.delenv("ACME_API_KEY", raising=False)
    with pytest.raises(mf.MissingAPIKeyError, match="ACME_API_KEY"):
        mf.Model.chat_completion("acme/qwen/qwen3-32b")


def test_the_derived_provider_accepts_its_bases_options(acme, loopback_server):
    acme_model(loopback_server, "openai/gpt-oss-20b", include_reasoning=False, region="us")("Hi")
    body = loopback_server.last_request.json
    assert (body["include_reasoning"], body["acme_region"]) == (False, "us")


def test_unregistering_removes_the_provider(loopback_server):
    with registered_plugin(Acme(), "acme-test-plugin"):
        assert "acme" in mf.list_providers()
    assert "acme" not in mf.list_providers()
    with pytest.raises(mf.ProviderNotFoundError, match="acme"):
        mf.Model.chat_completion("acme/qwen/qwen3-32b", api_key="k")


def test_an_explicit_override_replaces_the_builtin_groq_and_only_it(loopback_server):
    replacement = GroqReplacement()
    with registered_plugin(replacement, "groq-replacement"):
        model = mf.Model.chat_completion(
            "groq/openai/gpt-oss-120b", base_url=loopback_server.base_url, api_key="k"
        )
        # The built-in groq plugin would refuse this; the replacement is in charge now.
        model("Hello", presence_penalty=0.5)
        assert loopback_server.last_request.json["gateway"] == "in-house"
        assert loopback_server.last_request.json["presence_penalty"] == 0.5
        openai_model = mf.Model.chat_completion(
            "openai/m", base_url=loopback_server.base_url, api_key="k"
        )
        openai_model("Hello")
        assert "gateway" not in loopback_server.last_request.json
        assert replacement.calls == 1
    builtin = mf.Model.chat_completion(
        "groq/openai/gpt-oss-120b", base_url=loopback_server.base_url, api_key="k"
    )
    with pytest.raises(UnsupportedParameterError, match="presence_penalty"):
        builtin("Hello", presence_penalty=0.5)
