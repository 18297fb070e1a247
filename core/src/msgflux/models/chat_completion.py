"""The request pipeline, top to bottom.

``model(messages, **options)``:

1. validate the options (unknown names, bad values, incompatible combinations);
2. build the provider-neutral request: messages copied (the caller's are never touched),
   system prompt, prefilling, tools, response format, model defaults + call overrides;
3. ``adapt_params`` (the provider chain, base first) turns it into the provider's request;
4. the transport client sends it (sync, async, or as a stream on a producer thread/task);
5. ``process_output`` (and ``extract_reasoning``) decode the answer into a
   ``ModelResponse`` / ``ModelStreamResponse``; structured output and typed parsers are
   decoded here, the same way for every provider.

The class knows no vendor: everything provider-specific arrives through the hooks that
``msgflux.plugins.resolve_hooks`` resolved once for this instance.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from msgflux.errors import MissingAPIKeyError, UnsupportedParameterError, redact_secret
from msgflux.http._timeout import Timeout, deadline_of
from msgflux.models._options import (
    CALL_OPTIONS,
    MODEL_OPTIONS,
    NEUTRAL_OPTIONS,
    REQUEST_OPTIONS,
    check_request_options,
    neutral_leftovers,
    unknown_keyword,
)
from msgflux.models._secret import Secret
from msgflux.models.cache import ResponseCache, request_cache_key
from msgflux.models.clients import ChatClients
from msgflux.models.response import ModelResponse, ModelStreamResponse
from msgflux.plugins import resolve_hooks

if TYPE_CHECKING:
    import ssl

    from msgflux.providers import ProviderSpec
    from msgflux.tools import ToolDefinitions

__all__ = ["ChatCompletionModel"]

logger = logging.getLogger("msgflux.models")

DEFAULT_TIMEOUT = 600.0

_SERIALIZED_MODEL_OPTIONS = tuple(
    name
    for name in MODEL_OPTIONS
    if name not in ("api_key", "retry", "extra_headers", "ssl_context")  # ssl_context: live
)
_LEGACY_PARAM_KEYS = ("max_tokens", "tools", "tool_choice")
_CREDENTIAL_HEADER_WORDS = ("auth", "key", "token", "secret", "cookie", "password")


def _copy_json(value: Any) -> Any:
    """Copy nested dicts and lists (fast deep copy of message-shaped data)."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_json(item) for item in value]
    return value


@dataclass(slots=True)
class _Call:
    """One prepared request and what is needed to turn its answer into a response."""

    params: dict[str, Any]
    stream: bool
    prefilling: str | None = None
    generation_schema: type | None = None
    structured: Any = None  # msgflux.generation.StructuredOutput
    typed_parser: str | None = None
    cache_key: str | None = None


@dataclass(slots=True)
class _StreamHandle:
    """Shared between a stream's producer and whoever closes it early."""

    stream: Any = None
    cancelled: bool = False


