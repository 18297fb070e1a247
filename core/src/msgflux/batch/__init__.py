"""Run a model (or a gateway, or any callable) over many inputs, as fast as the server allows.

```python
results = model.batch(["Classify: ...", "Classify: ..."], max_concurrency=32)
for item in results:           # one BatchItem per input, in input order
    print(item.response.consume() if item.ok else item.error)
results = await model.abatch(inputs, requests_per_minute=500)   # from async code
```

- **Inputs**: what ``model(...)`` takes: a prompt, a list of messages, or a dict of call
  arguments (``{"messages": ..., "temperature": 0}``); keyword arguments of ``batch``
  that it does not know apply to every call.
- **Results**: in input order; an item that failed holds its error (``item.error``), the
  others go on.
- **Speed**: at most ``max_concurrency`` calls in flight; optional ``requests_per_minute``
  and ``tokens_per_minute`` budgets; and the batch adapts to the server (additive
  increase, multiplicative decrease): a 429 or ``x-ratelimit-remaining-*`` headers at zero
  slow it down, ``Retry-After`` pauses new calls, and it speeds back up while the server
  keeps up. A 429 is retried by the batch (not by the model's retry policy, so attempts
  never multiply); other errors are retried by the model's own policy within the call.
- **Gateways**: ``gateway.batch(...)`` runs the same way. The gateway fails a 429 over to
  another deployment; a call that no deployment could take because each was rate-limited
  or resting (``ModelRouterError.rate_limited``) is a 429 for the batch, which waits
  ``error.retry_after`` (the soonest deployment back) and sends the item again. The
  deployments' declared limits (rate-limit headers) add up.
- **Progress**: a tqdm bar on stderr when it is a terminal (``progress=``), and
  ``on_result=`` for programs.

The ``msgflux batch`` command runs OpenAI Batch API files through this, resumably; see
``docs/cli.md``. ``msgflux.integrations.ray`` runs it inside Ray Data workers.
"""

from __future__ import annotations

from msgflux.batch._results import BatchItem, BatchResults, BatchStats
from msgflux.batch._runner import abatch
from msgflux.batch._sync import batch

__all__ = ["BatchItem", "BatchResults", "BatchStats", "abatch", "batch"]
