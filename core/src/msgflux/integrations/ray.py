"""Run a msgflux model over a Ray ``Dataset``: ``pip install 'msgflux[ray]'``.

```python
import ray
import msgflux as mf
from msgflux.integrations.ray import ModelPredictor

model = mf.Model.chat_completion("openai/gpt-4.1-mini", temperature=0)
ds = ray.data.from_items([{"prompt": "Classify: ..."}, ...])
answers = ds.map_batches(
    ModelPredictor,
    fn_constructor_kwargs={"model": model, "max_concurrency": 32},
    concurrency=4,          # worker actors
    batch_size=256,
)
answers.take(3)  # [{"prompt": ..., "response": "...", "error": None}, ...]
```

Each worker actor builds the model once (the model travels pickled, without its API key:
each worker reads the key from its own environment, e.g. given with
``ray.init(runtime_env={"env_vars": {"OPENAI_API_KEY": ...}})``) and keeps one event loop,
so its connections live across batches. Each batch runs as ``model.abatch`` inside the
worker: concurrent calls, adaptive to the provider's rate limits (per worker: give each a
share of a budget with ``requests_per_minute``). A failed row keeps its error in the
``error`` column; the batch goes on.

Ray itself is imported by the caller, never by this module or by ``import msgflux``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ModelPredictor"]


class ModelPredictor:
    """A callable class for ``Dataset.map_batches``: one model per worker, calls async inside.

    Args:
        model: A model or a ``ModelGateway`` (pickled to the workers), a
            ``"provider/model"`` path, or the dict of ``model.serialize()`` (or
            ``gateway.serialize()``).
        input_column: The column with each row's input: a prompt, a list of messages, or
            a dict of call arguments (what ``model(...)`` takes).
        output_column: Where the answer goes: text as is, structured output and tool calls
            as JSON text; ``None`` for a failed row.
        error_column: Where a failed row's error goes (``"Type: message"``), else ``None``.
        model_options: Options for a model given as a path or a serialized dict.
        **batch_options: For ``abatch``: ``max_concurrency``, ``requests_per_minute``,
            ``tokens_per_minute``, ``adaptive``, and call options for every row
            (``temperature=0``, ``system_prompt=...``).
    """

    def __init__(
        self,
        model: Any,
        *,
        input_column: str = "prompt",
        output_column: str = "response",
        error_column: str = "error",
        model_options: Mapping[str, Any] | None = None,
        **batch_options: Any,
    ) -> None:
        self.model = _build(model, dict(model_options or {}))
        self.input_column = input_column
        self.output_column = output_column
        self.error_column = error_column
        self.batch_options = {"progress": False, **batch_options}
        self._loop = asyncio.new_event_loop()

    def __call__(self, batch: Any) -> Any:
        """Answer one batch (a dict of columns, or a pandas DataFrame); rows keep their order."""
        if self.input_column not in batch:
            raise KeyError(
                f"the batch has no column {self.input_column!r} (columns: {list(batch)}); "
                "pass input_column= to ModelPredictor"
            )
        inputs = [_plain(value) for value in batch[self.input_column]]
        results = self._loop.run_until_complete(self.model.abatch(inputs, **self.batch_options))
        batch[self.output_column] = [
            _answer(item.response) if item.ok else None for item in results
        ]
        batch[self.error_column] = [
            None if item.ok else f"{type(item.error).__name__}: {item.error}" for item in results
        ]
        return batch

    def __del__(self) -> None:
        loop = getattr(self, "_loop", None)
        if loop is None or loop.is_closed() or loop.is_running():
            return
        closing = self.model.aclose()
        try:
            loop.run_until_complete(closing)
        except Exception:
            # The loop could not run here (the collector called this on a thread whose own
            # loop is running, or the actor is being torn down): never leave the coroutine
            # unawaited, and release the connections the blocking way.
            closing.close()
            try:
                self.model.close()
            except Exception:
                pass
        finally:
            loop.close()


def _build(model: Any, options: dict[str, Any]) -> Any:
    import msgflux as mf

    if isinstance(model, str):
        return mf.Model.chat_completion(model, **options)
    if isinstance(model, Mapping):
        return mf.Model.from_serialized(model, **options)
    if options:
        raise TypeError("model_options= applies to a model given as a path or a serialized dict")
    return model


def _plain(value: Any) -> Any:
    """A column value as ``model(...)`` takes it (Arrow gives numpy arrays for lists)."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _answer(response: Any) -> str:
    data = response.consume()
    if isinstance(data, str):
        return data
    if hasattr(data, "get_calls"):  # a ToolCallAggregator
        data = data.get_calls()
    return json.dumps(data, ensure_ascii=False, default=str)
