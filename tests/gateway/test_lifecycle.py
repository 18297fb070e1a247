"""What surrounds the calls: logs (one line per failover and per circuit change, no key),
closing, cancellation, and the errors pickling with everything they carry."""

from __future__ import annotations

import asyncio
import logging
import pickle

import pytest

import msgflux as mf
from msgflux.errors import GatewayAttempt, ModelRouterError, ProviderError, StreamInterruptedError
from msgflux.testing.server import Reply


def test_logs_name_the_failover_and_the_circuit_never_the_key(servers, deploy, api_key, caplog):
    a, b = servers(2)
    # A server that quotes the request's Authorization header in its error message.
    a.set_handler(lambda request: Reply.error(503, f"rejected {request.headers['authorization']}"))
    gateway = mf.ModelGateway(
        [{"name": "a", "model": deploy(a)}, {"name": "b", "model": deploy(b)}],
        failure_threshold=2,
        cooldown=0,
    )
    with caplog.at_level(logging.INFO, logger="msgflux.gateway"):
        gateway("hello")
        gateway("hello")
        a.set_handler(None)
        gateway("hello")  # cooldown 0: the probe goes to a, which answers
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "msgflux.gateway"]
    assert [level for level, _ in lines] == ["INFO", "WARNING", "INFO", "INFO"]
    assert "deployment 'a' failed (ProviderError" in lines[0][1] and "failing over" in lines[0][1]
    assert "deployment 'a' circuit opened for 0.00 s: 2 failures in a row" in lines[1][1]
    assert "deployment 'a' is healthy again: circuit closed" in lines[3][1]
    assert all(api_key not in message for _, message in lines)
    assert "rejected Bearer ***" in lines[0][1]


class Closable:
    model_type = "chat_completion"
    provider = "stand-in"
    model_id = "m"

    def __init__(self) -> None:
        self.closed = self.aclosed = 0

    def __call__(self, messages, **options): ...

    async def acall(self, messages, **options): ...

    def close(self) -> None:
        self.closed += 1

    async def aclose(self) -> None:
        self.aclosed += 1


def test_close_and_aclose_close_every_model_once():
    shared, other = Closable(), Closable()
    deployments = [
        {"name": "a", "model": shared},
        {"name": "b", "model": shared},  # one model behind two names: closed once
        {"name": "c", "model": other},
    ]
    with mf.ModelGateway(deployments):
        pass
    assert (shared.closed, other.closed) == (1, 1)

    async def run() -> None:
        async with mf.ModelGateway(deployments):
            pass

    asyncio.run(run())
    assert (shared.aclosed, other.aclosed) == (1, 1)


async def test_a_cancelled_call_leaves_nothing_in_flight(servers, deploy, count):
    a, b = servers(2)
    a.enqueue(Reply.text("late", delay=60))
    gateway = mf.ModelGateway(
        [{"name": "a", "model": deploy(a)}, {"name": "b", "model": deploy(b)}]
    )
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(gateway.acall("hello"), 0.3)
    health = gateway.stats()["deployments"]["a"]
    assert health["in_flight"] == 0 and health["failures"] == 0
    assert (await gateway.acall("hello")).metadata.gateway.deployment == "a"
    assert (count(a), count(b)) == (2, 0)
    await gateway.aclose()


def test_the_errors_pickle_with_what_they_carry():
    cause = ProviderError("down", status=503, provider="openai")
    error = ModelRouterError(
        "no deployment answered",
        attempts=[GatewayAttempt("a", "openai/m", cause)],
        unavailable={"b": "circuit open for 3.00 s more"},
    )
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == "no deployment answered"
    assert again.attempts[0].deployment == "a" and again.attempts[0].error.status == 503
    assert again.unavailable == {"b": "circuit open for 3.00 s more"}
    assert again.model_info == [("a", "openai", again.attempts[0].error)]

    interrupted = StreamInterruptedError(
        "broke after 2 chunks", deployment="a", model="openai/m", chunks=2, characters=7
    )
    again = pickle.loads(pickle.dumps(interrupted))
    assert (again.deployment, again.chunks, again.characters) == ("a", 2, 7)
    assert str(again) == "broke after 2 chunks"
    assert isinstance(again, mf.ProviderError)


def test_import_msgflux_does_not_load_the_gateway():
    import subprocess
    import sys

    code = (
        "import sys, msgflux as mf; before = 'msgflux.gateway' in sys.modules; "
        "mf.ModelGateway; print(before, 'msgflux.gateway' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
