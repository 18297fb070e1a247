"""A gateway over two real llama.cpp servers (SmolLM2-135M) as replicas.

One replica is killed (SIGKILL, by its PID) in the middle of a run of concurrent calls:
every call still answers, the dead replica's circuit opens, and later calls, streams
included, go straight to the live one. Then the two servers with different context sizes:
a prompt too long for the small one goes to the larger one, on llama.cpp's own error.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import msgflux as mf

ROOT = Path(__file__).resolve().parents[2]


def _script() -> Any:
    name = "_msgflux_llamacpp_script"
    if name in sys.modules:  # loaded by the integration conftest already
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "llamacpp.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def replicas(llamacpp_installation: Any) -> Iterator[list[Any]]:
    """Two servers of the same model; the second with a larger context window."""
    llamacpp = _script()
    started = []
    try:
        for n_ctx in ("512", "2048"):
            started.append(
                llamacpp.start_server(llamacpp_installation, extra_args=["--n_ctx", n_ctx])
            )
        yield started
    finally:
        for server in started:
            server.stop()


def replica(server: Any) -> mf.ChatCompletionModel:
    return mf.Model.chat_completion(
        "llamacpp/smollm2", base_url=server.base_url, temperature=0, max_tokens=16
    )


def test_context_overflow_goes_to_the_larger_replica(replicas):
    small, large = replicas
    with mf.ModelGateway(
        [
            {"name": "small", "group": "short", "model": replica(small)},
            {"name": "large", "group": "long", "model": replica(large)},
        ],
        fallbacks={},  # only the context-length fallback may move a call
        context_length_fallbacks={"short": ["long"]},
    ) as gateway:
        response = gateway("Summarize: " + "the sea is calm tonight. " * 120)
        assert response.consume().strip()
        meta = response.metadata.gateway
        assert meta.deployment == "large"
        assert meta.attempts[0]["deployment"] == "small"
        assert "maximum context length" in meta.attempts[0]["error"]
        assert response.metadata.usage["prompt_tokens"] > 512


def test_killing_a_replica_mid_run(replicas):
    doomed, survivor = replicas
    gateway = mf.ModelGateway(
        [
            {"name": "doomed", "group": "smollm2", "model": replica(doomed)},
            {"name": "survivor", "group": "smollm2", "model": replica(survivor)},
        ],
        strategy="least_busy",
        failure_threshold=1,
        cooldown=600,
    )
    answered: list[str] = []
    done = threading.Condition()

    def ask(index: int) -> tuple[str, Any]:
        response = gateway(f"Say a word about the number {index}.")
        with done:
            answered.append(response.metadata.gateway.deployment)
            done.notify_all()
        return response.consume(), response.metadata.gateway

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(ask, index) for index in range(16)]
        with done:  # kill it once it answered, a few calls into the run
            assert done.wait_for(lambda: len(answered) >= 4 and "doomed" in answered, 300)
        os.kill(doomed.process.pid, signal.SIGKILL)
        killed_at = len(answered)
        doomed.process.wait(30)
        results = [future.result(timeout=300) for future in futures]

    assert all(text.strip() for text, _ in results)  # every call answered
    assert "doomed" in answered[:killed_at]
    assert set(answered[killed_at + 4 :]) <= {"survivor"}  # at most the in-flight ones after
    health = gateway.stats()["deployments"]["doomed"]
    assert health["state"] == "open" and health["failures"] >= 1

    # Later calls and streams skip the dead replica without trying it.
    stream = gateway("Count to three.", stream=True)
    assert "".join(stream).strip()
    assert [a["deployment"] for a in stream.metadata.gateway.attempts] == ["survivor"]
    started = time.monotonic()
    response = gateway("Say hi.")
    assert response.metadata.gateway.attempts == [
        {"deployment": "survivor", "model": "llamacpp/smollm2", "error": None}
    ]
    assert time.monotonic() - started < 120  # generous: the model runs on shared cores
    gateway.close()
