"""``ModelGateway``: one object that calls like a chat-completion model and routes each call
over several deployments (replicas, fallback models, other providers)."""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from msgflux.gateway import _portable, _stream
from msgflux.gateway._cache import GatewayCache
from msgflux.gateway._classify import DEFAULT_FAILOVER_ON
from msgflux.gateway._deployments import Deployment, GatewayConfig, build_config
from msgflux.gateway._route import Route
from msgflux.gateway._state import RoutingState
from msgflux.gateway._windows import UTCClock, utc_now
from msgflux.models.response import ModelResponse, ModelStreamResponse

if TYPE_CHECKING:
    from msgflux.batch import BatchResults

__all__ = ["ModelGateway"]

Messages = str | list[dict[str, Any]]


class ModelGateway:
    """Routes each call over a list of deployments, with failover, load balancing and
    circuit breaking; called exactly like a chat-completion model.

    ```python
    import msgflux as mf

    gateway = mf.ModelGateway(
        [
            {"name": "local-a", "group": "small", "model": mf.Model.chat_completion(
                "vllm/qwen3", base_url="http://10.0.0.1:8000/v1")},
            {"name": "local-b", "group": "small", "model": mf.Model.chat_completion(
                "vllm/qwen3", base_url="http://10.0.0.2:8000/v1")},
            {"name": "hosted", "group": "large", "model": "openai/gpt-4.1-mini"},
        ],
        strategy="least_busy",
        fallbacks={"small": ["large"]},
        context_length_fallbacks={"small": ["large"]},
    )
    response = gateway("Hello")
    response.metadata.gateway  # {"deployment": "local-b", "attempts": [...], ...}
    ```

    Args:
        models: The deployments, each a dict with:

            - ``model``: a chat-completion model, or a ``"provider/model-id"`` string;
            - ``name``: unique (default ``"provider/model-id"``); msgflux 0.5's
              ``model_name`` is accepted for it;
            - ``group``: the logical model it serves (default: its name); replicas share one;
            - ``weight``: its share under ``strategy="weighted"`` (default 1);
            - ``timeout``: the ``timeout=`` of each attempt on it (default: the gateway's);
            - ``time_constraints``: UTC ``("HH:MM", "HH:MM")`` windows in which it is not
              used, e.g. ``[("22:00", "06:00")]`` (spanning midnight is fine);
            - ``description``: free text.
        strategy: How a group's deployments are ordered: ``"ordered"`` (as declared),
            ``"weighted"``, ``"least_busy"`` or ``"lowest_latency"`` (see
            ``msgflux.gateway._strategies`` for when to use which).
        fallbacks: ``{group: [groups to try next, in order]}``. ``None`` (the default):
            every group falls back to all the others in declared order, as in msgflux 0.5.
        context_length_fallbacks: ``{group: [larger-context groups]}``: where a request
            goes when a deployment says it exceeds its context window. Without an entry,
            that error is raised.
        failover_on: The error classes that move a call to the next deployment:
            ``"unavailable"`` and ``"rate_limited"`` by default; add ``"auth"`` or
            ``"bad_request"`` to fail over on those too. A content-policy refusal is never
            failed over (see ``msgflux.gateway._classify`` for the table).
        failure_threshold: Consecutive failures that open a deployment's circuit.
        cooldown: Seconds an open circuit waits before letting one probe request through.
        timeout: The ``timeout=`` of every attempt (a deployment's own ``timeout`` wins, a
            call's ``timeout=`` wins over both); ``None`` keeps each model's own.
        max_attempts: At most this many attempts per call (default: each usable
            deployment once).
        fallback: ``False`` keeps a call on its first group (msgflux 0.5's switch).
        cache: A response cache for the gateway's answers, spelled as a model's ``cache=``
            (``"memory"``, ``"disk"``, ``"redis://..."``, a backend...): one entry per request
            whichever deployment answered it; streams replay. A call's ``cache_ttl=`` wins.
        cache_ttl: Seconds an answer stays in the cache (``None``: the backend's default).
        clock: Monotonic seconds, for tests of the circuit breakers.
        utc_clock: The current UTC ``datetime``, for tests of time constraints.

    Calling: ``gateway(messages, **options)``, ``await gateway.acall(...)``, with the
    options of ``ChatCompletionModel.__call__`` (``stream=True`` included) plus
    ``model_preference=``: a group or a deployment name to start with.

    Retries: the gateway calls each deployment with the deployment's own retry policy
    off (inside ``msgflux.utils.retry.retries_off()``; the model you passed keeps its
    policy for direct calls), and owns the policy itself: a failure that can be failed
    over goes to the next deployment at once, each deployment is tried at most once per
    call, and an open circuit is skipped.
    So an outage costs at most one failed attempt per cooldown, not a retry ladder per
    request. A 429 (or 503) with ``Retry-After`` rests the deployment for that long; a
    429 without it fails the call over and leaves the circuit alone (busy, not down).

    Answers carry ``response.metadata.gateway`` (``deployment``, ``group``, ``model``,
    ``attempts``) beside their own ``usage``; ``stats()`` has the counters. A call no
    deployment answered raises ``ModelRouterError`` with every attempt's error.

    Batches: ``gateway.batch(inputs)`` / ``await gateway.abatch(inputs)``, as for a model.
    Processes: a gateway pickles (its settings and its models, never an API key; the routing
    state starts fresh in the receiver) and copies (``copy.copy`` shares the models,
    ``copy.deepcopy`` copies them; either has circuits of its own); see
    ``msgflux.gateway._portable``.

    Raises:
        ValueError, TypeError: A bad deployment list or setting (the message says what to
            fix): no deployment, a duplicate name, a model that is not a chat-completion
            model, an unknown fallback group or strategy...
    """

    model_type = "chat_completion"
    msgflux_type = "model_gateway"
    provider = "gateway"

    def __init__(
        self,
        models: Sequence[Mapping[str, Any]],
        *,
        strategy: str = "ordered",
        fallbacks: Mapping[str, Iterable[str]] | None = None,
        context_length_fallbacks: Mapping[str, Iterable[str]] | None = None,
        failover_on: Iterable[str] = DEFAULT_FAILOVER_ON,
        failure_threshold: int = 3,
        cooldown: float = 30.0,
        timeout: Any = None,
        max_attempts: int | None = None,
        fallback: bool = True,
        cache: Any = None,
        cache_ttl: float | None = None,
        clock: Callable[[], float] | None = None,
        utc_clock: UTCClock | None = None,
    ) -> None:
        config = build_config(
            models,
            strategy=strategy,
            fallbacks=fallbacks,
            context_length_fallbacks=context_length_fallbacks,
            failover_on=failover_on,
            failure_threshold=failure_threshold,
            cooldown=cooldown,
            timeout=timeout,
            max_attempts=max_attempts,
            fallback=fallback,
        )
        self._assemble(config, cache, cache_ttl, clock=clock, utc_clock=utc_clock)

    def _assemble(
        self,
        config: GatewayConfig,
        cache: Any,
        cache_ttl: float | None,
        *,
        clock: Callable[[], float] | None,
        utc_clock: UTCClock | None,
    ) -> None:
        """Set the gateway up from checked settings (construction, unpickling, copies)."""
        self._config: GatewayConfig = config
        self._state = RoutingState(config, _callers(config), clock or time.monotonic)
        self._utc_clock = utc_clock or utc_now
        self._cache_spec = (cache, cache_ttl)
        self._cache = _open_cache(config, cache, cache_ttl)
        _portable.track_forks(self)

    def _restart_routing(self) -> None:
        """Fresh routing state (in a forked child: the parent's is not the child's)."""
        self._state = RoutingState(self._config, _callers(self._config), self._state.clock)

    # -- what it is made of ----------------------------------------------------------------------

    @property
    def deployments(self) -> tuple[Deployment, ...]:
        """The deployments, in declared order."""
        return self._config.deployments

    @property
    def groups(self) -> dict[str, list[str]]:
        """``{group: [deployment names]}``, in declared order."""
        return {group: [d.name for d in members] for group, members in self._config.groups.items()}

    @property
    def model_id(self) -> str:
        """The group a call starts at by default (a gateway's "model")."""
        return next(iter(self._config.groups))

    @property
    def strategy(self) -> str:
        """The routing strategy within a group."""
        return self._config.strategy

    @property
    def model_names(self) -> list[str]:
        """The deployments' names (msgflux 0.5's name for them)."""
        return [d.name for d in self._config.deployments]

    @property
    def models(self) -> list[Any]:
        """The deployments' models, as given."""
        return [d.model for d in self._config.deployments]

    @property
    def supports(self) -> frozenset[str]:
        """The capabilities every deployment has (an Agent checks tools and streaming here)."""
        from msgflux.providers import CAPABILITIES

        common = frozenset(CAPABILITIES)
        for model in self.models:
            common &= frozenset(getattr(model, "supports", CAPABILITIES))
        return common

    @property
    def return_reasoning(self) -> bool:
        """Whether any deployment returns reasoning (a stream then forwards it)."""
        return any(getattr(model, "return_reasoning", True) for model in self.models)

    def stats(self) -> dict[str, Any]:
        """Counters and health, for monitoring.

        Returns:
            ``calls``, ``answered``, ``failed`` (calls), ``failovers`` (attempts after a
            call's first), ``open_circuits`` (names), and per deployment under
            ``deployments``: ``group``, ``model``, ``state`` (``"closed"``, ``"open"``,
            ``"half_open"``), ``attempts``, ``answers``, ``failures``,
            ``consecutive_failures``, ``in_flight``, ``latency`` (seconds, moving
            average), ``times_opened`` and ``open_for`` (seconds until its probe).
        """
        return self._state.stats()

    # -- calling ---------------------------------------------------------------------------------

    @overload
    def __call__(
        self,
        messages: Messages,
        *,
        stream: Literal[False] = ...,
        model_preference: str | None = ...,
        **options: Any,
    ) -> ModelResponse: ...

    @overload
    def __call__(
        self,
        messages: Messages,
        *,
        stream: Literal[True],
        model_preference: str | None = ...,
        **options: Any,
    ) -> ModelStreamResponse: ...

    @overload
    def __call__(
        self,
        messages: Messages,
        *,
        stream: bool,
        model_preference: str | None = ...,
        **options: Any,
    ) -> ModelResponse | ModelStreamResponse: ...

    def __call__(
        self,
        messages: Messages,
        *,
        stream: bool = False,
        model_preference: str | None = None,
        **options: Any,
    ) -> ModelResponse | ModelStreamResponse:
        """Send ``messages`` through the first deployment that answers.

        Args:
            messages: As for a model: a user message, or a list of chat messages.
            stream: Return a ``ModelStreamResponse`` once its first chunk has arrived.
            model_preference: The group, or the deployment, to start with.
            **options: The call options of ``ChatCompletionModel.__call__``.

        Returns:
            The answering deployment's response, with ``metadata.gateway``.

        Raises:
            ModelRouterError: No deployment answered.
            Exception: An error that is not failed over (a bad request, a content-policy
                refusal...), as the deployment raised it.
        """
        self._check_stream(stream)
        cache, ttl = self._cache, options.pop("cache_ttl", None)
        key = None if cache is None else cache.key(messages, options, model_preference)
        if stream:
            replayed = None if key is None else self._cache_replay(key, "sync")
            if replayed is not None:
                return replayed
            route = self._route(model_preference, stream)
            return self._recorded(key, _stream.stream(route, messages, options), ttl)
        if cache is None or key is None:
            return self._complete(messages, model_preference, options)
        return cache.fetch(key, lambda: self._complete(messages, model_preference, options), ttl)

    def _complete(
        self, messages: Messages, preference: str | None, options: dict[str, Any]
    ) -> ModelResponse:
        route = self._route(preference, False)
        while (ticket := route.next()) is not None:
            try:
                response = ticket.caller(messages, **route.options(ticket, options))
            except Exception as exc:
                route.failed(ticket, exc)
                continue
            except BaseException:
                route.released(ticket)
                raise
            return _answer(route, ticket, response)
        raise route.exhausted()

    @overload
    async def acall(
        self,
        messages: Messages,
        *,
        stream: Literal[False] = ...,
        model_preference: str | None = ...,
        **options: Any,
    ) -> ModelResponse: ...

    @overload
    async def acall(
        self,
        messages: Messages,
        *,
        stream: Literal[True],
        model_preference: str | None = ...,
        **options: Any,
    ) -> ModelStreamResponse: ...

    @overload
    async def acall(
        self,
        messages: Messages,
        *,
        stream: bool,
        model_preference: str | None = ...,
        **options: Any,
    ) -> ModelResponse | ModelStreamResponse: ...

    async def acall(
        self,
        messages: Messages,
        *,
        stream: bool = False,
        model_preference: str | None = None,
        **options: Any,
    ) -> ModelResponse | ModelStreamResponse:
        """Async ``__call__``: same arguments, same results."""
        self._check_stream(stream)
        cache, ttl = self._cache, options.pop("cache_ttl", None)
        key = None if cache is None else cache.key(messages, options, model_preference)
        if stream:
            replayed = None if key is None else self._cache_replay(key, "async")
            if replayed is not None:
                return replayed
            route = self._route(model_preference, stream)
            return self._recorded(key, await _stream.astream(route, messages, options), ttl)
        if cache is None or key is None:
            return await self._acomplete(messages, model_preference, options)

        async def answer() -> ModelResponse:
            return await self._acomplete(messages, model_preference, options)

        return await cache.afetch(key, answer, ttl)

    async def _acomplete(
        self, messages: Messages, preference: str | None, options: dict[str, Any]
    ) -> ModelResponse:
        route = self._route(preference, False)
        while (ticket := route.next()) is not None:
            try:
                response = await ticket.caller.acall(messages, **route.options(ticket, options))
            except Exception as exc:
                route.failed(ticket, exc)
                continue
            except BaseException:  # cancelled: no verdict on the deployment
                route.released(ticket)
                raise
            return _answer(route, ticket, response)
        raise route.exhausted()

    @staticmethod
    def _check_stream(stream: Any) -> None:
        if not isinstance(stream, bool):
            raise ValueError(f"`stream` must be True or False, got {stream!r}")

    def _cache_replay(self, key: str, mode: str) -> ModelStreamResponse | None:
        return None if self._cache is None else self._cache.replay(key, mode)

    def _recorded(
        self, key: str | None, stream: ModelStreamResponse, ttl: float | None
    ) -> ModelStreamResponse:
        if self._cache is None or key is None:
            return stream
        return self._cache.record(key, stream, ttl)

    def _route(self, preference: str | None, stream: Any) -> Route:
        if not isinstance(stream, bool):
            raise ValueError(f"`stream` must be True or False, got {stream!r}")
        config = self._config
        group, preferred = next(iter(config.groups)), None
        if preference is not None:
            group, preferred = self._resolve_preference(preference)
        return Route(config, self._state, config.plan(group), preferred, self._utc_clock)

    def _resolve_preference(self, preference: Any) -> tuple[str, str | None]:
        """``(group, deployment or None)`` named by ``model_preference``."""
        for deployment in self._config.deployments:
            if deployment.name == preference:
                return deployment.group, deployment.name
        if preference in self._config.groups:
            return str(preference), None
        names = [*self.model_names, *(g for g in self._config.groups if g not in self.model_names)]
        close = difflib.get_close_matches(str(preference), names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"model_preference {preference!r} names no deployment or group of this gateway; "
            f"known: {', '.join(map(repr, names))}.{hint}"
        )

    # -- serialization ---------------------------------------------------------------------------

    def serialize(self) -> dict[str, Any]:
        """JSON-safe state for ``mf.Model.from_serialized`` (no API key: each deployment's
        ``model.serialize()``, plus the gateway's settings)."""
        from msgflux.gateway._serialize import serialize

        return serialize(self._config, *self._cache_spec)

    @classmethod
    def from_serialized(
        cls,
        data: Mapping[str, Any],
        *,
        model_overrides: Mapping[str, Mapping[str, Any]] | None = None,
        **overrides: Any,
    ) -> ModelGateway:
        """Rebuild a gateway from ``serialize()``'s output.

        Args:
            data: What ``serialize()`` returned (possibly through JSON).
            model_overrides: ``{deployment name: model options}`` applied when rebuilding
                that deployment's model, e.g. ``{"hosted": {"api_key": key}}``; otherwise
                keys come from each provider's environment variables, as for models.
            **overrides: Gateway settings to change (``strategy=``, ``cooldown=``...).
        """
        from msgflux.gateway._serialize import deserialize

        return cls(**{**deserialize(data, model_overrides or {}), **overrides})

    # -- batches (msgflux.batch) -----------------------------------------------------------------

    def batch(self, inputs: Iterable[Any], **options: Any) -> BatchResults:
        """Call the gateway once per input, concurrently, adapting to the rate limits.

        As ``ChatCompletionModel.batch``. A call that no deployment could answer because
        each was rate-limited or resting (``ModelRouterError`` with ``rate_limited``) is
        a rate limit for the batch: it slows down and sends the item again once a
        deployment is available (``error.retry_after``).

        Args:
            inputs: Prompts, message lists, or dicts of call arguments (``{"messages":
                ..., "temperature": 0}``).
            **options: ``max_concurrency``, ``requests_per_minute``, ``tokens_per_minute``,
                ``adaptive``, ``max_rate_limit_retries``, ``progress``, ``on_result``, and
                call options for every input (see ``msgflux.batch.abatch``).

        Returns:
            ``BatchResults``: one ``BatchItem`` (``.response`` or ``.error``) per input, in
            input order, and ``.stats``.
        """
        from msgflux.batch import batch

        return batch(self, inputs, **options)

    async def abatch(self, inputs: Iterable[Any], **options: Any) -> BatchResults:
        """Async ``batch``: same arguments, same results."""
        from msgflux.batch import abatch

        return await abatch(self, inputs, **options)

    # -- other processes and copies (msgflux.gateway._portable) ---------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the configuration (the models without keys), never the routing state."""
        return _portable.reduce_gateway(self)

    def __copy__(self) -> ModelGateway:
        return _portable.copy_gateway(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> ModelGateway:
        return _portable.copy_gateway(self, memo)

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every deployment's model (their connections)."""
        for model in _distinct(self.models):
            close = getattr(model, "close", None)
            if close is not None:
                close()

    async def aclose(self) -> None:
        """``close()`` from async code: each model's clients close on this loop."""
        for model in _distinct(self.models):
            aclose = getattr(model, "aclose", None)
            if aclose is not None:
                await aclose()
            elif getattr(model, "close", None) is not None:
                model.close()

    def __enter__(self) -> ModelGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> ModelGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"ModelGateway(deployments={self.model_names!r}, strategy={self._config.strategy!r})"


def _answer(route: Route, ticket: Any, response: ModelResponse) -> ModelResponse:
    route.answered(ticket)
    response.update_metadata(gateway=route.metadata(ticket))
    return response


def _callers(config: GatewayConfig) -> dict[str, _RetriesOff]:
    """What the gateway calls for each deployment: its model, with its retry policy off."""
    return {d.name: _RetriesOff(d.model) for d in config.deployments}


class _RetriesOff:
    """Calls a deployment's model inside ``retries_off()``: one attempt per call, so the
    gateway's failover is the only retry layer.

    The model itself is called (not a copy of it), so whatever it sets up on first use (the
    clients and key of a model rebuilt from a pickle) serves every later call; the model
    keeps its own policy for calls made to it directly.
    """

    __slots__ = ("model",)

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, messages: Any, **options: Any) -> Any:
        from msgflux.utils.retry import retries_off

        with retries_off():
            return self.model(messages, **options)

    async def acall(self, messages: Any, **options: Any) -> Any:
        from msgflux.utils.retry import retries_off

        with retries_off():
            return await self.model.acall(messages, **options)


def _distinct(models: Iterable[Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    for model in models:
        seen.setdefault(id(model), model)
    return list(seen.values())


def _open_cache(config: GatewayConfig, cache: Any, ttl: float | None) -> GatewayCache | None:
    """The gateway's cache (``cache=`` as for a model), keyed by its deployments."""
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
        raise ValueError(f"`cache_ttl` must be a positive number of seconds, got {ttl!r}")
    if cache is None or cache is False:
        if ttl is not None:
            raise ValueError("`cache_ttl` needs a cache: pass cache='memory', 'disk', ...")
        return None
    from msgflux.cache import open_cache

    opened = open_cache(cache)
    assert opened is not None  # cache is neither None nor False here
    identity = [(d.group, d.name) for d in config.deployments]
    return GatewayCache(opened, ttl, identity)
