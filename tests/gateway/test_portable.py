"""Gateways pickle and copy: the configuration travels (each model through its own pickle
support, so no key), the routing state and test clocks never do. Worker processes are in
tests/processes/test_gateway_workers.py."""

from __future__ import annotations

import copy
import datetime
import os
import pickle
import threading
import time

import pytest

import msgflux as mf
from msgflux.errors import BadRequestError
from msgflux.testing.server import Reply

WORKER_KEY = "sk-gateway-worker-env-7e6d5c4b3a"
GUARD = 60  # seconds: a guard against a hung thread or child, not a performance bound


def _window_around_now() -> tuple[str, str]:
    """A UTC window of two hours around the real time (it may span midnight)."""
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(hours=1)
    return start.strftime("%H:%M"), end.strftime("%H:%M")


def _twelve_hours_away() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=12)


@pytest.fixture
def configured(servers, deploy):
    """A gateway with every setting away from its default, and lambdas as test clocks."""
    a, b, c = servers(3)
    gateway = mf.ModelGateway(
        [
            {"name": "a", "group": "small", "model": deploy(a, temperature=0.25), "weight": 2},
            {
                "name": "b",
                "group": "small",
                "model": deploy(b),
                "timeout": 7,
                # Off around the real time: the test clock (12 hours away) keeps it in use.
                "time_constraints": [_window_around_now()],
                "description": "off around now",
            },
            {"name": "c", "group": "large", "model": deploy(c)},
        ],
        strategy="least_busy",
        fallbacks={"small": ["large"]},
        context_length_fallbacks={"small": ["large"]},
        failover_on=["unavailable", "rate_limited", "auth"],
        failure_threshold=1,
        cooldown=120,
        timeout=30,
        max_attempts=3,
        cache="memory",
        cache_ttl=300,
        clock=lambda: 1000.0,  # a local lambda does not pickle: it must not travel
        utc_clock=_twelve_hours_away,
    )
    return {"a": a, "b": b, "c": c}, gateway


def _use_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", WORKER_KEY)


# -- pickles -------------------------------------------------------------------------------------


def test_the_configuration_travels_and_the_key_does_not(configured, api_key, monkeypatch):
    at, original = configured

    data = pickle.dumps(original)

    assert api_key.encode() not in data
    _use_env_key(monkeypatch)
    rebuilt = pickle.loads(data)
    assert type(rebuilt) is mf.ModelGateway
    assert rebuilt.serialize() == original.serialize()  # every setting, every deployment
    assert rebuilt.groups == original.groups
    assert rebuilt.deployments[1].time_constraints == original.deployments[1].time_constraints
    answer = rebuilt("hello", model_preference="a")
    assert answer.consume() == "echo: hello"
    sent = at["a"].last_request
    assert sent.headers["authorization"] == f"Bearer {WORKER_KEY}"
    assert sent.json["temperature"] == 0.25
    rebuilt.close()


def test_test_clocks_stay_behind(configured, monkeypatch):
    _, original = configured
    _use_env_key(monkeypatch)
    original("to b?", model_preference="b")
    assert original.stats()["deployments"]["b"]["answers"] == 1  # the test clock: b is on

    rebuilt = pickle.loads(pickle.dumps(original))

    meta = rebuilt("to b?", model_preference="b").metadata.gateway
    assert meta.deployment != "b"  # the real clock: b is off around now
    assert rebuilt.stats()["deployments"]["b"]["attempts"] == 0
    rebuilt.close()


def test_the_routing_state_starts_fresh(configured, monkeypatch):
    at, original = configured
    at["a"].enqueue(Reply.error(503, "down"))
    original("hello", model_preference="a")  # a fails once: failure_threshold=1 opens it
    assert original.stats()["open_circuits"] == ["a"]

    _use_env_key(monkeypatch)
    rebuilt = pickle.loads(pickle.dumps(original))

    stats = rebuilt.stats()
    assert stats["open_circuits"] == []
    assert (stats["calls"], stats["failovers"]) == (0, 0)
    assert rebuilt("hello", model_preference="a").metadata.gateway.deployment == "a"
    assert original.stats()["open_circuits"] == ["a"]  # the original's own state is kept
    rebuilt.close()


def test_a_spelled_cache_travels_empty(configured, monkeypatch):
    at, original = configured
    original("cached", model_preference="c")
    _use_env_key(monkeypatch)

    rebuilt = pickle.loads(pickle.dumps(original))
    first = rebuilt("cached", model_preference="c")
    second = rebuilt("cached", model_preference="c")

    assert first.consume() == second.consume() == "echo: cached"
    assert [r.json["messages"][-1]["content"] for r in at["c"].requests] == ["cached", "cached"]
    rebuilt.close()


def test_a_gateway_inside_a_gateway_travels(servers, deploy, monkeypatch):
    (a,) = servers(1)
    inner = mf.ModelGateway([{"name": "inner-a", "model": deploy(a)}])
    outer = mf.ModelGateway([{"name": "pool", "model": inner}])
    _use_env_key(monkeypatch)

    rebuilt = pickle.loads(pickle.dumps(outer))

    assert rebuilt("nested").consume() == "echo: nested"
    assert a.last_request.headers["authorization"] == f"Bearer {WORKER_KEY}"
    assert isinstance(rebuilt.models[0], mf.ModelGateway)
    rebuilt.close()


