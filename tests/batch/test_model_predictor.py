"""msgflux.integrations.ray.ModelPredictor called directly, as a Ray worker calls it (the
Ray cluster tests are in tests/integration/test_ray.py)."""

from __future__ import annotations

import pickle
import sys

import pytest

import msgflux as mf
from msgflux.integrations.ray import ModelPredictor
from msgflux.testing.server import Reply

pytestmark = pytest.mark.requires_provider("openai")


def test_importing_it_imports_no_ray():
    import subprocess

    code = "import sys, msgflux.integrations.ray; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_columns_in_rows_out_with_errors_in_their_column(loopback_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-worker")
    loopback_server.set_handler(
        lambda r: Reply.error(400, "nope") if r.json["messages"][-1]["content"] == "b" else None
    )
    model = mf.Model.chat_completion("openai/m", base_url=loopback_server.base_url, api_key="x")
    predictor = ModelPredictor(pickle.loads(pickle.dumps(model)), temperature=0)

    batch = predictor({"id": [1, 2, 3], "prompt": ["a", "b", "c"]})

    assert batch["response"] == ["echo: a", None, "echo: c"]
    assert batch["error"][0] is None and batch["error"][1].startswith("BadRequestError")
    assert batch["id"] == [1, 2, 3]
    again = predictor({"prompt": ["d"]})  # the same loop and connections, batch after batch
    assert again["response"] == ["echo: d"]


def test_message_lists_from_arrow_come_as_arrays(loopback_server):
    np = pytest.importorskip("numpy")
    predictor = ModelPredictor(
        "openai/m",
        input_column="messages",
        output_column="answer",
        model_options={"base_url": loopback_server.base_url, "api_key": "k"},
    )
    messages = np.array(
        [np.array([{"role": "user", "content": "from arrow"}], dtype=object)], dtype=object
    )

    batch = predictor({"messages": messages})

    assert batch["answer"] == ["echo: from arrow"]


def test_structured_answers_are_json_text():
    model = mf.Model.chat_completion("fake/echo", responses=['{"x": 1}'])
    from msgspec import Struct

    class Out(Struct):
        x: int

    batch = ModelPredictor(model, generation_schema=Out)({"prompt": ["p"]})

    assert batch["response"] == ['{"x": 1}']


def test_a_missing_column_says_which_to_pass():
    predictor = ModelPredictor("fake/echo")

    with pytest.raises(KeyError, match="input_column="):
        predictor({"text": ["x"]})


def test_model_options_only_with_a_path_or_a_serialized_dict():
    with pytest.raises(TypeError, match="model_options="):
        ModelPredictor(mf.Model.chat_completion("fake/echo"), model_options={"timeout": 3})

    built = ModelPredictor(mf.Model.chat_completion("fake/echo").serialize())
    assert built.model.provider == "fake"


def test_a_pickled_gateway_predicts_with_the_workers_key(loopback_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-worker")
    gateway = mf.ModelGateway(
        [
            {
                "name": "down",
                "model": mf.Model.chat_completion(
                    "openai/m", base_url="http://127.0.0.1:9/v1", api_key="x"
                ),
            },
            {
                "name": "up",
                "model": mf.Model.chat_completion(
                    "openai/m", base_url=loopback_server.base_url, api_key="x"
                ),
            },
        ]
    )
    predictor = ModelPredictor(pickle.loads(pickle.dumps(gateway)))

    batch = predictor({"prompt": ["a", "b"]})

    assert batch["response"] == ["echo: a", "echo: b"]
    assert {r.headers["authorization"] for r in loopback_server.requests} == {"Bearer sk-worker"}


def test_collected_while_another_loop_runs_it_closes_without_an_unawaited_coroutine(
    loopback_server,
):
    import asyncio
    import gc
    import warnings

    predictor = ModelPredictor(
        "openai/m", model_options={"base_url": loopback_server.base_url, "api_key": "k"}
    )
    assert predictor({"prompt": ["a"]})["response"] == ["echo: a"]
    own_loop = predictor._loop

    async def drop_it() -> None:  # a running loop on this thread: its own cannot run here
        nonlocal predictor
        del predictor
        gc.collect()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(drop_it())
        gc.collect()

    assert own_loop.is_closed()
    assert not [w for w in caught if "never awaited" in str(w.message)]
