"""Deployments, groups and the gateway's settings: declared once, checked at construction.

A deployment is one model at one endpoint. Deployments that serve the same logical model
(replicas: the same model behind other ``base_url`` values) share a ``group``; a call goes
to a group, and a group falls back to other groups in the declared order. A deployment
without ``group`` is a group of its own, named after it (msgflux 0.5's lists are such).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from msgflux.gateway._classify import CONTENT_POLICY, CONTEXT_LENGTH, FAILOVER_CLASSES
from msgflux.gateway._legacy import normalize_entry
from msgflux.gateway._strategies import STRATEGIES
from msgflux.gateway._windows import TimeWindow, parse_windows
from msgflux.models.settings import unknown_keyword

__all__ = ["Deployment", "GatewayConfig", "build_config", "model_path"]

#: The keys of a deployment dict (besides msgflux 0.5's ``model_name``, an alias of ``name``).
DEPLOYMENT_KEYS = ("name", "model", "group", "weight", "timeout", "time_constraints", "description")


@dataclass(frozen=True, slots=True)
class Deployment:
    """One model at one endpoint, as the gateway routes to it.

    Attributes:
        name: Unique among the gateway's deployments (logs, metadata, ``model_preference``).
        model: The chat-completion model (as given; the gateway calls it with its own
            retries off: see ``ModelGateway``).
        group: The logical model it serves; replicas share one.
        weight: Its share of traffic under the ``"weighted"`` strategy.
        timeout: The ``timeout=`` of each attempt on it, unless the call passes one.
        time_constraints: UTC windows during which it is not used.
        description: What it is good at (free text, kept for people and routers).
    """

    name: str
    model: Any
    group: str
    weight: float = 1.0
    timeout: Any = None
    time_constraints: tuple[TimeWindow, ...] = ()
    description: str | None = None

    @property
    def model_path(self) -> str:
        """``"provider/model-id"`` of its model."""
        return model_path(self.model)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything a gateway was told, checked (see ``ModelGateway`` for each setting)."""

    deployments: tuple[Deployment, ...]
    groups: Mapping[str, tuple[Deployment, ...]]
    strategy: str = "ordered"
    fallbacks: Mapping[str, tuple[str, ...]] | None = None
    context_length_fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    failover_on: frozenset[str] = frozenset()
    failure_threshold: int = 3
    cooldown: float = 30.0
    timeout: Any = None
    max_attempts: int | None = None
    fallback: bool = True

    def plan(self, group: str) -> list[str]:
        """The groups a call that starts at ``group`` may use, in order."""
        if not self.fallback:
            return [group]
        if self.fallbacks is None:  # not declared: every group, in the declared order
            return [group, *(name for name in self.groups if name != group)]
        return [group, *self.fallbacks.get(group, ())]


def model_path(model: Any) -> str:
    """``"provider/model-id"`` of a model (``"?"`` for what a model does not say)."""
    return f"{getattr(model, 'provider', '?')}/{getattr(model, 'model_id', '?')}"


def build_config(
    models: Any,
    *,
    strategy: str,
    fallbacks: Mapping[str, Iterable[str]] | None,
    context_length_fallbacks: Mapping[str, Iterable[str]] | None,
    failover_on: Iterable[str],
    failure_threshold: int,
    cooldown: float,
    timeout: Any,
    max_attempts: int | None,
    fallback: bool,
) -> GatewayConfig:
    """Check the constructor's arguments; every error says what to fix."""
    deployments = _deployments(models)
    groups: dict[str, tuple[Deployment, ...]] = {}
    for deployment in deployments:
        groups[deployment.group] = (*groups.get(deployment.group, ()), deployment)
    if not isinstance(fallback, bool):
        raise TypeError(f"fallback must be True or False, got {fallback!r}")
    return GatewayConfig(
        deployments=deployments,
        groups=groups,
        strategy=_choice("strategy", strategy, STRATEGIES),
        fallbacks=None if fallbacks is None else _fallbacks("fallbacks", fallbacks, groups),
        context_length_fallbacks=_fallbacks(
            "context_length_fallbacks", context_length_fallbacks or {}, groups
        ),
        failover_on=_failover_on(failover_on),
        failure_threshold=_whole("failure_threshold", failure_threshold, minimum=1),
        cooldown=_seconds("cooldown", cooldown),
        timeout=_timeout("timeout", timeout),
        max_attempts=None if max_attempts is None else _whole("max_attempts", max_attempts, 1),
        fallback=fallback,
    )


# -- deployments ---------------------------------------------------------------------------------


def _deployments(models: Any) -> tuple[Deployment, ...]:
    if isinstance(models, str | bytes | Mapping) or not isinstance(models, Sequence):
        raise TypeError(
            "ModelGateway takes a list of deployments, e.g. [{'name': 'primary', 'model': "
            f"mf.Model.chat_completion('openai/gpt-4.1-mini')}}, ...]; got {type(models).__name__}"
        )
    if not models:
        raise ValueError(
            "ModelGateway needs at least one deployment: pass a list of {'name': ..., "
            "'model': ...} dicts (one per model or replica)"
        )
    deployments = tuple(_deployment(position, entry) for position, entry in enumerate(models))
    _check_unique_names(deployments)
    _check_model_types(deployments)
    return deployments


