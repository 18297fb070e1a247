"""A gateway as JSON-safe data and back (``serialize()`` / ``mf.Model.from_serialized``).

Each deployment's model is stored by its own ``serialize()`` (never an API key: the
rebuilt models read their keys from the environment, as serialized models do); the
gateway's settings beside them. Only the settings that differ from the defaults are
written. Test clocks are not state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from msgflux.errors import MissingAPIKeyError
from msgflux.gateway._classify import DEFAULT_FAILOVER_ON

if TYPE_CHECKING:
    from msgflux.gateway._deployments import Deployment, GatewayConfig

__all__ = ["MSGFLUX_TYPE", "deserialize", "serialize"]

MSGFLUX_TYPE = "model_gateway"

_DEFAULTS: dict[str, Any] = {
    "strategy": "ordered",
    "fallbacks": None,
    "context_length_fallbacks": {},
    "failover_on": sorted(DEFAULT_FAILOVER_ON),
    "failure_threshold": 3,
    "cooldown": 30.0,
    "timeout": None,
    "max_attempts": None,
    "fallback": True,
}


def serialize(config: GatewayConfig, cache: Any = None, cache_ttl: Any = None) -> dict[str, Any]:
    """``{"msgflux_type": "model_gateway", "model_type": ..., "state": {...}}``.

    A cache is written as its spelling (a Redis URL without its password); a backend object
    is not state, and is left out.
    """
    settings: dict[str, Any] = {
        "strategy": config.strategy,
        "fallbacks": _groups(config.fallbacks),
        "context_length_fallbacks": _groups(config.context_length_fallbacks),
        "failover_on": sorted(config.failover_on),
        "failure_threshold": config.failure_threshold,
        "cooldown": config.cooldown,
        "timeout": _json("timeout", config.timeout),
        "max_attempts": config.max_attempts,
        "fallback": config.fallback,
    }
    state = {name: value for name, value in settings.items() if value != _DEFAULTS[name]}
    if isinstance(cache, bool | str) and cache is not False:
        from msgflux.cache.redis import redact_url

        state["cache"] = cache if isinstance(cache, bool) else redact_url(cache)
        if cache_ttl is not None:
            state["cache_ttl"] = cache_ttl
    state["deployments"] = [_deployment(d) for d in config.deployments]
    return {"msgflux_type": MSGFLUX_TYPE, "model_type": "chat_completion", "state": state}


def _deployment(deployment: Deployment) -> dict[str, Any]:
    serialize_model = getattr(deployment.model, "serialize", None)
    if serialize_model is None:
        raise TypeError(
            f"deployment {deployment.name!r}: its model ({type(deployment.model).__name__}) "
            "has no serialize(), so the gateway cannot be serialized"
        )
    entry: dict[str, Any] = {
        "name": deployment.name,
        "group": deployment.group,
        "model": serialize_model(),
    }
    if deployment.weight != 1.0:
        entry["weight"] = deployment.weight
    if deployment.timeout is not None:
        entry["timeout"] = _json(f"deployment {deployment.name!r}: timeout", deployment.timeout)
    if deployment.time_constraints:
        entry["time_constraints"] = [w.as_strings() for w in deployment.time_constraints]
    if deployment.description is not None:
        entry["description"] = deployment.description
    return entry


def _groups(value: Mapping[str, tuple[str, ...]] | None) -> dict[str, list[str]] | None:
    return None if value is None else {group: list(targets) for group, targets in value.items()}


def _json(what: str, value: Any) -> Any:
    try:
        return msgspec.to_builtins(value)
    except TypeError as exc:
        raise TypeError(f"{what} {value!r} cannot be serialized: {exc}") from None


def deserialize(
    data: Mapping[str, Any], model_overrides: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The ``ModelGateway`` constructor's arguments from ``serialize()``'s output.

    Args:
        data: What ``serialize()`` returned.
        model_overrides: ``{deployment name: options}`` for rebuilding its model.
    """
    if not isinstance(data, Mapping) or data.get("msgflux_type") != MSGFLUX_TYPE:
        raise ValueError("expected the dict returned by ModelGateway.serialize()")
    from msgflux.models.model import Model

    state = dict(data.get("state") or {})
    entries = state.pop("deployments", None)
    if not entries:
        raise ValueError("the serialized gateway has no deployments")
    names = [entry.get("name") for entry in entries]
    unknown = sorted(set(model_overrides) - set(names))
    if unknown:
        raise ValueError(
            f"model_overrides names {unknown}, which are not deployments of this gateway "
            f"({', '.join(map(repr, names))})"
        )
    deployments = []
    for entry in entries:
        entry = dict(entry)
        options = model_overrides.get(str(entry.get("name")), {})
        try:
            entry["model"] = Model.from_serialized(entry["model"], **options)
        except MissingAPIKeyError as exc:  # say which deployment needs the key
            raise MissingAPIKeyError(f"deployment {entry.get('name')!r}: {exc}") from exc
        deployments.append(entry)
    return {"models": deployments, **state}
