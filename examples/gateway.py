"""A ModelGateway over two local llama.cpp replicas, with a hosted model as the fallback.

    python examples/gateway.py

It sets up (once) and starts two llama.cpp servers with SmolLM2-135M-Instruct (see
``scripts/llamacpp.py``) and puts them behind one gateway as the replicas of the group
``local``, balanced by requests in flight. With an API key set (first match wins, if its
plugin is installed) a hosted model is the ``hosted`` group the local one falls back to:

    OPENAI_API_KEY      openai/gpt-4.1-mini
    GROQ_API_KEY        groq/openai/gpt-oss-20b
    OPENROUTER_API_KEY  openrouter/openai/gpt-4.1-mini

Without a key the gateway runs on the two replicas alone. Then: four calls at once (split
between the replicas), a stream, one replica stopped (four more calls, all answered; the
stopped one's circuit opens, so it is not tried again for a while), and the counters.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgflux as mf

HOSTED = (
    ("OPENAI_API_KEY", "openai/gpt-4.1-mini"),
    ("GROQ_API_KEY", "groq/openai/gpt-oss-20b"),
    ("OPENROUTER_API_KEY", "openrouter/openai/gpt-4.1-mini"),
)
QUESTIONS = ("What is a lighthouse?", "What is a harbour?", "What is a tide?", "What is a reef?")


def _llamacpp_script() -> Any:
    """``scripts/llamacpp.py`` as a module (it is a script, not an installed package)."""
    path = Path(__file__).resolve().parents[1] / "scripts" / "llamacpp.py"
    spec = importlib.util.spec_from_file_location("_msgflux_llamacpp_script", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _replicas(count: int) -> Iterator[list[Any]]:
    llamacpp = _llamacpp_script()
    installation = llamacpp.setup()  # installs only what is missing
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(llamacpp.start_server(installation)) for _ in range(count)]
        for name, server in zip("ab", servers, strict=False):
            print(f"replica local-{name} at {server.base_url}")
        yield servers
    print("servers stopped")


def _hosted() -> dict[str, Any] | None:
    """The hosted fallback deployment, or ``None`` when no key (or plugin) is there."""
    providers = set(mf.list_providers())
    for env_var, model in HOSTED:
        if os.environ.get(env_var) and model.split("/", 1)[0] in providers:
            print(f"hosted fallback: {model}")
            return {"name": "hosted", "group": "hosted", "model": model}
    print("hosted fallback: none (no API key set): the two replicas only")
    return None


def _ask(gateway: mf.ModelGateway, question: str) -> str:
    started = time.perf_counter()
    response = gateway(question)
    meta = response.metadata.gateway
    tried = ", ".join(attempt["deployment"] for attempt in meta.attempts)
    return (
        f"answered by {meta.deployment} (tried {tried}) in "
        f"{time.perf_counter() - started:.1f} s: {response.consume().strip()[:50]!r}"
    )


def _ask_at_once(gateway: mf.ModelGateway, first: int) -> None:
    """Every question at the same time, from threads; print the answers in order."""
    with ThreadPoolExecutor(max_workers=len(QUESTIONS)) as pool:
        answers = pool.map(lambda question: _ask(gateway, question), QUESTIONS)
        for number, answer in enumerate(answers, first):
            print(f"call {number}: {answer}")


def main() -> int:
    with _replicas(2) as (server_a, server_b):
        local = {"max_tokens": 32, "temperature": 0}
        deployments = [
            {"name": "local-a", "group": "local", "model": mf.Model.chat_completion(
                "llamacpp/smollm2", base_url=server_a.base_url, **local)},
            {"name": "local-b", "group": "local", "model": mf.Model.chat_completion(
                "llamacpp/smollm2", base_url=server_b.base_url, **local)},
        ]  # fmt: skip
        hosted = _hosted()
        if hosted is not None:
            deployments.append(hosted)
        with mf.ModelGateway(
            deployments,
            strategy="least_busy",
            fallbacks={"local": ["hosted"]} if hosted else {},
            failure_threshold=1,  # a replica that is down is skipped after one failure...
            cooldown=60,  # ...for a minute, then one request probes it
        ) as gateway:
            print("\n== calls (four at once)")
            _ask_at_once(gateway, 1)

            print("\n== stream")
            response = gateway("Write one sentence about the sea.", stream=True)
            print("".join(response).strip())
            print(f"answered by {response.metadata.gateway.deployment}")

            print("\n== replica local-a stopped: calls (four at once)")
            server_a.stop()
            _ask_at_once(gateway, len(QUESTIONS) + 1)

            print("\n== stats")
            stats = gateway.stats()
            print(f"calls {stats['calls']}, failovers {stats['failovers']}")
            for name, health in stats["deployments"].items():
                print(
                    f"{name}: {health['state']}, {health['answers']} answers, "
                    f"{health['failures']} failures"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
