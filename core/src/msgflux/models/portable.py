"""Models that travel: pickles for other processes, copies in this one, clients on first use.

A pickled model carries its configuration: its class (by reference, so a ``@register_model``
class must be importable where the pickle is loaded, as any pickled class must), the
provider, the model id and every option it was built with (``model.defaults``, the model
options, the provider's options). It never carries:

- the API key: the receiving process reads its own environment (the provider's env var)
  the first time the model is used, and without a key that first call raises
  ``MissingAPIKeyError`` naming the variable;
- transport clients and connection pools: rebuilt on first use in the receiving process;
- the response cache's contents (a cache model gets an empty cache), the resolved hooks.

What cannot travel is refused when pickling, with what to do instead: an injected client
(``client=``) or another provider option that is a live object, an ``extra_headers`` entry
that looks like a credential, any other option that does not pickle (a ``retry=`` policy
with a local function...).

``copy.copy`` and ``copy.deepcopy`` give an independent model in this process: the same
options, the same key (it never leaves the process), its own clients (built on first use,
never sharing the original's connections) and an empty cache. Injected clients are live
objects of the caller's and are shared, not copied; a tenacity ``retry=`` object is copied
with its own ``copy()``.

After ``os.fork()`` a model never reuses the parent's sockets: each transport checks the
process id before it takes a pooled connection (the fast transport's pools, the ``openai``
SDK transport's clients), so the child opens its own. An injected ``openai`` client is the
caller's to rebuild in the child.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import msgspec

from msgflux.errors import MissingAPIKeyError, UnsupportedParameterError
from msgflux.models._secret import Secret
from msgflux.models.settings import MODEL_OPTIONS

if TYPE_CHECKING:
    from msgflux.models.chat_completion import ChatCompletionModel

__all__ = ["copy_model", "defer_clients", "rebuild_model", "reduce_model", "take_restore_flag"]

# Set while rebuild_model runs the constructor: it then configures the model and defers
# the key and the clients to first use (taken, so a model built inside it is not affected).
_RESTORING: ContextVar[bool] = ContextVar("msgflux_restoring_model", default=False)
_INIT_LOCK = threading.Lock()  # first use is rare: one lock for every model is enough
_CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "cookie", "password")


def take_restore_flag() -> bool:
    """Whether the constructor running now rebuilds a model (and clear the flag)."""
    if not _RESTORING.get():
        return False
    _RESTORING.set(False)
    return True


# -- pickling ---------------------------------------------------------------------------------


def reduce_model(model: ChatCompletionModel) -> tuple[Any, ...]:
    """``model.__reduce__``: rebuild from class, provider, model id and options (no key)."""
    options = _options(model)
    _refuse_what_cannot_travel(model, options)
    return (rebuild_model, (type(model), model.provider, model.model_id, options))


def rebuild_model(
    cls: type[ChatCompletionModel], provider: str, model_id: str, options: dict[str, Any]
) -> ChatCompletionModel:
    """A model of ``cls`` configured with ``options``; its key and clients come on first use."""
    token = _RESTORING.set(True)
    try:
        return cls(model_id, provider=provider, **options)
    finally:
        _RESTORING.reset(token)


def _options(model: ChatCompletionModel) -> dict[str, Any]:
    """Every option ``model`` was configured with, as constructor keyword arguments."""
    options: dict[str, Any] = dict(model.defaults)
    for name in MODEL_OPTIONS:
        if name == "api_key":
            continue
        options[name] = model._base_url if name == "base_url" else getattr(model, name)
    options.update(model.options)
    return options


def _refuse_what_cannot_travel(model: ChatCompletionModel, options: dict[str, Any]) -> None:
    where = f"{type(model).__name__}({model.provider}/{model.model_id})"
    credentials = [
        header
        for header in options.get("extra_headers") or {}
        if any(word in header.lower() for word in _CREDENTIAL_WORDS)
    ]
    if credentials:
        raise TypeError(
            f"cannot pickle {where}: extra_headers {credentials} look like credentials, and "
            "credentials are not carried by pickles. Set them in the worker (from its own "
            "environment) or use the provider's API key env var."
        )
    for name, value in options.items():
        if value is None or isinstance(value, bool) or _is_data(value):
            continue
        if name in model.options:  # a provider option holding an object: a client...
            raise TypeError(
                f"cannot pickle {where}: its option {name}= is a live object "
                f"({type(value).__name__}), and live objects do not travel to another "
                "process. Build the model in the worker (pass it the model path and options), "
                "or drop the option and let msgflux build its own transport (transport='sdk' "
                "for the openai SDK)."
            )
        _check_pickles(where, name, value)


def _check_pickles(where: str, name: str, value: Any) -> None:
    import pickle

    try:
        pickle.dumps(value)
    except Exception as exc:
        hint = (
            "Use a settings dict (retry={'max_attempts': 5}), or build the model in the worker."
            if name == "retry"
            else "Build the model in the worker, or pass a value that pickles."
        )
        raise TypeError(
            f"cannot pickle {where}: its {name}= does not pickle ({exc}). {hint}"
        ) from exc


def _is_data(value: Any) -> bool:
    try:
        msgspec.json.encode(value)
    except (TypeError, msgspec.EncodeError):
        return False
    return True


# -- copies -----------------------------------------------------------------------------------


def copy_model(model: ChatCompletionModel) -> ChatCompletionModel:
    """``copy.copy`` / ``copy.deepcopy``: same options and key, own clients, empty cache."""
    options = {name: _copied(value) for name, value in _options(model).items()}
    clone = rebuild_model(type(model), model.provider, model.model_id, options)
    clone._api_key = model._api_key  # an immutable Secret: sharing it shares nothing else
    return clone


def _copied(value: Any) -> Any:
    import copy

    import tenacity

    if isinstance(value, tenacity.BaseRetrying):
        return value.copy()
    return copy.deepcopy(value) if _is_data(value) else value  # live objects are shared


# -- clients on first use ---------------------------------------------------------------------


class _LazyClient:
    """Stands in for ``model.client`` / ``model.aclient`` until the model is first used.

    Any attribute access (the pipeline's ``client.chat``) builds the real clients, which
    then replace this object on the model: later calls never come back here.
    """

    __slots__ = ("_model", "_slot")

    def __init__(self, model: ChatCompletionModel, slot: str) -> None:
        self._model = model
        self._slot = slot

    def __getattr__(self, name: str) -> Any:
        model = self._model
        with _INIT_LOCK:
            if isinstance(getattr(model, self._slot), _LazyClient):
                _initialize(model)
        client = getattr(model, self._slot)
        if client is None:
            kind = "sync" if self._slot == "client" else "async"
            raise UnsupportedParameterError(f"provider {model.provider!r} has no {kind} client")
        return getattr(client, name)

    def __repr__(self) -> str:
        return f"<{self._slot} of {self._model!r}, built on first use>"


def defer_clients(model: ChatCompletionModel) -> None:
    """Install stand-ins that build the key and clients on first use (see ``_LazyClient``)."""
    model.client = _LazyClient(model, "client")
    model.aclient = _LazyClient(model, "aclient")
    model._close_clients = None
    model._aclose_clients = None
    model._response_cache = model._new_response_cache()


def _initialize(model: ChatCompletionModel) -> None:
    try:
        model._initialize()
        if model._api_key is None:
            key = model._get_api_key()
            model._api_key = Secret(key) if key else None
    except MissingAPIKeyError as exc:
        raise MissingAPIKeyError(
            f"{exc}; this model was rebuilt from a pickle (or a copy of one), and API keys "
            "are not carried by pickles: set the key in this process's environment"
        ) from None
