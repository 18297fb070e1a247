"""Gateways that travel: pickles for other processes, copies in this one, and forks.

A pickled gateway carries its configuration: its class (by reference), every deployment
(name, group, weight, timeout, time constraints, description) with its model pickled by
the model's own support (no API key: the receiving process reads its own environment, see
``msgflux.models.portable``), the strategy, the groups' fallbacks, the breaker settings,
the timeouts, ``max_attempts`` and the cache's spelling and ``cache_ttl``. It never
carries the routing state (circuits, in-flight counts, latencies, counters and their
lock), which starts fresh in the receiver, nor test clocks (``clock=``, ``utc_clock=``):
the receiver uses the real ones. A cache spelled ``"memory"`` starts empty there; a disk
or Redis cache is opened by the receiver at the same place.

What cannot travel is refused when pickling, naming the deployment and what to do: a
model that does not pickle (an injected client, a credential in ``extra_headers``...) or
a cache backend object that does not pickle.

``copy.copy`` and ``copy.deepcopy`` give a gateway with the same configuration, its own
routing state (the copy's circuits are its own) and its own cache (a spelled one is opened
again: ``"memory"`` starts empty; a backend object is shared, as models share theirs).
``copy.copy`` shares the deployments' models; ``copy.deepcopy`` copies them (each with
``copy.deepcopy``: same key, own connections). Both keep test clocks: they stay in this
process.

After ``os.fork()`` a gateway in the child starts with fresh routing state: the parent's
requests in flight (a probe among them) never finish in the child, and its lock may have
been held at the fork. The models open their own connections in the child.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from msgflux.gateway._deployments import Deployment, GatewayConfig
    from msgflux.gateway.gateway import ModelGateway

__all__ = ["copy_gateway", "reduce_gateway", "restore_gateway", "track_forks"]

#: A cache spelled with these travels as its spelling; the receiver opens it.
_SPELLINGS = (bool, str, os.PathLike)


# -- pickling -------------------------------------------------------------------------------------


def reduce_gateway(gateway: ModelGateway) -> tuple[Any, ...]:
    """``gateway.__reduce__``: rebuild from the class, the settings and the cache spelling."""
    config = gateway._config
    cache, cache_ttl = gateway._cache_spec
    for deployment in config.deployments:
        _check_model_travels(deployment)
    _check_cache_travels(cache)
    return (restore_gateway, (type(gateway), config, cache, cache_ttl))


def restore_gateway(
    cls: type[ModelGateway], config: GatewayConfig, cache: Any, cache_ttl: float | None
) -> ModelGateway:
    """A gateway of ``cls`` with ``config`` and fresh routing state (real clocks)."""
    gateway = cls.__new__(cls)
    gateway._assemble(config, cache, cache_ttl, clock=None, utc_clock=None)
    return gateway


def _check_model_travels(deployment: Deployment) -> None:
    try:
        pickle.dumps(deployment.model)
    except Exception as exc:
        raise TypeError(
            f"cannot pickle the ModelGateway: the model of deployment {deployment.name!r} "
            f"({deployment.model_path}) does not pickle: {exc}. Give that deployment a model "
            "that can travel (no injected client= or other live object), or build the "
            "gateway in the worker (e.g. mf.Model.from_serialized(gateway.serialize()))."
        ) from exc


def _check_cache_travels(cache: Any) -> None:
    if cache is None or isinstance(cache, _SPELLINGS):
        return
    try:
        pickle.dumps(cache)
    except Exception as exc:
        raise TypeError(
            f"cannot pickle the ModelGateway: its cache= is a live object "
            f"({type(cache).__name__}) that does not pickle ({exc}). Spell the cache "
            "instead ('memory', 'disk', 'sqlite:///PATH', 'redis://...'), which each process "
            "opens for itself, or build the gateway in the worker."
        ) from exc


# -- copies ---------------------------------------------------------------------------------------


def copy_gateway(gateway: ModelGateway, memo: dict[int, Any] | None = None) -> ModelGateway:
    """``copy.copy`` (``memo`` is ``None``: models shared) or ``copy.deepcopy`` (models
    copied): the same settings and clocks, a routing state and a cache of its own."""
    config = gateway._config
    if memo is not None:
        config = _with_copied_models(config, memo)
    cache, cache_ttl = gateway._cache_spec
    clone = type(gateway).__new__(type(gateway))
    if memo is not None:
        memo[id(gateway)] = clone
    clone._assemble(
        config, cache, cache_ttl, clock=gateway._state.clock, utc_clock=gateway._utc_clock
    )
    return clone


def _with_copied_models(config: GatewayConfig, memo: dict[int, Any]) -> GatewayConfig:
    deployments = tuple(
        dataclasses.replace(d, model=_copied_model(d, memo)) for d in config.deployments
    )
    by_name = {d.name: d for d in deployments}
    groups = {
        group: tuple(by_name[d.name] for d in members) for group, members in config.groups.items()
    }
    return dataclasses.replace(config, deployments=deployments, groups=groups)


def _copied_model(deployment: Deployment, memo: dict[int, Any]) -> Any:
    try:
        return copy.deepcopy(deployment.model, memo)
    except Exception as exc:
        raise TypeError(
            f"cannot deepcopy the ModelGateway: the model of deployment {deployment.name!r} "
            f"({deployment.model_path}) cannot be copied: {exc}. Use copy.copy(gateway), "
            "which shares the deployments' models."
        ) from exc


# -- forks ----------------------------------------------------------------------------------------

_LIVE: weakref.WeakSet[ModelGateway] = weakref.WeakSet()


def track_forks(gateway: ModelGateway) -> None:
    """Give ``gateway`` fresh routing state in the child of every later ``os.fork()``."""
    _LIVE.add(gateway)


def _restart_all() -> None:
    # The child has one thread: nothing else touches the gateways while this runs.
    for gateway in list(_LIVE):
        gateway._restart_routing()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_restart_all)
