"""Gateways in worker processes: spawn and fork pools and ProcessPoolExecutor answer
through the loopback servers, with the worker's own key (a pickle never carries one)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

import msgflux as mf
from msgflux.testing.server import LoopbackServer

pytestmark = pytest.mark.requires_provider("openai")

PARENT_KEY = "sk-gateway-parent-key-1a2b3c4d"
WORKER_KEY = "sk-gateway-worker-key-9f8e7d6c"
POOL_TIMEOUT = 120  # a guard against a hung worker, not a performance bound
PROMPTS = [f"item {i}" for i in range(8)]


@pytest.fixture
def replicas():
    with LoopbackServer() as a, LoopbackServer() as b:
        gateway = mf.ModelGateway(
            [
                {
                    "name": name,
                    "group": "chat",
                    "model": mf.Model.chat_completion(
                        "openai/m", base_url=server.base_url, api_key=PARENT_KEY
                    ),
                }
                for name, server in (("a", a), ("b", b))
            ],
            strategy="weighted",
        )
        yield (a, b), gateway
        gateway.close()


def _keys_seen(*servers: LoopbackServer) -> set[str]:
    return {
        r.headers["authorization"]
        for server in servers
        for r in server.requests
        if r.path.endswith("/chat/completions")
    }


def _check(results, servers) -> None:
    assert [answer for answer, _, _ in results] == [f"echo: {p}" for p in PROMPTS]
    assert os.getpid() not in {pid for _, _, pid in results}
    assert _keys_seen(*servers) == {f"Bearer {WORKER_KEY}"}


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_a_pool_answers_with_the_workers_own_key(method, replicas, monkeypatch, workers):
    servers, gateway = replicas
    assert PARENT_KEY.encode() not in pickle.dumps(gateway)
    monkeypatch.setenv("OPENAI_API_KEY", WORKER_KEY)  # the environment the workers start with

    with multiprocessing.get_context(method).Pool(2) as pool:
        tasks = [(gateway, prompt) for prompt in PROMPTS]
        results = pool.starmap_async(workers.ask_gateway, tasks).get(POOL_TIMEOUT)

    _check(results, servers)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_process_pool_executor_answers(method, replicas, monkeypatch, workers):
    servers, gateway = replicas
    monkeypatch.setenv("OPENAI_API_KEY", WORKER_KEY)
    gateway("warm the parent's pools")  # sent with the parent's own key
    for server in servers:
        server.clear()

    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as executor:
        futures = [executor.submit(workers.ask_gateway, gateway, p) for p in PROMPTS]
        results = [future.result(POOL_TIMEOUT) for future in futures]

    _check(results, servers)


def test_a_worker_without_a_key_reports_it(replicas, monkeypatch, workers):
    servers, gateway = replicas
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        error = pool.apply_async(workers.ask_error, (gateway, "hi")).get(POOL_TIMEOUT)

    assert error.startswith("MissingAPIKeyError")
    assert "OPENAI_API_KEY" in error and "not carried by pickles" in error
    assert _keys_seen(*servers) == set()
