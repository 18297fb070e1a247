"""``ModelGateway``: failover, load balancing and circuit breaking across models and replicas.

```python
import msgflux as mf

gateway = mf.ModelGateway(
    [
        {"name": "a", "group": "small", "model": mf.Model.chat_completion(
            "llamacpp/smollm2", base_url="http://127.0.0.1:8081/v1")},
        {"name": "b", "group": "small", "model": mf.Model.chat_completion(
            "llamacpp/smollm2", base_url="http://127.0.0.1:8082/v1")},
        {"name": "hosted", "group": "large", "model": "openai/gpt-4.1-mini"},
    ],
    strategy="least_busy",
)
print(gateway("Hello").consume())
```

The modules, one concept each:

- ``_deployments``: deployments, groups and settings, checked at construction;
- ``_legacy``: msgflux 0.5's spelling (``model_name``, ``fallback=``);
- ``_windows``: time constraints (UTC windows in which a deployment is not used);
- ``_classify``: what each error means for routing (the table of error classes);
- ``_breaker``: the circuit breaker of one deployment;
- ``_strategies``: the routing strategies within a group;
- ``_state``: the routing state shared by all callers (breakers, load, counters);
- ``_route``: one call's walk over the deployments, shared by sync, async and streams;
- ``_stream``: stream failover (a relay that moves a stream only before delivery);
- ``_accounting``: ``metadata.gateway`` and ``ModelRouterError``;
- ``_serialize``: ``serialize()`` / ``Model.from_serialized``;
- ``_portable``: pickles, copies and forks;
- ``gateway``: the ``ModelGateway`` class.
"""

from msgflux.errors import GatewayAttempt, ModelRouterError, StreamInterruptedError
from msgflux.gateway._classify import FAILOVER_CLASSES
from msgflux.gateway._deployments import Deployment
from msgflux.gateway._strategies import STRATEGIES
from msgflux.gateway.gateway import ModelGateway

__all__ = [
    "FAILOVER_CLASSES",
    "STRATEGIES",
    "Deployment",
    "GatewayAttempt",
    "ModelGateway",
    "ModelRouterError",
    "StreamInterruptedError",
]
