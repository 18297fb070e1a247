"""In-process LRU cache of model responses (``enable_cache=True``).

The pipeline looks a request up by :func:`request_cache_key` after building it and
before sending it; only a response that was decoded without error is stored, and
streams are never cached. One cache belongs to one model instance and is shared by all
the threads and tasks that use the model.
"""

from __future__ import annotations

import copy
import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import msgspec

from msgflux.dotdict import dotdict
from msgflux.models.response import ModelResponse

__all__ = ["ResponseCache", "request_cache_key"]


class ResponseCache:
    """A thread-safe LRU map from request keys to responses.

    ``set`` stores a private copy and every hit returns a fresh copy, so a caller that
    mutates its response (``data``, ``metadata``, a tool-call aggregator it fills with
    results) changes neither the stored entry nor what the next hit returns. No lock is
    held while copying, and nothing here awaits, so it is safe from threads and tasks alike.

    Args:
        maxsize: How many responses to keep; the least recently used goes first.
    """

    def __init__(self, maxsize: int = 128) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"cache_size must be a positive integer, got {maxsize!r}")
        self.maxsize = maxsize
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, copy_of_response)`` on a hit, ``(False, None)`` on a miss."""
        with self._lock:
            value = self._entries.get(key, _MISSING)
            if value is _MISSING:
                self._misses += 1
                return False, None
            self._entries.move_to_end(key)
            self._hits += 1
        # Stored values are never mutated (they are private copies), so copying outside the
        # lock is safe and keeps other threads from waiting on it.
        return True, _clone(value, {})

    def set(self, key: str, value: Any) -> None:
        """Store a copy of ``value`` (the caller keeps its own object)."""
        stored = _clone(value, {})
        with self._lock:
            self._entries[key] = stored
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def cache_info(self) -> dict[str, int]:
        """``{'hits', 'misses', 'maxsize', 'currsize'}``."""
        with self._lock:
            return {
                "hits": self._hits,
                "misses": self._misses,
                "maxsize": self.maxsize,
                "currsize": len(self._entries),
            }

    def cache_clear(self) -> None:
        """Drop every entry and reset the statistics."""
        with self._lock:
            self._entries.clear()
            self._hits = 0
            self._misses = 0

    def __repr__(self) -> str:
        info = self.cache_info()
        return (
            f"ResponseCache(maxsize={info['maxsize']}, currsize={info['currsize']}, "
            f"hits={info['hits']}, misses={info['misses']})"
        )


_MISSING = object()
_ATOMIC = frozenset({str, int, float, bool, bytes, type(None)})


def _clone(value: Any, memo: dict[int, Any]) -> Any:
    """A deep copy, fast for what responses hold (text, dicts, dotdicts, lists).

    ``memo`` keeps shared objects shared (``response.data is response.tool_calls``);
    plain containers are copied without it (responses do not alias them).
    """
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if kind is dict:
        return {key: _clone(item, memo) for key, item in value.items()}
    if kind is dotdict:
        result = dotdict()
        for key, item in value.items():
            dict.__setitem__(result, key, _clone(item, memo))
        return result
    if kind is list:
        return [_clone(item, memo) for item in value]
    if kind is tuple:
        return tuple([_clone(item, memo) for item in value])
    known = memo.get(id(value), _MISSING)
    if known is not _MISSING:
        return known
    if isinstance(value, ModelResponse):
        copied = object.__new__(kind)
        memo[id(value)] = copied
        for name, item in vars(value).items():
            object.__setattr__(copied, name, _clone(item, memo))
        return copied
    # Aggregators, SDK objects, anything else: the general (slower) deep copy.
    copied = copy.deepcopy(value)
    memo[id(value)] = copied
    return copied


# -- keys ----------------------------------------------------------------------------------

# Header names that carry credentials: they never reach a key (the answer does not depend on
# which key asked for it, and a key must not be derivable from cache keys).
_CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "cookie", "password")
# Transport settings that do not change the answer.
_TRANSPORT_PARAMS = frozenset({"timeout", "extra_query"})

_type_ids: weakref.WeakKeyDictionary[type, int] = weakref.WeakKeyDictionary()
_type_counter = itertools.count(1)
_type_lock = threading.Lock()


def _type_token(cls: type) -> str:
    """``module.QualName#n``: ``n`` is unique per class object for the process's lifetime.

    Two schemas with the same name (two ``class Answer(msgspec.Struct)`` in different
    scopes, or one redefined) get different tokens, and unlike ``id()`` a token is never
    reused by a later class after the first one is garbage collected.
    """
    number = _type_ids.get(cls)
    if number is None:
        with _type_lock:
            number = _type_ids.get(cls)
            if number is None:
                number = _type_ids[cls] = next(_type_counter)
    return f"{cls.__module__}.{cls.__qualname__}#{number}"


def _enc_hook(value: Any) -> Any:
    if isinstance(value, type):
        return _type_token(value)
    cache_key = getattr(value, "cache_key", None)
    if callable(cache_key):
        return cache_key()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    # Anything else: its type and repr. Objects whose repr shows an address simply never
    # hit, which is the safe side.
    return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"


_encode = msgspec.json.Encoder(enc_hook=_enc_hook, order="deterministic").encode


def _key_params(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """``params`` without transport settings and credential headers."""
    if not (_TRANSPORT_PARAMS.intersection(params) or "extra_headers" in params):
        return params
    kept = {name: value for name, value in params.items() if name not in _TRANSPORT_PARAMS}
    headers = kept.get("extra_headers")
    if isinstance(headers, Mapping):
        headers = {
            name: value
            for name, value in headers.items()
            if not any(word in str(name).lower() for word in _CREDENTIAL_WORDS)
        }
        if headers:
            kept["extra_headers"] = headers
        else:
            del kept["extra_headers"]
    return kept


def request_cache_key(*, params: Mapping[str, Any] | None = None, **parts: Any) -> str:
    """A digest of every part of a request that changes the answer.

    Args:
        params: The neutral request (model id, messages with the system prompt and
            prefilling, sampling parameters, tools, response format, ``extra_body``...).
            Its ``timeout`` and credential-looking ``extra_headers`` are left out.
        **parts: Anything else that changes the response: the generation schema (by class
            identity, not by name), the typed parser, provider, base URL, decoding flags.
            Never the API key.

    Returns:
        A hex digest; equal requests give equal keys in one process.
    """
    if params is not None:
        parts["params"] = _key_params(params)
    try:
        encoded = _encode(parts)
    except (TypeError, ValueError, msgspec.EncodeError):
        # Keys that are not strings in some nested mapping (or similar): fall back to a
        # canonical form msgspec can always encode.
        encoded = _encode(_canonical(parts))
    import hashlib  # here, not at import: only models with enable_cache=True need it

    return hashlib.blake2b(encoded, digest_size=20).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return sorted(([repr(key), _canonical(item)] for key, item in value.items()), key=str)
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value
