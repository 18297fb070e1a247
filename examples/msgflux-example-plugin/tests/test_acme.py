"""What Acme does differently from OpenAI, asserted on the wire (loopback server)."""

from __future__ import annotations

import pytest

import msgflux as mf
from msgflux.testing.server import Reply


def make(server, **options):
    return mf.Model.chat_completion(
        "acme/acme-large-1", base_url=server.base_url, api_key="acme-key", **options
    )


def test_max_tokens_keeps_its_name(loopback_server):
    make(loopback_server)("q", max_tokens=50)

    body = loopback_server.last_request.json
    assert body["max_tokens"] == 50
    assert "max_completion_tokens" not in body


def test_thinking_switch_and_budget_go_into_the_thinking_field(loopback_server):
    model = make(loopback_server)

    model("q", enable_thinking=True)
    switched_on = loopback_server.last_request.json
    model("q", reasoning_max_tokens=512)
    with_budget = loopback_server.last_request.json
    model("q")
    plain = loopback_server.last_request.json

    assert switched_on["thinking"] == {"type": "enabled"}
    assert with_budget["thinking"] == {"type": "enabled", "budget_tokens": 512}
    assert "thinking" not in plain
    for body in (switched_on, with_budget, plain):
        assert "enable_thinking" not in body and "reasoning_max_tokens" not in body


def test_safety_mode_is_sent_when_set_and_checked_when_the_model_is_made(loopback_server):
    make(loopback_server, safety_mode="strict")("q", extra_body={"user_tag": "t1"})

    body = loopback_server.last_request.json
    assert body["safety_mode"] == "strict"
    assert body["user_tag"] == "t1"
    with pytest.raises(ValueError, match="safety_mode must be one of off, standard, strict"):
        make(loopback_server, safety_mode="paranoid")


def test_reasoning_comes_from_the_thoughts_field(loopback_server):
    model = make(loopback_server)
    loopback_server.enqueue(
        Reply.text("108", reasoning="15 * 7 = 105, plus 3", reasoning_field="thoughts"),
        Reply.text("108", reasoning="15 * 7 = 105, plus 3", reasoning_field="thoughts"),
    )

    whole = model("What is 15 * 7 + 3?")
    stream = model("What is 15 * 7 + 3?", stream=True)

    assert (whole.consume(), whole.reasoning) == ("108", "15 * 7 = 105, plus 3")
    assert "".join(stream.iter_reasoning()) == "15 * 7 = 105, plus 3"
    assert stream.result() == "108"


def test_reads_acme_api_key_and_never_the_openai_one(loopback_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-leak")
    monkeypatch.delenv("ACME_API_KEY", raising=False)
    with pytest.raises(mf.MissingAPIKeyError, match="ACME_API_KEY"):
        mf.Model.chat_completion("acme/acme-large-1", base_url=loopback_server.base_url)

    monkeypatch.setenv("ACME_API_KEY", "acme-env-key")
    mf.Model.chat_completion("acme/acme-large-1", base_url=loopback_server.base_url)("q")

    assert loopback_server.last_request.headers["authorization"] == "Bearer acme-env-key"


def test_acme_is_listed_with_its_distribution():
    (info,) = [p for p in mf.list_plugins() if "acme" in p.providers]

    assert info.distribution == "msgflux-acme"
    assert info.error is None
    assert set(info.hooks) == {"adapt_params", "extract_reasoning"}


def test_reasoning_from_thoughts_on_the_fast_transport(loopback_server):
    loopback_server.enqueue(Reply.text("108", reasoning="15 * 7 = 105", reasoning_field="thoughts"))

    response = make(loopback_server, transport="fast")("What is 15 * 7 + 3?")

    assert response.reasoning == "15 * 7 = 105"