class ChatCompletionModel:
    """A chat-completion model of one provider (``mf.Model.chat_completion(...)`` builds it).

    Args:
        model_id: The model's id at the provider (the part after ``provider/``).
        provider: The provider name; subclasses registered with ``@register_model`` set it
            as a class attribute instead.
        api_key: The API key; by default read from the provider's env var.
        base_url: The API base URL; by default the provider's env var or default URL.
        timeout: A ``msgflux.Timeout`` (connect, read gap, first_token, total), or seconds
            for connecting and for each read (so also between stream chunks); ``None``
            waits forever.
        max_tokens, temperature, top_p, stop, seed, presence_penalty, frequency_penalty,
        reasoning_effort, verbosity, modalities, audio, logprobs, top_logprobs,
        parallel_tool_calls, prompt_cache_retention, web_search_options: Generation
            parameters sent with every call (a call may override them). ``0`` and other
            falsy values are sent as given.
        enable_thinking: Switch extended thinking on (or explicitly off) where the provider
            has such a switch; ``True`` is an error where it has none.
        reasoning_max_tokens: Budget for reasoning tokens, where the provider has one.
        return_reasoning: Keep the reasoning trace in ``response.reasoning``.
        reasoning_in_tool_call: Carry the reasoning into the assistant message of a tool
            call round (``<think>`` tags), so the model sees it after the tool results.
        validate_typed_parser_output: Validate typed-parser output against the schema.
        extra_body: Extra JSON fields merged into every request body.
        extra_headers: Extra HTTP headers sent with every request.
        verbose: Print the raw model output before structured decoding.
        context_length: The model's context window, when you know better than the profile.
        enable_cache: Cache identical requests in process (LRU of ``cache_size``).
        retry: Retry policy: ``None`` for the default, ``False`` to disable, or a tenacity
            ``Retrying`` / settings dict.
        verify: TLS verification: ``True`` (system trust store), ``False``, or the path of
            a CA bundle.
        ssl_context: An ``ssl.SSLContext`` used as given (client certificates, a private
            CA...); overrides ``verify``.
        **provider_options: Options the provider's plugin declares (see its README).
    """

    model_type = "chat_completion"
    provider: str = ""  # set by @register_model subclasses; otherwise passed in

    def __init__(
        self,
        model_id: str,
        *,
        provider: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: str | list[str] | None = None,
        seed: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        reasoning_effort: str | None = None,
        reasoning_max_tokens: int | None = None,
        enable_thinking: bool | None = False,
        return_reasoning: bool = True,
        reasoning_in_tool_call: bool = False,
        verbosity: str | None = None,
        modalities: list[str] | None = None,
        audio: dict[str, str] | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        parallel_tool_calls: bool | None = None,
        prompt_cache_retention: str | None = None,
        web_search_options: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        extra_headers: dict[str, str] | None = None,
        validate_typed_parser_output: bool = False,
        verbose: bool = False,
        context_length: int | None = None,
        enable_cache: bool = False,
        cache_size: int = 128,
        retry: Any = None,
        verify: bool | str = True,
        ssl_context: ssl.SSLContext | None = None,
        **provider_options: Any,
    ) -> None:
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

        declared = self._declared_options()
        for name in provider_options:
            if name not in declared:
                valid = (*MODEL_OPTIONS, *REQUEST_OPTIONS, *NEUTRAL_OPTIONS, *declared)
                raise unknown_keyword(f"{provider} model", name, valid)
        self.options: dict[str, Any] = {**declared, **provider_options}

        request_defaults = {
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "stop": stop,
            "seed": seed,
            "presence_penalty": presence_penalty,
            "frequency_penalty": frequency_penalty,
            "reasoning_effort": reasoning_effort,
            "verbosity": verbosity,
            "modalities": modalities,
            "audio": audio,
            "logprobs": logprobs,
            "top_logprobs": top_logprobs,
            "parallel_tool_calls": parallel_tool_calls,
            "prompt_cache_retention": prompt_cache_retention,
            "web_search_options": web_search_options,
            "enable_thinking": enable_thinking,
            "reasoning_max_tokens": reasoning_max_tokens,
        }
        # Falsy values are values: only None means "not set".
        self.defaults: dict[str, Any] = {k: v for k, v in request_defaults.items() if v is not None}
        check_request_options(self.defaults)
        self.enable_thinking = enable_thinking
        self.reasoning_max_tokens = reasoning_max_tokens
        self.return_reasoning = return_reasoning
        self.reasoning_in_tool_call = reasoning_in_tool_call
        self.validate_typed_parser_output = validate_typed_parser_output
        self.verbose = verbose
        self.context_length = context_length
        self.timeout = _check_timeout(timeout)
        self.extra_body = dict(extra_body) if extra_body else {}
        self.extra_headers = dict(extra_headers) if extra_headers else {}
        self.enable_cache = enable_cache
        self.cache_size = cache_size
        from msgflux.utils.retry import check_retry_policy

        check_retry_policy(retry)  # a bad retry= fails here, not at the first failure
        self.retry = retry
        # -- TLS (issue 14): plugins read these when they build their HTTP clients.
        from msgflux.http._tls import check_verify

        self.verify = check_verify(verify)
        self.ssl_context = ssl_context

        self._api_key = Secret(api_key) if api_key else None
        self._base_url = base_url
        self.client: Any = None
        self.aclient: Any = None
        self._close_clients: Any = None
        self._aclose_clients: Any = None
        self._response_cache: ResponseCache | None = None
        self._initialize()
        if self._api_key is None:
            key = self._get_api_key()
            self._api_key = Secret(key) if key else None

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
        """The key from the provider's env vars (spec section 16 lets subclasses override this).

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
        """The base URL from the provider's env var or default (overridable, spec section 16)."""
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
        """Build the transport clients and the cache (spec 16.3 lets subclasses override it)."""
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
        self._response_cache = ResponseCache(self.cache_size) if self.enable_cache else None

    # -- hooks as methods (spec section 16 overrides these) ----------------------------------

    def _adapt_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Run the provider chain's ``adapt_params`` over the neutral request."""
        return self._hooks.adapt_params(self, params)

    def _run_adapt_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if type(self)._adapt_params is ChatCompletionModel._adapt_params:
            return self._adapt_params(params)
        # A spec-16 override written for the earlier pipeline, which always passed these
        # keys (None when unset): give it that shape, then drop what stayed None.
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
        response = ModelResponse()
        self._hooks.process_output(self, model_output, response)
        return self._finish_response(
            response, model_output, typed_parser, generation_schema, transport_generation_schema
        )

    # -- public API --------------------------------------------------------------------------

    def __call__(
        self, messages: str | list[dict[str, Any]], **options: Any
    ) -> ModelResponse | ModelStreamResponse:
        """Send ``messages`` and return the answer.

        Args:
            messages: A user message as ``str``, or a list of chat messages (dicts or
                ``mf.ChatBlock`` results). Never modified.
            **options: ``system_prompt``, ``prefilling``, ``stream``, ``generation_schema``,
                ``tool_definitions``, ``typed_parser``, ``timeout``, ``extra_body``,
                ``extra_headers``, and any generation parameter to override for this call.

        Returns:
            A ``ModelResponse``, or with ``stream=True`` a ``ModelStreamResponse`` returned
            once the first chunk has arrived (a stream that fails before that raises here).
        """
        call = self._prepare(messages, options)
        if call.stream:
            return self._stream_sync(call)
        cache = self._response_cache
        if cache is not None and call.cache_key is not None:
            hit, cached = cache.get(call.cache_key)
            if hit:
                hit_response: ModelResponse = cached
                return hit_response
        output = self._with_retry(lambda: self._send(self.client, call.params), call.params)
        response = self._respond(output, call)
        if cache is not None and call.cache_key is not None:
            cache.set(call.cache_key, response)
        return response

    async def acall(
        self, messages: str | list[dict[str, Any]], **options: Any
    ) -> ModelResponse | ModelStreamResponse:
        """Async ``__call__``: same arguments, same results."""
        call = self._prepare(messages, options)
        if call.stream:
            return await self._stream_async(call)
        cache = self._response_cache
        if cache is not None and call.cache_key is not None:
            hit, cached = cache.get(call.cache_key)
            if hit:
                hit_response: ModelResponse = cached
                return hit_response
        output = await self._awith_retry(self._asend, self.aclient, call.params)
        response = self._respond(output, call)
        if cache is not None and call.cache_key is not None:
            cache.set(call.cache_key, response)
        return response

    # -- 1 + 2: options and the neutral request ----------------------------------------------

    def _prepare(self, messages: Any, options: dict[str, Any]) -> _Call:
        overrides: dict[str, Any] = {}
        call_options: dict[str, Any] = {}
        for name, value in options.items():
            if name in CALL_OPTIONS:
                call_options[name] = value
            elif name in REQUEST_OPTIONS or name in NEUTRAL_OPTIONS:
                overrides[name] = value
            else:
                valid = (*CALL_OPTIONS, *REQUEST_OPTIONS, *NEUTRAL_OPTIONS)
                raise unknown_keyword("model call", name, valid)

        stream = call_options.get("stream") or False
        if not isinstance(stream, bool):
            raise ValueError(f"`stream` must be True or False, got {stream!r}")
        system_prompt = call_options.get("system_prompt")
        prefilling = call_options.get("prefilling")
        generation_schema = call_options.get("generation_schema")
        typed_parser = call_options.get("typed_parser")
        tool_definitions = self._tool_definitions(call_options)

        if prefilling is not None and generation_schema is not None:
            raise ValueError(
                "`prefilling` cannot be combined with `generation_schema`: the schema already "
                "fixes how the answer starts; drop one of them"
            )
        if stream and generation_schema is not None:
            raise ValueError(
                "`stream=True` cannot be combined with `generation_schema`: structured output is "
                "decoded from the whole answer; call without stream=True"
            )
        if stream and typed_parser is not None:
            raise ValueError(
                "`stream=True` cannot be combined with `typed_parser`: the parser needs the whole "
                "answer; call without stream=True"
            )
        if typed_parser is not None:
            from msgflux.dsl.typed_parsers import get_typed_parser

            get_typed_parser(typed_parser)  # unknown name -> error listing the available ones

        request = {**self.defaults, **{k: v for k, v in overrides.items() if v is not None}}
        check_request_options(request)
        self._check_capabilities(request, stream, generation_schema, tool_definitions)

        params: dict[str, Any] = {
            "model": self.model_id,
            "messages": self._build_messages(messages, system_prompt, prefilling),
            **request,
        }
        structured = None
        if generation_schema is not None and typed_parser is None:
            from msgflux.generation import structured_output

            structured = structured_output(generation_schema, tool_definitions)
            params["response_format"] = structured.response_format
            if structured.consumes_tools:
                tool_definitions = None  # the schema itself carries the tool choice (ReAct)
        if tool_definitions is not None:
            params.update(tool_definitions.to_request())
            if "parallel_tool_calls" in request and "parallel_tool_calls" not in params:
                params["parallel_tool_calls"] = request["parallel_tool_calls"]
        elif "parallel_tool_calls" in params:
            del params["parallel_tool_calls"]  # meaningless (and rejected) without tools
        if stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}

        extra_body = {**self.extra_body, **(call_options.get("extra_body") or {})}
        if extra_body:
            params["extra_body"] = extra_body
        extra_headers = {**self.extra_headers, **(call_options.get("extra_headers") or {})}
        if extra_headers:
            params["extra_headers"] = extra_headers
        timeout = _check_timeout(call_options.get("timeout", self.timeout))
        if timeout is not None:
            # A Timeout's total deadline starts now: retries and the transport share it.
            params["timeout"] = timeout.start() if isinstance(timeout, Timeout) else timeout

        cache_key = None
        if self._response_cache is not None and not stream:
            # Everything that changes the answer or its decoding; never the API key (the
            # key function also drops the timeout and credential headers from params).
            cache_key = request_cache_key(
                params=params,
                schema=generation_schema,
                typed_parser=typed_parser,
                provider=self.provider,
                base_url=self.base_url,
                decoding=(
                    self.return_reasoning,
                    self.reasoning_in_tool_call,
                    self.validate_typed_parser_output,
                ),
            )

        params = self._run_adapt_params(params)
        neutral_leftovers(self.provider, params)
        for name in NEUTRAL_OPTIONS:
            params.pop(name, None)
        return _Call(
            params=params,
            stream=stream,
            prefilling=prefilling,
            generation_schema=generation_schema,
            structured=structured,
            typed_parser=typed_parser,
            cache_key=cache_key,
        )

    def _tool_definitions(self, call_options: Mapping[str, Any]) -> ToolDefinitions | None:
        tool_definitions = call_options.get("tool_definitions")
        schemas = call_options.get("tool_schemas")
        choice = call_options.get("tool_choice")
        if schemas is not None or choice is not None:
            warnings.warn(
                "`tool_schemas=` / `tool_choice=` are deprecated; pass "
                "`tool_definitions=ToolDefinitions(schemas=..., choice=...)`",
                DeprecationWarning,
                stacklevel=4,
            )
            if tool_definitions is not None:
                raise ValueError(
                    "pass either `tool_definitions` or `tool_schemas`/`tool_choice`, not both"
                )
            if schemas is None:
                raise ValueError(
                    "`tool_choice` needs tools: pass `tool_definitions=ToolDefinitions(...)`"
                )
            from msgflux.tools import ToolDefinitions

            return ToolDefinitions(schemas=schemas, choice=choice)
        if tool_definitions is None:
            return None
        from msgflux.tools import ToolDefinitions

        if not isinstance(tool_definitions, ToolDefinitions):
            raise TypeError(
                "`tool_definitions` must be a msgflux.tools.ToolDefinitions, got "
                f"{type(tool_definitions).__name__}; wrap your schemas: "
                "ToolDefinitions(schemas=[...])"
            )
        return tool_definitions if tool_definitions.schemas else None

    def _check_capabilities(
        self,
        request: Mapping[str, Any],
        stream: bool,
        generation_schema: Any,
        tool_definitions: Any,
    ) -> None:
        needed = []
        if stream:
            needed.append(("streaming", "stream=True"))
        if tool_definitions is not None:
            needed.append(("tools", "tool_definitions"))
        if generation_schema is not None:
            needed.append(("structured_output", "generation_schema"))
        if request.get("logprobs"):
            needed.append(("logprobs", "logprobs=True"))
        if "audio" in (request.get("modalities") or ()):
            needed.append(("audio_output", "modalities=['audio']"))
        if request.get("web_search_options") is not None:
            needed.append(("web_search", "web_search_options"))
        supported = self.supports
        for capability, what in needed:
            if capability not in supported:
                raise UnsupportedParameterError(
                    f"provider {self.provider!r} does not support {capability.replace('_', ' ')} "
                    f"({what}); supported: {', '.join(sorted(supported)) or 'nothing optional'}"
                )

    @staticmethod
    def _build_messages(messages: Any, system_prompt: Any, prefilling: Any) -> list[dict[str, Any]]:
        if isinstance(messages, str):
            built = [{"role": "user", "content": messages}]
        elif isinstance(messages, list | tuple):
            built = []
            for position, message in enumerate(messages):
                if not isinstance(message, Mapping) or "role" not in message:
                    raise ValueError(
                        f"messages[{position}] must be a dict with a 'role' (e.g. "
                        f"{{'role': 'user', 'content': '...'}} or mf.ChatBlock.user('...')), "
                        f"got {message!r}"
                    )
                built.append(_copy_json(dict(message)))
        else:
            raise TypeError(
                f"messages must be a str or a list of message dicts, got {type(messages).__name__}"
            )
        if system_prompt is not None:
            if not isinstance(system_prompt, str):
                raise TypeError(f"system_prompt must be a str, got {type(system_prompt).__name__}")
            built.insert(0, {"role": "system", "content": system_prompt})
        if prefilling is not None:
            if not isinstance(prefilling, str):
                raise TypeError(f"prefilling must be a str, got {type(prefilling).__name__}")
            built.append({"role": "assistant", "content": prefilling})
        return built

    # -- 3: transport --------------------------------------------------------------------------

    def _with_retry(self, send: Any, params: dict[str, Any] | None = None) -> Any:
        from msgflux.utils.retry import call_with_retry

        # A call's total deadline (msgflux.Timeout(total=...)) bounds its retries too.
        return call_with_retry(self, send, deadline=deadline_of((params or {}).get("timeout")))

    async def _awith_retry(self, send: Any, *args: Any) -> Any:
        from msgflux.utils.retry import acall_with_retry

        # tenacity awaits only coroutine *functions*, so pass the method, not a lambda.
        # Both callers pass the request params last; their timeout's deadline bounds retries.
        deadline = deadline_of(args[-1].get("timeout")) if args else None
        return await acall_with_retry(self, send, *args, deadline=deadline)

    def _send(self, client: Any, params: dict[str, Any]) -> Any:
        if client is None:
            raise UnsupportedParameterError(f"provider {self.provider!r} has no sync client")
        return client.chat.completions.create(**params)

    async def _asend(self, aclient: Any, params: dict[str, Any]) -> Any:
        if aclient is None:
            raise UnsupportedParameterError(f"provider {self.provider!r} has no async client")
        return await aclient.chat.completions.create(**params)

    # -- 4 + 5: answers ------------------------------------------------------------------------

    def _respond(self, output: Any, call: _Call) -> ModelResponse:
        response = self._process_model_output(
            output, call.typed_parser, call.generation_schema, call.structured
        )
        if call.prefilling and response.response_type == "text_generation":
            response.data = call.prefilling + (response.data or "")
        return response

    def _finish_response(
        self,
        response: ModelResponse,
        model_output: Any,
        typed_parser: str | None,
        generation_schema: type | None,
        structured: Any,
    ) -> ModelResponse:
        if response.tool_calls is not None and response.tool_calls:
            aggregator = response.tool_calls
            text = response.data if isinstance(response.data, str) else None
            aggregator.content = text or None
            if self.reasoning_in_tool_call and response.reasoning:
                aggregator.reasoning = response.reasoning
            response.data = aggregator
            response.response_type = "tool_call"
        elif typed_parser is not None or structured is not None:
            text = response.data if isinstance(response.data, str) else ""
            if self.verbose:
                print(f"[{self.model_id}][raw_response] {text}")
            if not text and response.metadata.get("refusal"):
                from msgflux.errors import StructuredOutputError

                raise StructuredOutputError(
                    "the model refused to answer in the requested format: "
                    f"{response.metadata.refusal}",
                    raw_text=text,
                )
            response.data = self._decode_structured(
                text, typed_parser, generation_schema, structured
            )
            response.response_type = "structured"
        else:
            if response.data is None:
                response.data = ""
            if response.response_type is None:
                response.response_type = "text_generation"
        if not self.return_reasoning:
            response.reasoning = None
        return response

    def _decode_structured(
        self, text: str, typed_parser: str | None, generation_schema: type | None, structured: Any
    ) -> Any:
        if typed_parser is not None:
            from msgflux.dotdict import dotdict
            from msgflux.dsl.typed_parsers import get_typed_parser, validate_against_schema

            data = dotdict(get_typed_parser(typed_parser).decode(text))
            if generation_schema is not None and self.validate_typed_parser_output:
                data = validate_against_schema(data, generation_schema, raw_text=text)
            return data
        return structured.decode(text)

    # -- streams -------------------------------------------------------------------------------

    def _new_stream_response(self, mode: str) -> ModelStreamResponse:
        return ModelStreamResponse(mode, keep_reasoning=self.return_reasoning)

    def _stream_sync(self, call: _Call) -> ModelStreamResponse:
        response = self._new_stream_response("sync")
        handle = _StreamHandle()

        def cancel() -> None:
            handle.cancelled = True
            if handle.stream is not None:
                _close_quietly(handle.stream)

        thread = threading.Thread(
            target=self._produce_sync,
            args=(call, response, handle),
            name=f"msgflux-stream-{self.provider}",
            daemon=True,
        )
        response.bind_producer(thread, cancel)
        thread.start()
        response.first_chunk_event.wait()
        if response.done and response.error is not None and not _received_any(response):
            thread.join()
            raise response.error
        return response

    def _open_stream(self, params: dict[str, Any]) -> tuple[Any, Iterator[Any], Any]:
        """Open a stream and read its first chunk: the unit that retries repeat.

        A stream that fails before its first chunk (a 503, a reset) is retried like any
        call, and fails the call itself when the retries run out.
        """
        stream = self._send(self.client, params)
        try:
            chunks = iter(stream)
            first = next(chunks, _END)
        except BaseException:
            _close_quietly(stream)
            raise
        return stream, chunks, first

    def _produce_sync(
        self, call: _Call, response: ModelStreamResponse, handle: _StreamHandle
    ) -> None:
        error: BaseException | None = None
        process = self._hooks.process_output
        try:
            handle.stream, chunks, first = self._with_retry(
                lambda: self._open_stream(call.params), call.params
            )
            if first is not _END and not handle.cancelled:
                if call.prefilling:
                    response.add(call.prefilling)
                process(self, first, response)
                for chunk in chunks:
                    if handle.cancelled:
                        break
                    process(self, chunk, response)
        except BaseException as exc:  # delivered to the consumer with its original type
            if not handle.cancelled:
                error = redact_secret(exc, self.api_key)
        finally:
            if handle.stream is not None:
                _close_quietly(handle.stream)
            response.finish(error, reasoning_in_tool_call=self.reasoning_in_tool_call)

    async def _stream_async(self, call: _Call) -> ModelStreamResponse:
        import asyncio

        response = self._new_stream_response("async")
        handle = _StreamHandle()
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._produce_async(call, response, handle))
        loop_thread = threading.get_ident()

        def cancel() -> None:
            handle.cancelled = True
            if threading.get_ident() == loop_thread:
                task.cancel()
            else:
                try:
                    loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:  # loop already closed: the task is gone with it
                    pass

        response.bind_producer(task, cancel, loop)
        try:
            await response.first_chunk_event.wait_async()
        except asyncio.CancelledError:
            task.cancel()
            raise
        if response.done and response.error is not None and not _received_any(response):
            await asyncio.gather(task, return_exceptions=True)
            raise response.error
        return response

    async def _aopen_stream(self, params: dict[str, Any]) -> tuple[Any, AsyncIterator[Any], Any]:
        """Async ``_open_stream``: open the stream and read its first chunk."""
        stream = await self._asend(self.aclient, params)
        try:
            chunks = aiter(stream)
            first = await anext(chunks, _END)
        except BaseException:
            await _aclose_quietly(stream)
            raise
        return stream, chunks, first

    async def _produce_async(
        self, call: _Call, response: ModelStreamResponse, handle: _StreamHandle
    ) -> None:
        import asyncio

        error: BaseException | None = None
        process = self._hooks.process_output
        try:
            handle.stream, chunks, first = await self._awith_retry(self._aopen_stream, call.params)
            if first is not _END and not handle.cancelled:
                if call.prefilling:
                    response.add(call.prefilling)
                process(self, first, response)
                async for chunk in chunks:
                    if handle.cancelled:
                        break
                    process(self, chunk, response)
        except asyncio.CancelledError:
            if not handle.cancelled:
                error = asyncio.CancelledError("the stream's task was cancelled")
        except Exception as exc:  # delivered to the consumer with its original type
            if not handle.cancelled:
                error = redact_secret(exc, self.api_key)
        finally:
            if handle.stream is not None:
                await _aclose_quietly(handle.stream)
            response.finish(error, reasoning_in_tool_call=self.reasoning_in_tool_call)

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

        Omitted: the API key, ``extra_headers`` that look like credentials, and a ``retry``
        policy object (a ``False`` or a settings dict is kept).
        """
        state: dict[str, Any] = {"model_id": self.model_id, **_json_safe(self.defaults)}
        for name in _SERIALIZED_MODEL_OPTIONS:
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
        declared = self._declared_options()
        for name, value in self.options.items():
            if name in declared and value != declared[name]:
                try:
                    msgspec.json.encode(value)
                except (TypeError, msgspec.EncodeError):
                    continue  # a live object (an injected client): not state
                state[name] = value
        return {
            "msgflux_type": "model",
            "provider": self.provider,
            "model_type": self.model_type,
            "state": state,
        }

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


_END = object()  # marks a stream that ended before its first chunk


def _check_timeout(timeout: Any) -> Timeout | float | None:
    """``timeout`` if it is ``None`` (wait forever), a positive number of seconds or a
    ``msgflux.Timeout`` (a mapping of its fields, as ``serialize()`` writes, becomes one)."""
    if timeout is None or isinstance(timeout, Timeout):
        return timeout
    if isinstance(timeout, dict):
        return Timeout.of(timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(
            f"`timeout` must be a positive number of seconds (or None to wait forever), "
            f"got {timeout!r}"
        )
    return timeout


def _json_safe(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


def _received_any(response: ModelStreamResponse) -> bool:
    return bool(response._content.items or response._all_reasoning or response.tool_calls)


def _close_quietly(stream: Any) -> None:
    import inspect

    close = getattr(stream, "close", None)
    if close is None:
        return
    try:
        result = close()
        if inspect.iscoroutine(result):  # an async stream closed from sync code
            result.close()
    except Exception:  # closing is best effort; the stream may already be broken
        logger.debug("closing a stream failed", exc_info=True)


async def _aclose_quietly(stream: Any) -> None:
    import inspect

    close = getattr(stream, "aclose", None) or getattr(stream, "close", None)
    if close is None:
        return
    try:
        result = close()
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.debug("closing a stream failed", exc_info=True)
