"""Ray Data: a msgflux model over a Dataset on a local Ray cluster (``ray.init(num_cpus=2)``),
against the loopback server and the real llama.cpp model; and examples/ray_batch.py.

Ray is in the default hatch environment; the lighter matrix environments do not install it,
and there these tests skip with that reason.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import msgflux as mf
from msgflux.testing.server import LoopbackServer, Reply

try:
    import ray
    import ray.data
except ImportError as exc:
    pytest.skip(
        f"Ray Data is not installed here ({exc}): pip install 'msgflux[ray]' (the default "
        "hatch environment has it; the matrix environments do not)",
        allow_module_level=True,
    )

from msgflux.integrations.ray import ModelPredictor

pytestmark = pytest.mark.requires_provider("openai")

WORKER_KEY = "sk-ray-worker-1b2c3d4e5f"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ray_batch.py"


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster whose workers have their own API key in their environment."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"OPENAI_API_KEY": WORKER_KEY, "NO_PROXY": "127.0.0.1"}},
    )
    yield
    ray.shutdown()


@pytest.fixture
def server():
    with LoopbackServer() as running:
        yield running


def run(model, rows, **options):
    dataset = ray.data.from_items(rows).map_batches(
        ModelPredictor,
        fn_constructor_kwargs={"model": model, **options},
        concurrency=2,
        num_cpus=0.5,
        batch_size=8,
    )
    return sorted(dataset.take_all(), key=lambda row: row["id"])


def test_workers_answer_every_row_with_their_own_key(ray_cluster, server):
    model = mf.Model.chat_completion("openai/m", base_url=server.base_url, api_key="sk-driver")
    server.set_handler(
        lambda request: (
            Reply.error(400, "not this one")
            if request.json["messages"][-1]["content"] == "row 7"
            else None
        )
    )
    rows = [{"id": i, "prompt": f"row {i}"} for i in range(30)]

    answered = run(model, rows, temperature=0)

    assert [row["response"] for row in answered if row["id"] != 7] == [
        f"echo: row {i}" for i in range(30) if i != 7
    ]
    assert answered[7]["response"] is None
    assert (
        answered[7]["error"].startswith("BadRequestError")
        and "not this one" in answered[7]["error"]
    )
    keys = {r.headers["authorization"] for r in server.requests}
    assert keys == {f"Bearer {WORKER_KEY}"}  # the driver's key never left the driver
    assert {r.json["temperature"] for r in server.requests} == {0}


def test_the_real_llamacpp_model_over_a_dataset(ray_cluster, llamacpp_server):
    model = mf.Model.chat_completion(
        "llamacpp/smollm2", base_url=llamacpp_server.base_url, temperature=0, max_tokens=8
    )
    rows = [{"id": i, "prompt": f"Say the number {i}."} for i in range(6)]

    answered = run(model, rows, max_concurrency=2)

    assert [row["error"] for row in answered] == [None] * 6
    assert all(isinstance(row["response"], str) and row["response"] for row in answered)


def test_the_example_classifies_tickets(ray_cluster, server):
    spec = importlib.util.spec_from_file_location("ray_batch_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    labels = {"charged twice": "billing", "crashes": "bug", "dark mode": "feature request"}

    def label(request):
        ticket = request.json["messages"][-1]["content"]
        assert request.json["messages"][0]["content"] == example.SYSTEM_PROMPT
        return Reply.text(next((v for k, v in labels.items() if k in ticket), "other"))

    server.set_handler(label)
    model = mf.Model.chat_completion("openai/m", base_url=server.base_url, api_key="sk-driver")

    rows = example.classify(model, example.TICKETS)

    assert [row["label"] for row in rows] == ["billing", "bug", "feature request", "other"]
    assert [row["ticket"] for row in rows] == example.TICKETS
