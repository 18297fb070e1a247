"""The error hierarchy: what each error is, what it carries, and that it survives pickling."""

from __future__ import annotations

import pickle

import pytest

import msgflux as mf
from msgflux import errors
from msgflux.errors import (
    AuthenticationError,
    BadRequestError,
    MsgfluxError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ResponseDecodeError,
    StructuredOutputError,
)
from msgflux.testing.server import Reply
from msgflux.tools import ToolArgumentsError, UnknownToolCallError


def test_the_documented_hierarchy():
    documented = {
        "ProviderNotFoundError": (MsgfluxError, ValueError),
        "PluginMissingError": (MsgfluxError, ImportError),
        "PluginLoadError": (MsgfluxError, ImportError),
        "PluginConflictError": (MsgfluxError,),
        "MissingAPIKeyError": (MsgfluxError, ValueError),
        "UnsupportedParameterError": (MsgfluxError, ValueError),
        "ResponseDecodeError": (MsgfluxError, ValueError),
        "StructuredOutputError": (ResponseDecodeError,),
        "ProviderError": (MsgfluxError,),
        "AuthenticationError": (ProviderError,),
        "BadRequestError": (ProviderError, ValueError),
        "RateLimitError": (ProviderError,),
        "RequestTimeoutError": (ProviderError, TimeoutError),
        "ProviderConnectionError": (ProviderError, ConnectionError),
    }
    for name, bases in documented.items():
        cls = getattr(errors, name)
        assert name in errors.__doc__, name
        assert getattr(mf, name, cls) is cls  # re-exported under the same name, if at all
        for base in bases:
            assert issubclass(cls, base), (name, base)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, BadRequestError),
        (413, BadRequestError),
        (422, BadRequestError),
        (429, RateLimitError),
        (500, ProviderError),
        (503, ProviderError),
    ],
)
async def test_provider_errors_carry_what_the_provider_said(
    make_model, loopback_server, transport, status, error_type
):
    model = make_model(retry=False)
    loopback_server.enqueue(
        Reply.error(
            status,
            f"the provider's own words ({status})",
            headers={"x-request-id": "req_reliability", "Retry-After": "7"},
        )
    )
    with pytest.raises(error_type) as caught:
        await model.acall("hello")
    error = caught.value
    assert type(error) is error_type
    assert error.provider == "openai"
    assert error.status == status
    assert error.request_id == "req_reliability"
    assert error.message == f"the provider's own words ({status})"
    assert error.body  # the decoded error body (its exact shape varies with the transport)
    assert error.retry_after == 7.0  # on every status that sends Retry-After, not only 429
    assert f"HTTP {status}" in str(error) and "req_reliability" in str(error)
    if transport == "sdk":  # the SDK's own exception is kept; the fast transport has none
        assert error.__cause__ is not None


def test_connection_errors_chain_the_socket_error(transport, support):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = mf.Model.chat_completion(
        "openai/m",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key="k",
        transport=transport,
        retry=False,
    )
    with pytest.raises(ProviderConnectionError) as caught:
        model("hello")
    assert caught.value.provider == "openai" and caught.value.status is None
    assert caught.value.__cause__ is not None
    model.close()


def _round_trip(error: BaseException) -> BaseException:
    return pickle.loads(pickle.dumps(error))


@pytest.mark.parametrize(
    "error",
    [
        ProviderError(
            "boom",
            provider="groq",
            status=503,
            request_id="req_1",
            body={"error": {"message": "boom"}},
            headers={"x-request-id": "req_1"},
        ),
        AuthenticationError("bad key", provider="openai", status=401),
        BadRequestError("no", provider="openai", status=400, body={"error": {"param": "x"}}),
        RateLimitError("slow", provider="openai", status=429, retry_after=2.5),
        RateLimitError("slow", provider="openai", status=429, headers={"retry-after": "4"}),
        RequestTimeoutError("late", provider="vllm"),
        ProviderConnectionError("refused", provider="openrouter"),
        ResponseDecodeError("bad", raw_text="{tru", provider="openai", status=200),
        StructuredOutputError("bad", raw_text='{"a": 1'),
        ToolArgumentsError("bad args", call_id="c1", name="f", raw_text="{"),
        UnknownToolCallError("c9", ["c1", "c2"]),
        errors.MissingAPIKeyError("set OPENAI_API_KEY"),
        errors.PluginMissingError("pip install msgflux[groq]"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_pickle_with_every_field(error):
    copy = _round_trip(error)
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
    if isinstance(error, RateLimitError):
        assert copy.retry_after == error.retry_after is not None


async def test_an_error_from_the_wire_pickles(make_model, loopback_server):
    model = make_model(retry=False)
    loopback_server.enqueue(Reply.error(429, "slow down", headers={"Retry-After": "3"}))
    with pytest.raises(RateLimitError) as caught:
        await model.acall("hello")
    copy = _round_trip(caught.value)
    assert (copy.status, copy.retry_after, copy.message) == (429, 3.0, "slow down")
    assert copy.request_id == caught.value.request_id is not None
