"""Models in worker processes: spawn and fork pools answer through the loopback server,
with the worker's own key and never over the parent's pooled sockets."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

import msgflux as mf

pytestmark = pytest.mark.requires_provider("openai")

PARENT_KEY = "sk-parent-key-3c2b1a0f9e"
WORKER_KEY = "sk-worker-key-8d7c6b5a4f"
POOL_TIMEOUT = 120  # a guard against a hung worker, not a performance bound

TRANSPORTS = ["fast", "sdk"]


def _model(server, transport):
    return mf.Model.chat_completion(
        "openai/m", base_url=server.base_url, api_key=PARENT_KEY, transport=transport
    )


def _chat_requests(server):
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_spawn_pool_answers_with_the_workers_own_key(
    transport, loopback_server, monkeypatch, workers
):
    monkeypatch.setenv("OPENAI_API_KEY", WORKER_KEY)  # the environment the workers start with
    model = _model(loopback_server, transport)
    prompts = [f"item {i}" for i in range(6)]

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap_async(workers.ask, [(model, p) for p in prompts]).get(POOL_TIMEOUT)

    assert [answer for answer, _ in results] == [f"echo: {p}" for p in prompts]
    assert os.getpid() not in {pid for _, pid in results}
    keys = {r.headers["authorization"] for r in _chat_requests(loopback_server)}
    assert keys == {f"Bearer {WORKER_KEY}"}
    model.close()


def test_a_spawned_worker_without_a_key_reports_it(loopback_server, monkeypatch, workers):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = _model(loopback_server, "fast")

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        error = pool.apply_async(workers.ask_error, (model, "hi")).get(POOL_TIMEOUT)

    assert error.startswith("MissingAPIKeyError")
    assert "OPENAI_API_KEY" in error and "not carried by pickles" in error
    assert _chat_requests(loopback_server) == []
    model.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_fork_pool_never_reuses_the_parents_connection(transport, loopback_server, workers):
    model = _model(loopback_server, transport)
    model("parent before")  # leaves a pooled keep-alive connection in the parent
    parent_peer = loopback_server.last_request.client_address

    # The initializer's arguments reach forked workers by memory: the very model, pool
    # and all, not a pickle of it.
    context = multiprocessing.get_context("fork")
    with context.Pool(2, initializer=workers.keep_model, initargs=(model,)) as pool:
        results = pool.map_async(workers.ask_kept, [f"w{i}" for i in range(6)]).get(POOL_TIMEOUT)

    assert [answer for answer, _ in results] == [f"echo: w{i}" for i in range(6)]
    worker_peers = {r.client_address for r in _chat_requests(loopback_server)[1:]}
    assert parent_peer not in worker_peers
    assert model("parent after").consume() == "echo: parent after"
    assert loopback_server.last_request.client_address == parent_peer  # still the parent's
    model.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_os_fork_child_opens_its_own_connection(transport, loopback_server):
    model = _model(loopback_server, transport)
    model("parent")
    parent_peer = loopback_server.last_request.client_address
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # the child: answer, report, and leave without running pytest's teardown
        code = 1
        try:
            answer = model("child").consume()
            os.write(write_end, pickle.dumps(answer))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pickle.loads(pipe.read())
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert answer == "echo: child"
    child_request = _chat_requests(loopback_server)[-1]
    assert child_request.client_address != parent_peer
    assert model("parent again").consume() == "echo: parent again"
    assert loopback_server.last_request.client_address == parent_peer
    model.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_process_pool_executor_answers(method, loopback_server, monkeypatch, workers):
    monkeypatch.setenv("OPENAI_API_KEY", WORKER_KEY)
    model = _model(loopback_server, "fast")
    model("warm the parent's pool")

    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as executor:
        futures = [executor.submit(workers.ask, model, f"x{i}") for i in range(4)]
        answers = [future.result(POOL_TIMEOUT)[0] for future in futures]

    assert answers == [f"echo: x{i}" for i in range(4)]
    model.close()
