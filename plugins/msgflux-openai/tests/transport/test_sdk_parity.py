"""Same server answers, same data: the fast transport against the ``openai`` SDK.

``to_dict()`` of the transport's objects must equal the SDK's ``model_dump(exclude_none=True)``
for every reply shape the loopback server can produce, plain and streamed, so the pipeline
reads the same values whichever transport a model uses.
"""

from __future__ import annotations

import pytest

from msgflux.errors import ProviderError
from msgflux.testing.server import Audio, Reply, ToolCall, Usage

openai = pytest.importorskip("openai")

MESSAGES = [{"role": "user", "content": "hi"}]

REPLIES = {
    "text": Reply.text("Hello there world", usage=Usage(3, 3, reasoning_tokens=1)),
    "reasoning": Reply.text("42", reasoning="think", reasoning_field="reasoning"),
    "reasoning_content": Reply.text("42", reasoning="think"),
    "details": Reply.text("ok", reasoning_details=[{"type": "reasoning.text", "text": "t"}]),
    "tools": Reply.calls(
        ToolCall("a", {"x": 1}, id="call_a"),
        ToolCall("b", '{"y": [1, 2]}', id="call_b"),
        content="checking",
        interleave_tool_calls=True,
    ),
    "tools_every": Reply.calls(ToolCall("a", {"x": 1}, id="c1"), tool_call_ids="every"),
    "refusal": Reply.text(None, refusal="I cannot"),
    "annotations": Reply.text(
        "see", annotations=[{"type": "url_citation", "url_citation": {"url": "https://x.test"}}]
    ),
    "logprobs": Reply.text("a b", logprobs=True),
    "audio": Reply.text(None, audio=Audio("spoken", b"\x01\x02", id="au_1", expires_at=5)),
    "groq_usage": Reply.text("g", usage=Usage(1, 1), usage_location="x_groq"),
    "extra_fields": Reply.text("x", extra={"service_tier": "flex", "x_vendor": {"k": 1}}),
    "usage_extras": Reply.text(
        "u",
        usage={
            "prompt_tokens": 4,
            "completion_tokens": 1,
            "total_tokens": 5,
            "time_to_first_token": 0.12,
            "completion_tokens_per_sec": 88.5,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    ),
}

# Fields an SDK object keeps that the transport does not model (vendor extras it ignores).
_IGNORED = {"x_vendor"}


def _normalize(data):
    if isinstance(data, dict):
        return {k: _normalize(v) for k, v in data.items() if k not in _IGNORED}
    if isinstance(data, list):
        return [_normalize(v) for v in data]
    if isinstance(data, str) and data.startswith("req_loopback_"):
        return "req_loopback"  # the server numbers its requests; the two calls differ
    return data


@pytest.fixture
def sdk(server):
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    yield client
    client.close()


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_completion_parity(server, client, sdk, name):
    reply = REPLIES[name].replace(id="fixed", created=1)
    server.enqueue(reply, reply)
    ours = client.chat.completions.create(model="m", messages=MESSAGES).to_dict()
    theirs = sdk.chat.completions.create(model="m", messages=MESSAGES).model_dump(exclude_none=True)
    assert _normalize(ours) == _normalize(theirs)


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_stream_parity(server, client, sdk, name):
    reply = REPLIES[name].replace(id="fixed", created=1)
    server.enqueue(reply, reply)
    options = {"stream": True, "stream_options": {"include_usage": True}}
    ours = [
        c.to_dict() for c in client.chat.completions.create(model="m", messages=MESSAGES, **options)
    ]
    theirs = [
        c.model_dump(exclude_none=True)
        for c in sdk.chat.completions.create(model="m", messages=MESSAGES, **options)
    ]
    assert _normalize(ours) == _normalize(theirs)


def test_error_parity(server, client, sdk):
    reply = Reply.error(429, "slow down", headers={"retry-after": "2", "x-request-id": "r1"})
    server.enqueue(reply, reply)
    with pytest.raises(ProviderError) as ours:
        client.chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as theirs:
        sdk.chat.completions.create(model="m", messages=MESSAGES)
    assert ours.value.status == theirs.value.status_code
    assert ours.value.request_id == theirs.value.request_id
    assert ours.value.body == theirs.value.body or ours.value.body["error"] == theirs.value.body
