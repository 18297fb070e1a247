"""Scoped hook dispatch: one provider's hook chain as plain functions, resolved once.

A model calls ``hooks.adapt_params(model, params)``, ``hooks.process_output(model, output,
response)``... Each attribute of :class:`ResolvedHooks` runs the implementations of the
provider's chain, base first, in one of two ways:

- a *replacing* hook (``initialize_client``, ``adapt_params``, ``extract_reasoning``) passes
  each implementation the value the previous one produced, as its last argument; an
  implementation returns the replacement, or ``None`` to keep it;
- an *in-turn* hook (``validate_options``, ``process_output``) runs every implementation for
  its side effects.

Implementations may take any subset of a hook's arguments (pluggy allows it): the positions
each one takes are worked out once, here, and picked at call time. No code is generated: a
traceback through a hook shows one frame of this module (``run_replacing_hook``,
``run_replacing_chain`` or ``run_hooks_in_turn``), then the plugin's own function; a single
implementation of an in-turn hook that takes every argument is called directly, with no
frame of ours (``process_output`` runs once per stream chunk).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from msgflux.providers import ProviderSpec, Quirks

__all__ = ["HOOK_ARGUMENTS", "HookImpl", "ResolvedHooks", "compose"]

#: Every per-model hook with its full argument list, in the order the pipeline uses them.
HOOK_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "validate_options": ("model", "options"),
    "initialize_client": ("model", "clients"),
    "adapt_params": ("model", "params"),
    "extract_reasoning": ("model", "message", "reasoning"),
    "process_output": ("model", "output", "response"),
}

_REPLACING = frozenset({"initialize_client", "adapt_params", "extract_reasoning"})

Picker = Callable[[tuple[Any, ...]], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class HookImpl:
    """One plugin's implementation of one hook.

    Attributes:
        plugin: The name the plugin was registered under (its entry point name).
        function: The implementation.
        pick: Selects the arguments ``function`` takes from the hook's full argument tuple;
            ``None`` when it takes them all.
    """

    plugin: str
    function: Callable[..., Any]
    pick: Picker | None

    @classmethod
    def bind(
        cls, hook: str, plugin: str, function: Callable[..., Any], argnames: Sequence[str]
    ) -> HookImpl:
        """Describe ``function``, which names ``argnames`` among ``hook``'s arguments."""
        full = HOOK_ARGUMENTS[hook]
        if tuple(argnames) == full:
            return cls(plugin, function, None)
        return cls(plugin, function, _picker(tuple(full.index(name) for name in argnames)))


def _picker(positions: tuple[int, ...]) -> Picker:
    if len(positions) == 1:
        (position,) = positions

        def pick_one(args: tuple[Any, ...]) -> tuple[Any, ...]:
            return (args[position],)

        return pick_one
    if not positions:
        return lambda args: ()
    return operator.itemgetter(*positions)


def compose(hook: str, impls: Sequence[HookImpl]) -> Callable[..., Any]:
    """The function that runs ``impls`` (base first) as ``hook`` prescribes."""
    if hook in _REPLACING:
        return _replacing(impls)
    return _in_turn(impls)


def _replacing(impls: Sequence[HookImpl]) -> Callable[..., Any]:
    if not impls:
        return _keep
    if len(impls) == 1:
        function, pick = impls[0].function, impls[0].pick

        def run_replacing_hook(*args: Any) -> Any:
            result = function(*args) if pick is None else function(*pick(args))
            return args[-1] if result is None else result

        return run_replacing_hook

    steps = [(impl.function, impl.pick) for impl in impls]

    def run_replacing_chain(*args: Any) -> Any:
        head, value = args[:-1], args[-1]
        for function, pick in steps:
            call_args = (*head, value)
            result = function(*call_args) if pick is None else function(*pick(call_args))
            if result is not None:
                value = result
        return value

    return run_replacing_chain


def _in_turn(impls: Sequence[HookImpl]) -> Callable[..., None]:
    if not impls:
        return _nothing
    if len(impls) == 1 and impls[0].pick is None:
        return impls[0].function
    steps = [(impl.function, impl.pick) for impl in impls]

    def run_hooks_in_turn(*args: Any) -> None:
        for function, pick in steps:
            if pick is None:
                function(*args)
            else:
                function(*pick(args))

    return run_hooks_in_turn


def _keep(*args: Any) -> Any:
    return args[-1]


def _nothing(*args: Any) -> None:
    return None


@dataclass(frozen=True)
class ResolvedHooks:
    """The hook chain of one provider, resolved once and called by each model instance.

    Every hook attribute is a plain callable taking the hook's full argument list.

    Attributes:
        chain: The provider's spec and its bases', base first.
        quirks: The chain's quirks merged (``Quirks.merge``), nearest provider winning.
    """

    chain: tuple[ProviderSpec, ...]
    quirks: Quirks
    validate_options: Callable[..., None]
    initialize_client: Callable[..., Any]
    adapt_params: Callable[..., dict[str, Any]]
    extract_reasoning: Callable[..., str | None]
    process_output: Callable[..., None]

    @cached_property
    def provider_names(self) -> frozenset[str]:
        """The names of the chain's providers (whose ``provider_data`` a request carries)."""
        return frozenset(spec.name for spec in self.chain)