def test_a_rebuilt_deployment_scrubs_its_key_from_errors(servers, deploy, monkeypatch):
    (a,) = servers(1)
    # A provider that echoes the credential in its error text.
    a.set_handler(lambda request: Reply.error(400, f"bad: {request.headers['authorization']}"))
    gateway = mf.ModelGateway([{"name": "a", "model": deploy(a)}])
    _use_env_key(monkeypatch)
    rebuilt = pickle.loads(pickle.dumps(gateway))

    with pytest.raises(BadRequestError) as caught:
        rebuilt("hello")

    assert a.last_request.headers["authorization"] == f"Bearer {WORKER_KEY}"
    assert WORKER_KEY not in str(caught.value)
    rebuilt.close()


# -- what cannot travel is refused when pickling --------------------------------------------------


def test_a_deployment_with_an_injected_client_is_named(servers, deploy, api_key):
    openai = pytest.importorskip("openai")
    (a,) = servers(1)
    client = openai.OpenAI(base_url=a.base_url, api_key=api_key, max_retries=0)
    gateway = mf.ModelGateway(
        [
            {"name": "fine", "model": deploy(a)},
            {
                "name": "injected",
                "model": mf.Model.chat_completion("openai/m", client=client, api_key=api_key),
            },
        ]
    )

    with pytest.raises(TypeError) as caught:
        pickle.dumps(gateway)

    message = str(caught.value)
    assert "deployment 'injected' (openai/m)" in message
    assert "client= is a live object" in message
    assert "build the gateway in the worker" in message
    assert api_key not in message
    client.close()


def test_a_cache_object_that_does_not_pickle_is_refused(servers, deploy):
    from msgflux.cache import MemoryCache

    (a,) = servers(1)
    gateway = mf.ModelGateway([{"name": "a", "model": deploy(a)}], cache=MemoryCache())

    with pytest.raises(TypeError, match=r"cache= is a live object \(MemoryCache\).*Spell"):
        pickle.dumps(gateway)


# -- copies --------------------------------------------------------------------------------------


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy])
def test_a_copy_has_circuits_of_its_own(copier, configured, api_key):
    at, original = configured

    clone = copier(original)
    at["a"].enqueue(Reply.error(503, "down"))
    assert clone("hello", model_preference="a").metadata.gateway.deployment != "a"

    assert clone.stats()["open_circuits"] == ["a"]
    assert original.stats()["open_circuits"] == []
    assert original("hello", model_preference="a").metadata.gateway.deployment == "a"
    assert at["a"].last_request.headers["authorization"] == f"Bearer {api_key}"  # the key stays


def test_deepcopy_copies_the_models_and_copy_shares_them(configured):
    at, original = configured

    shallow, deep = copy.copy(original), copy.deepcopy(original)

    assert [m is o for m, o in zip(shallow.models, original.models, strict=True)] == [True] * 3
    assert not any(m is o for m, o in zip(deep.models, original.models, strict=True))
    assert deep.serialize() == original.serialize()
    original("first", model_preference="c")
    deep("second", model_preference="c")
    first, second = at["c"].requests[-2:]
    assert first.client_address != second.client_address  # a copied model's own connection
    deep.close()


def test_copies_keep_the_test_clocks(configured):
    _, original = configured

    for clone in (copy.copy(original), copy.deepcopy(original)):
        assert clone("to b", model_preference="b").metadata.gateway.deployment == "b"


def test_a_copy_has_a_cache_of_its_own(configured):
    at, original = configured
    original("cached", model_preference="c")

    clone = copy.deepcopy(original)
    clone("cached", model_preference="c")
    original("cached", model_preference="c")

    assert [r.json["messages"][-1]["content"] for r in at["c"].requests] == ["cached", "cached"]


# -- fork ----------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_does_not_inherit_a_probe_in_flight(servers, deploy):
    a, b = servers(2)
    release = threading.Event()

    async def hold(request):
        import asyncio

        if request.json["messages"][-1]["content"] == "held":
            while not release.is_set():
                await asyncio.sleep(0.01)
        return None

    a.set_handler(hold)
    gateway = mf.ModelGateway(
        [{"name": "a", "model": deploy(a)}, {"name": "b", "model": deploy(b)}],
        failure_threshold=1,
        cooldown=0,
    )
    a.enqueue(Reply.error(503, "down"))
    assert gateway("opens a's circuit").metadata.gateway.deployment == "b"
    prober = threading.Thread(target=gateway, args=("held",))  # a's probe, held by a
    prober.start()
    try:
        _wait_until(lambda: gateway.stats()["deployments"]["a"]["state"] == "half_open")
        assert gateway("parent").metadata.gateway.deployment == "b"  # a: probe in flight
        child = _in_forked_child(lambda: gateway("child").metadata.gateway.deployment)
    finally:
        release.set()
        prober.join(GUARD)

    assert child == "a"  # the child has no probe in flight: a is the first deployment
    assert gateway.stats()["deployments"]["a"]["state"] == "closed"  # the probe answered


def _wait_until(condition) -> None:
    deadline = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _in_forked_child(work):
    """Run ``work()`` in a forked child; return what it returned (or raise what it raised)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer, report, and leave without running pytest's teardown
        code = 1
        try:
            try:
                outcome = ("ok", work())
            except Exception as exc:
                outcome = ("error", f"{type(exc).__name__}: {exc}")
            os.write(write_end, pickle.dumps(outcome))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        kind, value = pickle.loads(pipe.read())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    if kind == "error":
        raise AssertionError(f"the child failed: {value}")
    return value
