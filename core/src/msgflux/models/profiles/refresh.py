"""Refreshing profiles from the live models.dev catalogue into the user cache.

Never automatic by default: nothing here runs at import or during a model call. The user
calls :func:`refresh_profiles` (blocking, bounded by ``timeout``) or
:func:`refresh_profiles_in_background`, or sets ``MSGFLUX_PROFILES_AUTO_REFRESH=1`` to have
the first profile lookup start one background refresh.

Settings (arguments win over environment variables):

- URL: ``url=``, else ``$MSGFLUX_PROFILES_URL``, else https://models.dev/api.json (``file://``
  URLs work too, for air-gapped machines).
- Cache file: ``$MSGFLUX_CACHE_DIR/model-profiles-v1.json.gz`` (see ``store.cache_dir``).
- TTL: ``ttl=`` seconds, else ``$MSGFLUX_PROFILES_TTL``, else 24 hours. A cache file younger
  than the TTL, fetched from the same URL, is used without any network access.

When the download fails (offline, timeout, HTTP error, a document that is not api.json),
lookups keep answering from the cache or the packaged snapshot, and ONE warning is logged on
``msgflux.profiles`` per failed refresh, never per lookup.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from msgflux.models.profiles import store

if TYPE_CHECKING:
    from msgflux.models.profiles.catalogue import Catalogue

__all__ = [
    "DEFAULT_TTL",
    "DEFAULT_URL",
    "document_from_api_json",
    "refresh_profiles",
    "refresh_profiles_in_background",
    "wait_for_background_refresh",
]

logger = logging.getLogger("msgflux.profiles")

DEFAULT_URL = "https://models.dev/api.json"
DEFAULT_TTL = 24 * 60 * 60.0
_MAX_BYTES = 64 * 1024 * 1024  # api.json is a few MB; refuse anything absurd

_background_lock = threading.Lock()
_background: threading.Thread | None = None


def _resolve_url(url: str | None) -> str:
    return url or os.environ.get("MSGFLUX_PROFILES_URL") or DEFAULT_URL


def _resolve_ttl(ttl: float | None) -> float:
    if ttl is not None:
        return float(ttl)
    raw = os.environ.get("MSGFLUX_PROFILES_TTL")
    if raw:
        try:
            return float(raw)
        except ValueError:
            logger.warning("ignoring MSGFLUX_PROFILES_TTL=%r: not a number of seconds", raw)
    return DEFAULT_TTL


def _user_agent() -> str:
    from importlib import metadata

    try:
        return f"msgflux/{metadata.version('msgflux')}"
    except metadata.PackageNotFoundError:
        return "msgflux"


def _fetch(url: str, timeout: float) -> bytes:
    import gzip
    import urllib.request

    request = urllib.request.Request(
        url,
        headers={"User-Agent": _user_agent(), "Accept-Encoding": "gzip"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data: bytes = response.read(_MAX_BYTES + 1)
        encoding = (response.headers.get("Content-Encoding") or "").lower()
    if len(data) > _MAX_BYTES:
        raise ValueError(f"response larger than {_MAX_BYTES} bytes")
    if encoding == "gzip" or data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def document_from_api_json(
    payload: bytes,
    *,
    base: Catalogue,
    url: str | None = None,
    fetched_at: float | None = None,
) -> dict[str, Any]:
    """Convert a models.dev ``api.json`` document into the compact catalogue form.

    api.json lists providers and their models with inheritance already resolved, but not the
    provider-agnostic ``models/`` entries; those (and their open-weights name index) are
    carried over from ``base``, normally the packaged snapshot.

    Args:
        payload: The api.json bytes: ``{provider id: {..., "models": {model id: {...}}}}``.
        base: The catalogue to take the provider-agnostic models from.
        url: Recorded in the document.
        fetched_at: Recorded in the document (epoch seconds).

    Returns:
        The catalogue document.

    Raises:
        ValueError: The payload is not JSON in the api.json shape.
    """
    import msgspec

    from msgflux.models.profiles import catalogue

    try:
        data = msgspec.json.decode(payload)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("not a models.dev api.json document (expected an object of providers)")
    providers: dict[str, dict[str, list[Any]]] = {}
    entries: list[dict[str, Any]] = []
    for pid, provider in data.items():
        models = provider.get("models") if isinstance(provider, dict) else None
        if not isinstance(models, dict):
            continue
        rows: dict[str, list[Any]] = {}
        for mid, fields in models.items():
            if isinstance(fields, dict):
                rows[mid] = catalogue.compact_row(fields, fallback_name=mid)
                entries.append(fields)
        providers[pid] = rows
    if not entries:
        raise ValueError("not a models.dev api.json document (no provider lists any model)")
    return catalogue.build_document(
        providers,
        base.raw_section("models"),
        base.raw_section("open_weights_models"),
        source=url or "models.dev api.json",
        data_date=catalogue.newest_date(entries),
        fetched_at=fetched_at,
        url=url,
    )


def _write_atomically(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)  # readers see the old file or the new one, never half
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _describe_fallback() -> str:
    in_use = store.source(auto_refresh=False)
    if in_use.kind == "cache":
        return f"using the cached catalogue of {in_use.data_date} ({in_use.path})"
    return f"using the packaged snapshot of {in_use.data_date}"


def refresh_profiles(
    url: str | None = None,
    *,
    timeout: float = 10.0,
    ttl: float | None = None,
    force: bool = False,
) -> bool:
    """Download the live models.dev catalogue into the user cache and use it.

    Blocking (at most about ``timeout`` per network operation); call it at start-up or from
    a background thread (:func:`refresh_profiles_in_background`), never on a request path.

    Args:
        url: Catalogue URL; default ``$MSGFLUX_PROFILES_URL`` or https://models.dev/api.json.
        timeout: Socket timeout in seconds.
        ttl: Seconds a downloaded catalogue stays fresh; default ``$MSGFLUX_PROFILES_TTL``
            or 24 hours. While fresh (and from the same URL), no request is made.
        force: Download even when the cache is fresh.

    Returns:
        True when a new catalogue was downloaded, False when the fresh cache was used or
        the download failed (then one warning is logged and lookups keep their data).
    """
    import gzip
    import http.client
    import zlib

    from msgflux.models.profiles.catalogue import Catalogue, encode_document

    url = _resolve_url(url)
    path = store.cache_path()
    if not force:
        cached = store.read_cache(path)
        if (
            cached is not None
            and cached.url == url
            and cached.fetched_at is not None
            and 0 <= time.time() - cached.fetched_at < _resolve_ttl(ttl)
        ):
            store.activate(cached, path)
            return False
    try:
        payload = _fetch(url, timeout)
        now = time.time()
        document = document_from_api_json(payload, base=store.snapshot(), url=url, fetched_at=now)
        encoded = encode_document(document)
        refreshed = Catalogue(encoded)
        _write_atomically(path, gzip.compress(encoded, compresslevel=6))
    # URLError, HTTPError, timeouts and refused connections are OSErrors; a truncated body
    # is an HTTPException or a bad gzip stream.
    except (OSError, ValueError, EOFError, zlib.error, http.client.HTTPException) as exc:
        logger.warning(
            "could not refresh model profiles from %s (%s); %s", url, exc, _describe_fallback()
        )
        return False
    store.activate(refreshed, path)
    return True


def refresh_profiles_in_background(
    url: str | None = None,
    *,
    timeout: float = 10.0,
    ttl: float | None = None,
    force: bool = False,
) -> threading.Thread:
    """Run :func:`refresh_profiles` on a daemon thread; lookups never wait for it.

    If a background refresh is already running, that thread is returned and no second one
    starts.

    Returns:
        The thread (``join()`` it, or call :func:`wait_for_background_refresh`).
    """
    global _background
    with _background_lock:
        if _background is not None and _background.is_alive():
            return _background
        thread = threading.Thread(
            target=_refresh_quietly,
            kwargs={"url": url, "timeout": timeout, "ttl": ttl, "force": force},
            name="msgflux-profiles-refresh",
            daemon=True,
        )
        _background = thread
        thread.start()
        return thread


def _refresh_quietly(**kwargs: Any) -> None:
    try:
        refresh_profiles(**kwargs)
    except Exception:  # a bug here must not kill the app through an unhandled-thread hook
        logger.exception("model profile refresh failed unexpectedly")


def wait_for_background_refresh(timeout: float | None = None) -> bool:
    """Wait for the running background refresh, if any.

    Args:
        timeout: Seconds to wait at most; None waits until it ends.

    Returns:
        True when no background refresh is running any more.
    """
    thread = _background
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()
