"""A gateway's response cache (``ModelGateway(cache=...)``): answered once, whoever answered."""

from __future__ import annotations

import asyncio

import pytest

import msgflux as mf
from msgflux.testing.server import LoopbackServer, Reply

pytestmark = pytest.mark.requires_provider("openai")


@pytest.fixture
def servers():
    with LoopbackServer() as first, LoopbackServer() as second:
        yield first, second


def _gateway(servers, **options):
    first, second = servers
    models = [
        {
            "name": "a",
            "group": "g",
            "model": mf.Model.chat_completion("openai/m", base_url=first.base_url, api_key="k"),
        },
        {
            "name": "b",
            "group": "g",
            "model": mf.Model.chat_completion("openai/m", base_url=second.base_url, api_key="k"),
        },
    ]
    return mf.ModelGateway(models, **options)


def _chat_requests(*servers):
    return sum(
        len([r for r in s.requests if r.path.endswith("/chat/completions")]) for s in servers
    )


def test_a_repeated_call_is_answered_from_the_cache_with_its_gateway_metadata(servers):
    gateway = _gateway(servers, cache="memory")
    servers[0].enqueue(Reply.error(503, "down"), Reply.text("from the cache"))
    servers[1].enqueue(Reply.text("answered by b"))

    first = gateway("hi", temperature=0)
    again = gateway("hi", temperature=0)

    assert first.consume() == again.consume() == "answered by b"
    assert again.metadata.gateway["deployment"] == "b"
    assert _chat_requests(*servers) == 2  # a failed, b answered; the repeat sent nothing
    gateway("hi", temperature=1)  # another request is another entry
    assert _chat_requests(*servers) == 3


async def test_identical_concurrent_calls_send_one_request(servers):
    gateway = _gateway(servers, cache="memory")

    answers = await asyncio.gather(*(gateway.acall("same") for _ in range(20)))

    assert {a.consume() for a in answers} == {"echo: same"}
    assert _chat_requests(*servers) == 1


def test_a_stream_is_recorded_when_it_ends_and_replayed_after(servers):
    gateway = _gateway(servers, cache="memory")
    servers[0].enqueue(Reply.text("one two", chunks=["one", " two"], reasoning="r"))

    assert "".join(gateway("q", stream=True)) == "one two"
    replayed = gateway("q", stream=True)
    assert "".join(replayed) == "one two" and replayed.reasoning == "r"
    assert _chat_requests(*servers) == 1


def test_a_stream_closed_early_is_not_recorded(servers):
    gateway = _gateway(servers, cache="memory")
    # The server holds the rest of the stream back: the consumer leaves before it ends.
    servers[0].enqueue(Reply.text("abcdef", chunks=list("abcdef"), stall_after=2))
    stream = gateway("q", stream=True)
    next(iter(stream))
    stream.close()

    assert "".join(gateway("q", stream=True)) == "echo: q"
    assert _chat_requests(*servers) == 2


def test_the_cache_spelling_survives_serialize_and_a_bad_ttl_is_refused(servers):
    gateway = _gateway(servers, cache="memory", cache_ttl=60)
    state = gateway.serialize()["state"]
    assert (state["cache"], state["cache_ttl"]) == ("memory", 60)
    keys = {"a": {"api_key": "k"}, "b": {"api_key": "k"}}
    rebuilt = mf.ModelGateway.from_serialized(gateway.serialize(), model_overrides=keys)
    assert rebuilt.serialize()["state"]["cache"] == "memory"

    with pytest.raises(ValueError, match="cache_ttl"):
        _gateway(servers, cache="memory", cache_ttl=0)
    with pytest.raises(ValueError, match="cache_ttl` needs a cache"):
        _gateway(servers, cache_ttl=5)
