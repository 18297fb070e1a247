"""Classify support tickets with a msgflux model over a Ray Dataset.

Each Ray worker builds the model once and answers its share of the rows concurrently
(``model.abatch`` inside), adapting to the provider's rate limits. Run it
(``pip install "msgflux[openai,ray]"``, ``OPENAI_API_KEY`` set)::

    python examples/ray_batch.py

``MSGFLUX_MODEL`` picks another model (``"groq/llama-3.1-8b-instant"``...); its provider's
own env vars give the key and the URL. The workers read the key from their environment,
which ``ray.init(runtime_env=...)`` below hands them: API keys never travel in the pickled
model. Tests call ``classify(model, tickets)`` with a model of their choice.
"""

from __future__ import annotations

import os
from typing import Any

import ray

import msgflux as mf
from msgflux.integrations.ray import ModelPredictor

DEFAULT_MODEL = "openai/gpt-4.1-mini"
LABELS = ("billing", "bug", "feature request", "other")
SYSTEM_PROMPT = (
    f"Classify the support ticket into one of: {', '.join(LABELS)}. Answer with the label only."
)

TICKETS = [
    "I was charged twice for my subscription this month.",
    "The export button crashes the app on Android.",
    "Could you add a dark mode?",
    "How do I change my invoice address?",
]


def classify(model: Any, tickets: list[str], *, workers: int = 2) -> list[dict[str, Any]]:
    """``[{"id", "ticket", "label", "error"}]`` for ``tickets``, in their order."""
    rows = [{"id": index, "prompt": ticket} for index, ticket in enumerate(tickets)]
    answered = ray.data.from_items(rows).map_batches(
        ModelPredictor,
        fn_constructor_kwargs={
            "model": model,
            "output_column": "label",
            "system_prompt": SYSTEM_PROMPT,
            "max_concurrency": 16,
        },
        concurrency=workers,  # worker actors, each with its own model and event loop
        num_cpus=0.5,  # waiting on the network takes little CPU
        batch_size=64,
    )
    results = sorted(answered.take_all(), key=lambda row: row["id"])
    return [
        {"id": r["id"], "ticket": r["prompt"], "label": r["label"], "error": r["error"]}
        for r in results
    ]


def main() -> None:
    model_path = os.environ.get("MSGFLUX_MODEL", DEFAULT_MODEL)
    model = mf.Model.chat_completion(model_path, temperature=0, max_tokens=8)
    env_vars = {name: value for name, value in os.environ.items() if name.endswith("_API_KEY")}
    ray.init(include_dashboard=False, runtime_env={"env_vars": env_vars})
    try:
        for row in classify(model, TICKETS):
            print(f"{row['label'] or row['error']!s:>16}  {row['ticket']}")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
