"""An API key never shows up in repr, serialize(), logs, printed output, errors or cache keys.

Every test exercises a path (success, stream, retries, provider errors that echo the key,
connection errors, verbose decoding) and then searches everything it produced for the key.
"""

from __future__ import annotations

import json
import logging
import socket
import traceback

import msgspec
import pytest

import msgflux as mf
from msgflux.errors import AuthenticationError, ProviderConnectionError, ProviderError
from msgflux.testing.server import Reply

KEY = "sk-reliability-secret-0d9c8b7a6f5e4d3c"


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def everything_about(error: BaseException) -> str:
    """The error's text, repr, traceback (chained exceptions included) and fields."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(repr(current.args))
        for name, value in vars(current).items():
            if name not in ("request", "response"):  # live HTTP objects of the SDK
                parts.append(f"{name}={value!r}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


@pytest.fixture
def model(loopback_server, transport, support):
    model = mf.Model.chat_completion(
        "openai/m",
        base_url=loopback_server.base_url,
        api_key=KEY,
        transport=transport,
        retry=support.FAST_RETRY,
        enable_cache=True,
        verbose=True,
    )
    yield model
    model.close()


def test_the_key_is_sent_but_never_shown(model, loopback_server):
    model("hello")
    assert loopback_server.last_request.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(model) and KEY not in str(model)
    assert KEY not in repr(vars(model))
    assert KEY not in json.dumps(model.serialize())


def test_credential_headers_are_not_serialized(loopback_server, transport):
    model = mf.Model.chat_completion(
        "openai/m",
        base_url=loopback_server.base_url,
        api_key=KEY,
        transport=transport,
        extra_headers={"X-Api-Key": KEY, "Authorization": f"Bearer {KEY}", "X-Title": "app"},
    )
    state = json.dumps(model.serialize())
    assert KEY not in state and "X-Title" in state
    rebuilt = mf.Model.from_serialized(json.loads(state), api_key="another-key-123456")
    assert "X-Api-Key" not in rebuilt.extra_headers and "another-key" not in repr(rebuilt)
    model.close()
    rebuilt.close()


def test_logs_at_debug_and_verbose_output(model, loopback_server, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # every logger: msgflux's, the SDK's, the HTTP library's
    model("hello")
    model("hello")  # a cache hit
    "".join(model("hello", stream=True))
    loopback_server.enqueue(Reply.error(503, "busy"), Reply.error(429, "slow down"))
    model("retried")
    schema = msgspec.defstruct("Answer", [("value", int)])
    loopback_server.enqueue(Reply.text('{"value": 3}'))
    assert model("structured", generation_schema=schema).data == {"value": 3}
    printed = capsys.readouterr()
    assert "[raw_response]" in printed.out  # verbose=True did print
    assert len([r for r in caplog.records if r.name == "msgflux.retry"]) == 2
    assert KEY not in everything_logged(caplog)
    assert KEY not in printed.out + printed.err


def test_an_error_that_echoes_the_key_is_scrubbed(model, loopback_server, caplog):
    caplog.set_level(logging.DEBUG)
    loopback_server.enqueue(
        Reply.error(
            401,
            f"Incorrect API key provided: {KEY}. You can find your API key at ...",
            headers={"x-request-id": "req_401"},
        )
    )
    with pytest.raises(AuthenticationError) as caught:
        model("hello")
    assert caught.value.status == 401 and caught.value.request_id == "req_401"
    assert "Incorrect API key provided" in str(caught.value)
    assert KEY not in everything_about(caught.value)
    assert KEY not in everything_logged(caplog)


async def test_retried_errors_that_echo_the_key_are_scrubbed_before_logging(
    model, loopback_server, caplog
):
    caplog.set_level(logging.DEBUG)
    loopback_server.set_handler(lambda request: Reply.error(503, f"upstream rejected {KEY}"))
    with pytest.raises(ProviderError) as caught:
        await model.acall("hello")
    assert len([r for r in caplog.records if r.name == "msgflux.retry"]) == 2
    assert KEY not in everything_about(caught.value)
    assert KEY not in everything_logged(caplog)


def test_connection_errors(transport, caplog):
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = mf.Model.chat_completion(
        "openai/m",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=KEY,
        transport=transport,
        retry={"max_attempts": 2, "initial_backoff": 0.001},
    )
    with pytest.raises(ProviderConnectionError) as caught:
        model("hello", stream=True)
    assert KEY not in everything_about(caught.value)
    assert KEY not in everything_logged(caplog)
    model.close()


def test_cache_keys_do_not_depend_on_the_key(loopback_server, transport):
    keys = []
    for api_key in (KEY, KEY[::-1]):
        model = mf.Model.chat_completion(
            "openai/m",
            base_url=loopback_server.base_url,
            api_key=api_key,
            transport=transport,
            enable_cache=True,
            extra_headers={"Authorization": f"Bearer {api_key}"},
        )
        model("hello")
        keys.append(model._response_cache.backend.keys())
        model.close()
    assert keys[0] == keys[1] and len(keys[0]) == 1
    assert KEY not in keys[0][0]
