"""``ChatCompletionModel``: the request pipeline's entry point, one model of one provider.

``model(messages, **options)`` runs four stages, each a module a reader can test alone:

1. ``request``: validate the call and build the provider's request (``adapt_params``);
2. ``sending``: send it with the model's retry policy (the transport client is called there);
3. ``streaming``: for ``stream=True``, a producer thread or task feeds ``process_output``;
4. ``finishing``: turn a whole answer into a ``ModelResponse`` (``process_output``, then
   tool calls, structured output and typed parsers, the same for every provider).

The options a model takes are declared once, in ``settings``. The class knows no vendor:
everything provider-specific arrives through the hooks and quirks that
``msgflux.plugins.resolve_hooks`` resolved once for the provider.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, overload

import msgspec

from msgflux.cache import ResponseCache, open_cache
from msgflux.errors import MissingAPIKeyError, UnsupportedParameterError
from msgflux.models import finishing, portable, sending
from msgflux.models._secret import Secret
from msgflux.models.clients import ChatClients
from msgflux.models.request import PreparedCall, check_timeout, prepare_call
from msgflux.models.response import ModelResponse, ModelStreamResponse
from msgflux.models.settings import (
    DEFAULTS,
    MODEL_OPTIONS,
    NEUTRAL_OPTIONS,
    REQUEST_OPTIONS,
    BehaviourOptions,
    describe,
    model_signature,
    unknown_keyword,
    validate,
)
from msgflux.plugins import resolve_hooks
from msgflux.providers import ProviderOption
from msgflux.telemetry import state as _telemetry

if TYPE_CHECKING:
    from collections.abc import Iterable

    from msgflux.batch import BatchResults
    from msgflux.providers import ProviderSpec, Quirks

__all__ = ["ChatCompletionModel"]

DEFAULT_TIMEOUT = DEFAULTS["timeout"]

_SETTINGS = frozenset(DEFAULTS)
_SENT_OPTIONS = (*REQUEST_OPTIONS, *NEUTRAL_OPTIONS)
# Model options serialize() writes as they are; the API key never, the others filtered.
_SERIALIZED_AS_IS = tuple(
    name
    for name in MODEL_OPTIONS
    if name not in ("api_key", "retry", "extra_headers", "cache", "ssl_context")  # not state
)
_LEGACY_PARAM_KEYS = ("max_tokens", "tools", "tool_choice")
_CREDENTIAL_HEADER_WORDS = ("auth", "key", "token", "secret", "cookie", "password")


class ChatCompletionModel(BehaviourOptions):
    """A chat-completion model of one provider (``mf.Model.chat_completion(...)`` builds it).

    Args:
        model_id: The model's id at the provider (the part after ``provider/``).
        provider: The provider name; subclasses registered with ``@register_model`` set it
            as a class attribute instead.
        **options: The options below (generation parameters are sent with every call, and
            a call may override them; ``0`` and other falsy values are sent as given), and
            the options the provider's plugin declares (see its README).

    Options:
        {options}
    """

    model_type = "chat_completion"
    provider: str = ""  # set by @register_model subclasses; otherwise passed in
    # Cache settings, set from ModelSettings by _apply_options (declared for type checkers).
    enable_cache: bool
    cache_size: int
    cache: Any
    cache_ttl: float | None

    def __init__(self, model_id: str, *, provider: str | None = None, **options: Any) -> None:
        if not isinstance(model_id, str) or not model_id:
            raise ValueError(f"model_id must be a non-empty string, got {model_id!r}")
        provider = provider or type(self).provider
        if not provider:
            raise ValueError(
                "a model needs a provider: use mf.Model.chat_completion('provider/model')"
            )
        self.model_id = model_id
        self.provider = provider
        self._hooks = resolve_hooks(provider)
        self.provider_spec: ProviderSpec = self._hooks.chain[-1]
        settings = self._apply_options(options)
        self._api_key = Secret(settings["api_key"]) if settings["api_key"] else None
        self._base_url: str | None = settings["base_url"]
        self.client: Any = None
        self.aclient: Any = None
        self._close_clients: Any = None
        self._aclose_clients: Any = None
        self._response_cache: ResponseCache | None = None
        self._hooks.validate_options(self, self.options)
        if portable.take_restore_flag():  # unpickled or copied: key and clients on first use
            portable.defer_clients(self)
            return
        self._initialize()
        if self.cache_ttl is not None and self._response_cache is None:
            raise ValueError("`cache_ttl` needs a cache: pass cache=... (or enable_cache=True)")
        if self._api_key is None:
            key = self._get_api_key()
            self._api_key = Secret(key) if key else None

    def _apply_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Sort ``options`` into settings and provider options, check them, set attributes."""
        declared = self._declared_options()
        given = {name: value for name, value in options.items() if name in _SETTINGS}
        for name, value in options.items():
            if name in _SETTINGS:
                continue
            if name not in declared:
                raise unknown_keyword(f"{self.provider} model", name, (*_SETTINGS, *declared))
            option = declared[name]
            if isinstance(option, ProviderOption):
                option.check(self.provider, name, value)
        validate(given)
        settings = {**DEFAULTS, **given}
        self.options: dict[str, Any] = {
            name: option.default if isinstance(option, ProviderOption) else option
            for name, option in declared.items()
        }
        self.options.update((name, options[name]) for name in options if name in declared)
        # Falsy values are values: only None means "not set".
        self.defaults: dict[str, Any] = {
            name: settings[name] for name in _SENT_OPTIONS if settings[name] is not None
        }
        for name in (*MODEL_OPTIONS, *NEUTRAL_OPTIONS):
            if name not in ("api_key", "base_url"):
                setattr(self, name, settings[name])
        self.timeout = check_timeout(settings["timeout"])
        from msgflux.http._tls import check_verify  # plugins read these to build HTTP clients

        self.verify = check_verify(settings["verify"])
        self.extra_body: dict[str, Any] = dict(settings["extra_body"] or {})
        self.extra_headers: dict[str, Any] = dict(settings["extra_headers"] or {})
        from msgflux.utils.retry import as_retry_policy, check_retry_policy

        self.retry = as_retry_policy(self.retry)  # a 0.5-style tenacity.retry(...) decorator
        check_retry_policy(self.retry)  # a bad retry= fails here, not at the first failure
        return settings

    # -- provider facts ----------------------------------------------------------------------

    def _declared_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for spec in self._hooks.chain:
            options.update(spec.options)
        return options

    @property
    def supports(self) -> frozenset[str]:
        """The capabilities of this model's provider (``ProviderSpec.supports``)."""
        from msgflux.providers import CAPABILITIES

        for spec in reversed(self._hooks.chain):
            if spec.supports is not None:
                return spec.supports
        return CAPABILITIES

    @property
    def quirks(self) -> Quirks:
        """How this model's provider differs, as data (``ProviderSpec.quirks``, merged)."""
        return self._hooks.quirks

    @property
    def api_key(self) -> str | None:
        """The API key in use (for transport clients; never logged or serialized)."""
        return self._api_key.reveal() if self._api_key is not None else None

    @property
    def base_url(self) -> str:
        """The API base URL in use."""
        if self._base_url is None:
            self._base_url = self._get_base_url()
        return self._base_url

    def _get_api_key(self) -> str | None:
        """The key from the provider's env vars.

        A ``@register_model`` class may override it (docs/plugins.md, "A custom in-process
        provider").

        Only this provider's own env vars are read, never a base provider's: a Groq model
        must not send an OpenAI key to Groq.
        """
        spec = self.provider_spec
        for env_var in spec.api_key_env:
            value = os.environ.get(env_var)
            if value:
                return value
        if spec.api_key_required:
            where = " or ".join(f"`{name}`" for name in spec.api_key_env) or "an env var"
            raise MissingAPIKeyError(
                f"the {self.provider!r} provider needs an API key: set {where} "
                f"(e.g. mf.set_envs({(spec.api_key_env or ('API_KEY',))[0]}='...')) "
                "or pass api_key=..."
            )
        return None

    def _get_base_url(self) -> str:
        """The base URL from the provider's env var or default (overridable)."""
        spec = self.provider_spec
        if spec.base_url_env and os.environ.get(spec.base_url_env):
            return os.environ[spec.base_url_env]
        if spec.default_base_url:
            return spec.default_base_url
        hint = f"set `{spec.base_url_env}` or " if spec.base_url_env else ""
        raise ValueError(
            f"the {self.provider!r} provider has no default URL: {hint}pass base_url=..."
        )

    def _initialize(self) -> None:
        """Build the transport clients and the cache (a ``@register_model`` class may override)."""
        if self._api_key is None:
            key = self._get_api_key()
            self._api_key = Secret(key) if key else None
        clients = self._hooks.initialize_client(self, None)
        if clients is None:
            raise UnsupportedParameterError(
                f"no plugin built a client for provider {self.provider!r}: its plugin (or a base "
                f"it extends) must implement initialize_client"
            )
        if not isinstance(clients, ChatClients):
            clients = ChatClients(*clients)
        self.client, self.aclient, self._close_clients, self._aclose_clients = clients
        if self._response_cache is None:  # a model rebuilt from a pickle already has its own
            self._response_cache = self._new_response_cache()

    def _new_response_cache(self) -> ResponseCache | None:
        """The response cache the options ask for (``None`` without one)."""
        return open_cache(
            self.cache,
            enable_cache=self.enable_cache,
            cache_size=self.cache_size,
            size_given=self.cache_size != DEFAULTS["cache_size"],
        )

    # -- hooks as methods (a @register_model class may override these) -------------------------

    def _adapt_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Run the provider chain's ``adapt_params`` over the neutral request."""
        return self._hooks.adapt_params(self, params)

    def _run_adapt_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if type(self)._adapt_params is ChatCompletionModel._adapt_params:
            return self._adapt_params(params)
        # An override written for the earlier pipeline, which always passed these keys
        # (None when unset): give it that shape, then drop what stayed None.
        for key in _LEGACY_PARAM_KEYS:
            params.setdefault(key, None)
        params = self._adapt_params(params)
        return {key: value for key, value in params.items() if value is not None}

    def extract_reasoning(self, message: Any) -> str | None:
        """Run the provider chain's ``extract_reasoning`` on a message or stream delta."""
        return self._hooks.extract_reasoning(self, message, None)

    def _process_model_output(
        self,
        model_output: Any,
        typed_parser: str | None = None,
        generation_schema: type | None = None,
        transport_generation_schema: Any = None,
    ) -> ModelResponse:
        """Turn a whole completion into a ``ModelResponse`` (hooks, then core decoding)."""
        return finishing.decode(
            self, model_output, typed_parser, generation_schema, transport_generation_schema
        )

    # -- public API --------------------------------------------------------------------------

    @overload
    def __call__(
        self, messages: str | list[dict[str, Any]], *, stream: Literal[False] = ..., **options: Any
    ) -> ModelResponse: ...

    @overload
    def __call__(
        self, messages: str | list[dict[str, Any]], *, stream: Literal[True], **options: Any
    ) -> ModelStreamResponse: ...

    @overload
    def __call__(
        self, messages: str | list[dict[str, Any]], *, stream: bool, **options: Any
    ) -> ModelResponse | ModelStreamResponse: ...

    def __call__(
        self, messages: str | list[dict[str, Any]], *, stream: bool = False, **options: Any
    ) -> ModelResponse | ModelStreamResponse:
        """Send ``messages`` and return the answer.

        Args:
            messages: A user message as ``str``, or a list of chat messages (dicts or
                ``mf.ChatBlock`` results). Never modified.
            stream: Return a ``ModelStreamResponse`` once the first chunk has arrived (a
                stream that fails before that raises here).
            **options: ``system_prompt``, ``prefilling``, ``generation_schema``,
                ``tool_definitions``, ``typed_parser``, ``timeout``, ``extra_body``,
                ``extra_headers``, and any generation parameter to override for this call.

        Returns:
            A ``ModelResponse``, or with ``stream=True`` a ``ModelStreamResponse``.
        """
        call = prepare_call(self, messages, options, stream)
        if _telemetry.observer is not None:  # msgflux.instrument(): the call in its span
            return _telemetry.observer.chat(self, call, self._respond)
        return self._respond(call)

    def _respond(self, call: PreparedCall) -> ModelResponse | ModelStreamResponse:
        if call.stream:
            from msgflux.models.streaming import stream as start_stream

            return start_stream(self, call)
        if call.cache_key is None or self._response_cache is None:
            return finishing.respond(self, sending.send(self, call.params), call)
        return self._response_cache.fetch(
            call.cache_key,
            lambda: finishing.respond(self, sending.send(self, call.params), call),
            call.cache_ttl,
        )

    @overload
    async def acall(
        self, messages: str | list[dict[str, Any]], *, stream: Literal[False] = ..., **options: Any
    ) -> ModelResponse: ...

    @overload
    async def acall(
        self, messages: str | list[dict[str, Any]], *, stream: Literal[True], **options: Any
    ) -> ModelStreamResponse: ...

    @overload
    async def acall(
        self, messages: str | list[dict[str, Any]], *, stream: bool, **options: Any
    ) -> ModelResponse | ModelStreamResponse: ...

    async def acall(
        self, messages: str | list[dict[str, Any]], *, stream: bool = False, **options: Any
    ) -> ModelResponse | ModelStreamResponse:
        """Async ``__call__``: same arguments, same results."""
        call = prepare_call(self, messages, options, stream)
        if _telemetry.observer is not None:
            return await _telemetry.observer.achat(self, call, self._arespond)
        return await self._arespond(call)

    async def _arespond(self, call: PreparedCall) -> ModelResponse | ModelStreamResponse:
        if call.stream:
            from msgflux.models.streaming import astream

            return await astream(self, call)
        if call.cache_key is None or self._response_cache is None:
            return finishing.respond(self, await sending.asend(self, call.params), call)

        async def answer() -> ModelResponse:
            return finishing.respond(self, await sending.asend(self, call.params), call)

        return await self._response_cache.afetch(call.cache_key, answer, call.cache_ttl)

    # -- model facts ---------------------------------------------------------------------------

    @property
    def profile(self) -> Any:
        """This model's profile (capabilities, limits, prices), or ``None`` when unknown."""
        from msgflux.models.profiles import get_model_profile

        return get_model_profile(self.model_id, provider_id=self.provider)

    def get_model_info(self) -> dict[str, str]:
        """``{'model_id': ..., 'provider': ...}``."""
        return {"model_id": self.model_id, "provider": self.provider}

    def instance_type(self) -> dict[str, str]:
        """``{'model_type': 'chat_completion'}``."""
        return {"model_type": self.model_type}

    def serialize(self) -> dict[str, Any]:
        """JSON-safe state for ``mf.Model.from_serialized`` (never the API key).

        Omitted: the API key, ``extra_headers`` that look like credentials, a ``retry``
        policy object (a ``False`` or a settings dict is kept), and provider options that
        are live objects (an injected client).
        """
        state: dict[str, Any] = {"model_id": self.model_id, **_json_safe(self.defaults)}
        for name in _SERIALIZED_AS_IS:
            value = getattr(self, name) if name != "base_url" else self._base_url
            if value is not None and value != {}:
                state[name] = _json_safe(value)
        headers = {
            name: value
            for name, value in self.extra_headers.items()
            if not any(word in name.lower() for word in _CREDENTIAL_HEADER_WORDS)
        }
        if headers:
            state["extra_headers"] = headers
        if self.retry is False or isinstance(self.retry, dict):
            state["retry"] = _json_safe(self.retry)
        if isinstance(self.cache, bool | str | os.PathLike):  # a backend object is not state
            from msgflux.cache.redis import redact_url

            state["cache"] = (
                self.cache if isinstance(self.cache, bool) else redact_url(os.fspath(self.cache))
            )
        state.update(self._changed_provider_options())
        return {
            "msgflux_type": "model",
            "provider": self.provider,
            "model_type": self.model_type,
            "state": state,
        }

    def _changed_provider_options(self) -> dict[str, Any]:
        changed = {}
        for name, option in self._declared_options().items():
            default = option.default if isinstance(option, ProviderOption) else option
            value = self.options.get(name, default)
            if value == default:
                continue
            try:
                msgspec.json.encode(value)
            except (TypeError, msgspec.EncodeError):
                continue  # a live object (an injected client): not state
            changed[name] = value
        return changed

    # -- batches (msgflux.batch) ----------------------------------------------------------------

    def batch(self, inputs: Iterable[Any], **options: Any) -> BatchResults:
        """Call the model once per input, concurrently, adapting to the server's rate limits.

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

    # -- other processes and copies (msgflux.models.portable) ---------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the configuration, never the API key, clients or cache contents."""
        return portable.reduce_model(self)

    def __copy__(self) -> ChatCompletionModel:
        return portable.copy_model(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> ChatCompletionModel:
        return portable.copy_model(self)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the transport clients' connections (the model stays usable)."""
        if self._close_clients is not None:
            self._close_clients()

    async def aclose(self) -> None:
        """``close()`` from async code: clients bound to this event loop close on it."""
        if self._aclose_clients is not None:
            await self._aclose_clients()
        else:
            self.close()

    def __enter__(self) -> ChatCompletionModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> ChatCompletionModel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        base_url = self._base_url or self.provider_spec.default_base_url
        return (
            f"{type(self).__name__}(provider={self.provider!r}, model_id={self.model_id!r}, "
            f"base_url={base_url!r})"
        )


ChatCompletionModel.__doc__ = (ChatCompletionModel.__doc__ or "").format(options=describe())
ChatCompletionModel.__init__.__signature__ = model_signature(  # type: ignore[attr-defined]
    ChatCompletionModel.__init__
)


def _json_safe(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))
