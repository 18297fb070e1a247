"""The ``cache`` section: what a cache hit costs, per backend, next to a server round trip.

Each contender is an ``openai/...`` model on the fast transport talking to the bench server:
``no cache`` pays the round trip; ``memory``, ``disk`` (SQLite in a temporary directory) and
``redis`` (a ``redis-server`` started here on a free loopback port, stopped by its PID)
answer from the cache after one warm-up call stored the answer. Workloads: a blocking call,
an awaited call, and replaying a cached 100-chunk stream (sync iteration). Interleaved rounds
and medians, as in the other sections.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import msgflux as mf

MESSAGES = [{"role": "user", "content": "Say something short."}]
STREAM_CHUNKS = 100
WORKLOADS = [
    ("sync", "blocking call", "call"),
    ("async", "awaited call", "call"),
    ("stream", f"stream of {STREAM_CHUNKS} chunks, replayed (sync iteration)", "stream"),
]
BASELINE = "no cache (round trip)"


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """A throwaway redis-server's URL, or ``None`` when the binary is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _timed(ops: int, run: Callable[[], Any]) -> tuple[float, float]:
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run()
    return (time.process_time() - cpu0) / ops * 1e6, (time.perf_counter() - wall0) / ops * 1e6


def _workload(
    key: str, model: Any, loop: asyncio.AbstractEventLoop, ops: int
) -> tuple[float, float]:
    if key == "sync":

        def calls() -> None:
            for _ in range(ops):
                assert model(MESSAGES).data

        return _timed(ops, calls)
    if key == "async":

        async def acalls() -> None:
            for _ in range(ops):
                assert (await model.acall(MESSAGES)).data

        return _timed(ops, lambda: loop.run_until_complete(acalls()))
    headers = {"x-bench-chunks": str(STREAM_CHUNKS)}

    def streams() -> None:
        for _ in range(ops):
            got = sum(1 for _ in model(MESSAGES, stream=True, extra_headers=headers))
            assert got >= STREAM_CHUNKS, got

    return _timed(ops, streams)


def bench_cache(base_url: str, rounds: int, ops: int, log: Callable[[str], None]) -> dict:
    """Samples (µs CPU and wall per operation) per workload and contender."""
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_url:
        options: dict[str, Any] = {
            BASELINE: None,
            "memory": "memory",
            "disk (SQLite)": f"disk:{tmp}/bench.sqlite3",
        }
        unavailable = {}
        if redis_url is None:
            unavailable["redis"] = "redis-server is not installed"
        else:
            options["redis"] = redis_url
        models = {
            name: mf.Model.chat_completion(
                "openai/bench-model", base_url=base_url, api_key="k", transport="fast", cache=spec
            )
            for name, spec in options.items()
        }
        loop = asyncio.new_event_loop()
        samples: dict[str, dict[str, list[tuple[float, float]]]] = {k: {} for k, *_ in WORKLOADS}
        try:
            for model in models.values():  # warm-up: connections, and the stored answers
                for key, *_ in WORKLOADS:
                    _workload(key, model, loop, 3)
            for key, title, _ in WORKLOADS:
                names = list(models)
                for r in range(rounds):
                    for name in names[r % len(names) :] + names[: r % len(names)]:
                        got = _workload(key, models[name], loop, ops)
                        samples[key].setdefault(name, []).append(got)
                medians = {n: statistics.median(s[0] for s in v) for n, v in samples[key].items()}
                log(f"  {title}: " + ", ".join(f"{n} {v:.1f}us" for n, v in medians.items()))
        finally:
            for model in models.values():
                model.close()
                if model._response_cache is not None:
                    model._response_cache.close()
            loop.close()
    return {"names": list(models), "samples": samples, "unavailable": unavailable}


def report_cache(results: dict) -> list[str]:
    names, samples, unavailable = results["names"], results["samples"], results["unavailable"]
    cols = names + list(unavailable)
    lines = [
        "**Cache hits** (µs per operation, median; client CPU, then wall time; in parentheses: "
        "the round trip ÷ the hit, higher is better):",
        "",
        "| workload | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for key, title, unit in WORKLOADS:
        got = samples[key]
        base = [statistics.median(s[i] for s in got[BASELINE]) for i in (0, 1)]
        cells = []
        for name in cols:
            if name in unavailable:
                cells.append(f"n/a ({unavailable[name]})")
                continue
            cpu, wall = (statistics.median(s[i] for s in got[name]) for i in (0, 1))
            if name == BASELINE:
                cells.append(f"{cpu:,.1f} / {wall:,.1f}")
            else:
                cells.append(
                    f"{cpu:,.1f} / {wall:,.1f} (**{base[0] / cpu:.1f}x** / "
                    f"**{base[1] / wall:.1f}x**)"
                )
        lines.append(f"| {title} (µs/{unit}) | " + " | ".join(cells) + " |")
    lines.append("")
    return lines