def _deployment(position: int, entry: Any) -> Deployment:
    if not isinstance(entry, Mapping):
        raise TypeError(
            f"deployment {position} must be a dict with at least 'model' (and usually "
            f"'name'), got {type(entry).__name__}"
        )
    entry = normalize_entry(position, entry)
    for key in entry:
        if key not in DEPLOYMENT_KEYS:
            raise unknown_keyword(f"deployment {position}", key, DEPLOYMENT_KEYS)
    if "model" not in entry:
        raise ValueError(f"deployment {position} has no 'model': give a model or 'provider/id'")
    model = _model(position, entry["model"])
    name = entry.get("name", model_path(model))
    if not isinstance(name, str) or not name:
        raise TypeError(f"deployment {position}: 'name' must be a non-empty string, got {name!r}")
    group = entry.get("group", name)
    if not isinstance(group, str) or not group:
        raise TypeError(f"deployment {name!r}: 'group' must be a non-empty string, got {group!r}")
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        raise TypeError(f"deployment {name!r}: 'description' must be a string")
    return Deployment(
        name=name,
        model=model,
        group=group,
        weight=_weight(name, entry.get("weight", 1.0)),
        timeout=_timeout(f"deployment {name!r}: 'timeout'", entry.get("timeout")),
        time_constraints=parse_windows(name, entry.get("time_constraints")),
        description=description,
    )


def _model(position: int, model: Any) -> Any:
    if isinstance(model, str):
        from msgflux.models.model import Model

        return Model.chat_completion(model)
    if not (callable(model) and callable(getattr(model, "acall", None))):
        raise TypeError(
            f"deployment {position}: 'model' must be a chat-completion model "
            f"(mf.Model.chat_completion(...)) or a 'provider/model-id' string, got {model!r}"
        )
    return model


def _weight(name: str, weight: Any) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
        raise ValueError(f"deployment {name!r}: 'weight' must be a number > 0, got {weight!r}")
    return float(weight)


def _check_unique_names(deployments: Sequence[Deployment]) -> None:
    seen: dict[str, int] = {}
    for position, deployment in enumerate(deployments):
        if deployment.name in seen:
            raise ValueError(
                f"deployments {seen[deployment.name]} and {position} are both named "
                f"{deployment.name!r}: give each deployment its own 'name' (replicas of one "
                "model share a 'group' instead)"
            )
        seen[deployment.name] = position


def _check_model_types(deployments: Sequence[Deployment]) -> None:
    kinds = {d.name: getattr(d.model, "model_type", None) for d in deployments}
    others = {name: kind for name, kind in kinds.items() if kind != "chat_completion"}
    if others:
        described = ", ".join(f"{name!r} is {kind!r}" for name, kind in others.items())
        raise TypeError(
            "every deployment of a ModelGateway must be a chat-completion model "
            f"(model_type 'chat_completion'), but {described}: route other model types "
            "with a gateway of their own"
        )


# -- settings --------------------------------------------------------------------------------------


def _fallbacks(
    option: str, value: Mapping[str, Iterable[str]], groups: Mapping[str, Any]
) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{option} must be a dict of group -> list of groups, e.g. "
            f"{{'small': ['large']}}; got {type(value).__name__}"
        )
    checked: dict[str, tuple[str, ...]] = {}
    for group, targets in value.items():
        _known_group(f"{option} has a key", group, groups)
        if isinstance(targets, str) or not isinstance(targets, Iterable):
            raise TypeError(f"{option}[{group!r}] must be a list of group names, got {targets!r}")
        targets = tuple(targets)
        for target in targets:
            _known_group(f"{option}[{group!r}] names", target, groups)
            if target == group:
                raise ValueError(f"{option}[{group!r}] names the group itself: remove it")
        checked[group] = tuple(dict.fromkeys(targets))
    return checked


def _known_group(where: str, name: Any, groups: Mapping[str, Any]) -> None:
    if name in groups:
        return
    close = difflib.get_close_matches(str(name), list(groups), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"{where} {name!r}, which no deployment declares as its group; groups: "
        f"{', '.join(map(repr, groups))}.{hint}"
    )


def _failover_on(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"failover_on must be a list of error classes, got {value!r}")
    classes = frozenset(value)
    for name in classes:
        if name == CONTENT_POLICY:
            raise ValueError(
                "failover_on cannot contain 'content_policy': a content-policy refusal is "
                "the answer to the request, returned (or raised) as it is"
            )
        if name == CONTEXT_LENGTH:
            raise ValueError(
                "failover_on cannot contain 'context_length': declare where such requests go "
                "with context_length_fallbacks={'group': ['larger-context group']}"
            )
        if name not in FAILOVER_CLASSES:
            _reject_choice("failover_on", name, FAILOVER_CLASSES)
    return classes


def _choice(option: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        _reject_choice(option, value, allowed)
    return str(value)


def _reject_choice(option: str, value: Any, allowed: Sequence[str]) -> None:
    close = difflib.get_close_matches(str(value), allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"{option} {value!r} is not one of {', '.join(map(repr, allowed))}.{hint}")


def _whole(option: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{option} must be an integer >= {minimum}, got {value!r}")
    return value


def _seconds(option: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{option} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _timeout(option: str, value: Any) -> Any:
    """``None``, a positive number of seconds, or a timeout object the models accept."""
    if value is None or not isinstance(value, int | float | bool):
        return value  # a timeout object (e.g. msgflux.Timeout) is checked by the model
    if isinstance(value, bool) or not value > 0:
        raise ValueError(f"{option} must be a positive number of seconds, got {value!r}")
    return value
