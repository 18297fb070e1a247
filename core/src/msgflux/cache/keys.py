"""Cache keys: a digest of everything in a request that changes its answer.

A key covers the neutral request (model id, messages, sampling parameters, tools, response
format, ``extra_body``...), the provider, the base URL, how the answer is decoded, and
``FORMAT_VERSION`` (so an upgrade that changes what is stored never reads an older shape).
It never covers the API key, the timeout or credential-looking headers.

Two flavours differ only in how a class (a generation schema) is named:

- process-local keys (the in-memory cache) name a class by its identity, so two classes
  that share a name are told apart even when they look alike;
- portable keys (caches shared between processes: disk, Redis, user backends) name it by
  module, qualified name and the digest of its JSON Schema, which every process computes
  alike.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    import hashlib

__all__ = ["FORMAT_VERSION", "request_cache_key"]

#: The version of the stored records (``msgflux.cache.codec``) and of the key layout. Raise
#: it when either changes: old entries then simply stop matching.
FORMAT_VERSION = 1

# Header names that carry credentials: they never reach a key (the answer does not depend on
# which key asked for it, and a key must not be derivable from cache keys).
_CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "cookie", "password")
# Transport settings that do not change the answer.
_TRANSPORT_PARAMS = frozenset({"timeout", "extra_query"})

_type_ids: weakref.WeakKeyDictionary[type, int] = weakref.WeakKeyDictionary()
_type_counter = itertools.count(1)
_type_lock = threading.Lock()


def _identity_token(cls: type) -> str:
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


_portable_tokens: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()


def _portable_token(cls: type) -> str:
    """``module.QualName:digest``, the digest of the class's JSON Schema: equal in every
    process that defines the class alike, different when a field or constraint differs."""
    token = _portable_tokens.get(cls)
    if token is None:
        try:
            shape = msgspec.json.encode(msgspec.json.schema(cls), order="sorted")
        except (TypeError, ValueError):
            shape = b""  # not a schema type: its name (and the request's wire schema) decide
        digest = _blake2b(shape, digest_size=8).hexdigest()
        token = f"{cls.__module__}.{cls.__qualname__}:{digest}"
        try:
            _portable_tokens[cls] = token
        except TypeError:  # not weak-referenceable: computed again next time
            pass
    return token


def _hook(type_token: Callable[[type], str]) -> Callable[[Any], Any]:
    def enc_hook(value: Any) -> Any:
        if isinstance(value, type):
            return type_token(value)
        cache_key = getattr(value, "cache_key", None)
        if callable(cache_key):
            return cache_key()
        if isinstance(value, set | frozenset):
            return sorted(value, key=repr)
        # Anything else: its type and repr. Objects whose repr shows an address simply never
        # hit, which is the safe side.
        return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"

    return enc_hook


_ENCODERS = {
    False: msgspec.json.Encoder(enc_hook=_hook(_identity_token), order="deterministic").encode,
    True: msgspec.json.Encoder(enc_hook=_hook(_portable_token), order="deterministic").encode,
}


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


def request_cache_key(
    *, params: Mapping[str, Any] | None = None, portable: bool = False, **parts: Any
) -> str:
    """A digest of every part of a request that changes the answer.

    Args:
        params: The neutral request (model id, messages with the system prompt and
            prefilling, sampling parameters, tools, response format, ``extra_body``...).
            Its ``timeout`` and credential-looking ``extra_headers`` are left out.
        portable: Name classes so that every process computes the same key (for caches
            shared between processes); otherwise by identity (see the module docstring).
        **parts: Anything else that changes the response: the generation schema, the typed
            parser, provider, base URL, decoding flags. Never the API key.

    Returns:
        A 40-character hex digest; equal requests give equal keys.
    """
    if params is not None:
        parts["params"] = _key_params(params)
    parts["format"] = FORMAT_VERSION
    encode = _ENCODERS[portable]
    try:
        encoded = encode(parts)
    except (TypeError, ValueError, msgspec.EncodeError):
        # Keys that are not strings in some nested mapping (or similar): fall back to a
        # canonical form msgspec can always encode.
        encoded = encode(_canonical(parts))
    return _blake2b(encoded, digest_size=20).hexdigest()


def _blake2b(data: bytes, digest_size: int) -> hashlib.blake2b:
    import hashlib  # here, not at import: ~3 ms (OpenSSL), and only caching models need it

    return hashlib.blake2b(data, digest_size=digest_size)


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return sorted(([repr(key), _canonical(item)] for key, item in value.items()), key=str)
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value
