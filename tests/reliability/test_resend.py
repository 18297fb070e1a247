"""How many times a request reaches the server is the retry policy's choice, nobody else's.

The server reads each request in full and closes the connection without answering. The
transport never resends a written request, so the server sees exactly the attempts the
policy allows: one with ``retry=False``.
"""

from __future__ import annotations

from typing import Any

import pytest

from msgflux.errors import ProviderConnectionError
from msgflux.testing.server import Reply

KINDS = ["call", "acall", "stream", "astream"]


async def invoke(model: Any, kind: str) -> Any:
    if kind == "call":
        return model("hello")
    if kind == "acall":
        return await model.acall("hello")
    if kind == "stream":
        return model("hello", stream=True)
    return await model.acall("hello", stream=True)


@pytest.mark.parametrize("kind", KINDS)
async def test_retry_false_sends_exactly_one_request(make_model, loopback_server, support, kind):
    model = make_model(retry=False)
    loopback_server.enqueue(Reply.text("never sent", reset_before=True))
    with pytest.raises(ProviderConnectionError):
        await invoke(model, kind)
    assert support.chat_requests(loopback_server) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_the_policy_decides_how_many_attempts(make_model, loopback_server, support, kind):
    model = make_model(retry={**support.FAST_RETRY, "max_attempts": 3})
    loopback_server.enqueue(*[Reply.text("never sent", reset_before=True)] * 3)
    with pytest.raises(ProviderConnectionError):
        await invoke(model, kind)
    assert support.chat_requests(loopback_server) == 3


async def test_a_retry_after_a_dropped_request_succeeds(make_model, loopback_server, support):
    model = make_model(retry={**support.FAST_RETRY, "max_attempts": 2})
    loopback_server.enqueue(Reply.text("lost", reset_before=True), Reply.text("second"))
    assert (await model.acall("hello")).data == "second"
    assert support.chat_requests(loopback_server) == 2
