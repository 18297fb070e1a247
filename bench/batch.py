"""The ``batch`` section: many requests against a rate-limited server, three ways.

The server is ``python -m msgflux.testing.server --rate ...``: a token bucket (``CAPACITY``
requests a second, bursts of ``BURST``) that answers 429 past it, each admitted answer
taking ``LATENCY`` seconds, like a provider. A fresh server (a full bucket) runs for each
contender, in its own process; each contender runs in its own process too:

- msgflux: ``await model.abatch(prompts, max_concurrency=64)`` (adaptive concurrency);
- msgflux through a gateway: ``await gateway.abatch(...)`` over two replicas, each a server
  of half the capacity (``strategy="least_busy"``): the same total capacity, reached only if
  the batch adds up the replicas' limits and the gateway fails a 429 over;
- the raw ``openai`` SDK: ``AsyncOpenAI`` with ``asyncio.gather`` and a ``Semaphore(64)``,
  as users write it, with the SDK's default ``max_retries=2`` and with ``max_retries=10``
  (the SDK honours ``Retry-After`` and backs off on its own);
- LiteLLM's ``batch_completion`` (threads), when ``litellm`` is installed.

Two server behaviours: ``openai-like`` (429s carry ``Retry-After``, answers carry
``x-ratelimit-*`` headers) and ``bare`` (429s without ``Retry-After``, no headers: the
client learns the limit only by meeting it).

Measured: wall time to the last answer, answers (each checked), lost items (errors the
client gave up on), throughput as a share of the server's capacity, 429s the server sent
and their share of all requests, requests it admitted twice, the client's CPU time.

    python bench/batch.py --child NAME BASE_URL ITEMS   # one contender (used by run.py)
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

CAPACITY = 200.0  # requests a second
BURST = 20.0
LATENCY = 0.1  # seconds per admitted answer
CONCURRENCY = 64

SERVERS = {
    "openai-like": ["--retry-after", "always"],
    "bare": ["--retry-after", "never", "--no-limit-headers"],
}


def contenders() -> dict[str, str]:
    names = {
        "msgflux abatch": "msgflux",
        "msgflux gateway.abatch (2 replicas of half the capacity)": "gateway",
        "openai SDK gather+semaphore (max_retries=2)": "sdk2",
        "openai SDK gather+semaphore (max_retries=10)": "sdk10",
    }
    if importlib.util.find_spec("litellm") is not None:
        names["LiteLLM batch_completion"] = "litellm"
    return names


# -- contenders (each in a child process) ------------------------------------------------------


def _prompts(items: int) -> list[str]:
    return [f"item {i}" for i in range(items)]


async def _msgflux(base_url: str, prompts: list[str]) -> list[Any]:
    import msgflux as mf

    model = mf.Model.chat_completion("openai/bench-model", base_url=base_url, api_key="k")
    results = await model.abatch(prompts, max_concurrency=CONCURRENCY, progress=False)
    await model.aclose()
    return [item.response.consume() if item.ok else item.error for item in results]


async def _gateway(base_urls: str, prompts: list[str]) -> list[Any]:
    import msgflux as mf

    gateway = mf.ModelGateway(
        [
            {
                "name": f"replica-{i}",
                "group": "bench",
                "model": mf.Model.chat_completion("openai/bench-model", base_url=url, api_key="k"),
            }
            for i, url in enumerate(base_urls.split(","))
        ],
        strategy="least_busy",
    )
    results = await gateway.abatch(prompts, max_concurrency=CONCURRENCY, progress=False)
    await gateway.aclose()
    return [item.response.consume() if item.ok else item.error for item in results]


async def _sdk(base_url: str, prompts: list[str], max_retries: int) -> list[Any]:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=max_retries)
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(prompt: str) -> str | None:
        async with semaphore:
            completion = await client.chat.completions.create(
                model="bench-model", messages=[{"role": "user", "content": prompt}]
            )
            return completion.choices[0].message.content

    answers = await asyncio.gather(*(one(p) for p in prompts), return_exceptions=True)
    await client.close()
    return list(answers)


def _litellm(base_url: str, prompts: list[str]) -> list[Any]:
    import litellm

    answers = litellm.batch_completion(
        model="openai/bench-model",
        messages=[[{"role": "user", "content": prompt}] for prompt in prompts],
        api_base=base_url,
        api_key="k",
        max_workers=CONCURRENCY,
    )
    return [
        answer.choices[0].message.content if not isinstance(answer, Exception) else answer
        for answer in answers
    ]


def child(name: str, base_url: str, items: int) -> None:
    prompts = _prompts(items)
    runs: dict[str, Callable[[], list[Any]]] = {
        "msgflux": lambda: asyncio.run(_msgflux(base_url, prompts)),
        "gateway": lambda: asyncio.run(_gateway(base_url, prompts)),
        "sdk2": lambda: asyncio.run(_sdk(base_url, prompts, 2)),
        "sdk10": lambda: asyncio.run(_sdk(base_url, prompts, 10)),
        "litellm": lambda: _litellm(base_url, prompts),
    }
    modules = {"msgflux": "msgflux", "gateway": "msgflux", "litellm": "litellm"}
    importlib.import_module(modules.get(name, "openai"))
    cpu, wall = time.process_time(), time.perf_counter()  # imports done: not counted
    answers = runs[name]()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    right = sum(answer == f"echo: {p}" for answer, p in zip(answers, prompts, strict=True))
    lost = sum(isinstance(answer, BaseException) for answer in answers)
    print(json.dumps({"wall": wall, "cpu": cpu, "answered": right, "lost": lost}))


# -- the section -------------------------------------------------------------------------------


def _serve(flags: list[str], share: float = 1.0) -> tuple[subprocess.Popen[str], str]:
    """A rate-limited server with ``share`` of the capacity (and of the burst)."""
    rate, burst = CAPACITY * share, BURST * share
    args = ["--rate", str(rate), "--burst", str(burst), "--latency", str(LATENCY), *flags]
    proc = subprocess.Popen(
        [sys.executable, "-m", "msgflux.testing.server", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    base_url = proc.stdout.readline().strip() if proc.stdout else ""
    if not base_url.startswith("http"):
        proc.kill()
        raise RuntimeError(f"rate-limited server did not start: {base_url!r}")
    return proc, base_url


def _one(key: str, flags: list[str], items: int) -> dict[str, Any]:
    replicas = 2 if key == "gateway" else 1  # the same total capacity, split
    servers = [_serve(flags, 1.0 / replicas) for _ in range(replicas)]
    try:
        base_urls = ",".join(base_url for _, base_url in servers)
        out = subprocess.run(
            [sys.executable, __file__, "--child", key, base_urls, str(items)],
            capture_output=True,
            text=True,
            timeout=3600,
        )
    finally:
        stats_lines = []
        for proc, _ in servers:
            proc.terminate()
            stats_lines.append(proc.communicate(timeout=30)[0])
    if out.returncode != 0:
        return {"failed": out.stderr.strip().splitlines()[-1:] or ["?"]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    stats = [json.loads(line.strip().splitlines()[-1]) for line in stats_lines]
    for name in ("admitted", "refused", "duplicates"):  # over the servers
        result[name] = sum(server[name] for server in stats)
    return result


def bench_batch(quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    items = 2_000 if quick else 10_000
    results: dict[str, Any] = {
        "items": items,
        "capacity": CAPACITY,
        "burst": BURST,
        "latency": LATENCY,
        "concurrency": CONCURRENCY,
        "servers": {},
    }
    names = contenders()
    for server, flags in SERVERS.items():
        rows = {}
        for title, key in names.items():
            log(f"  {server}: {title} ({items} items)...")
            rows[title] = _one(key, flags, items)
            log(f"    {rows[title]}")
        results["servers"][server] = rows
    if "LiteLLM batch_completion" not in names:
        results["litellm"] = "not installed in this environment"
    return results


def report_batch(results: dict[str, Any]) -> list[str]:
    capacity = results["capacity"]
    out = [
        f"**Batch against a rate-limited server** ({results['items']:,} requests; the server "
        f"admits {capacity:g} requests/s, bursts of {results['burst']:g}, each answer taking "
        f"{results['latency'] * 1000:g} ms; at most {results['concurrency']} in flight per "
        "client; fresh server and client process per row):",
        "",
    ]
    for server, rows in results["servers"].items():
        out += [
            f"*{server}* server:",
            "",
            "| client | time (s) | answered | lost | throughput (% of capacity) | 429s "
            "(share of requests) | answered twice | client CPU (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for title, row in rows.items():
            if "failed" in row:
                out.append(f"| {title} | failed: {row['failed'][0]} | | | | | | |")
                continue
            requests = row["admitted"] + row["refused"]
            share = row["refused"] / requests if requests else 0.0
            rate = row["answered"] / row["wall"] if row["wall"] else 0.0
            out.append(
                f"| {title} | {row['wall']:.1f} | {row['answered']:,} | {row['lost']:,} | "
                f"{rate:.1f}/s ({rate / capacity:.0%}) | {row['refused']:,} ({share:.1%}) | "
                f"{row['duplicates']} | {row['cpu']:.1f} |"
            )
        out.append("")
    if results.get("litellm"):
        out += [f"LiteLLM: {results['litellm']}.", ""]
    return out


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        results = bench_batch("--quick" in sys.argv, lambda m: print(m, file=sys.stderr))
        print("\n".join(report_batch(results)))
