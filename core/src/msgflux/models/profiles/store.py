"""Which catalogue lookups read: the packaged snapshot or the refreshed copy in the user cache.

Nothing is read at import. The first lookup loads, once per process:

- the user cache file (written by :func:`~msgflux.models.profiles.refresh_profiles`) when it
  exists, is readable, and its data is at least as new as the packaged snapshot's (so an old
  cache never shadows the snapshot of a newer msgflux);
- otherwise the packaged snapshot.

An explicit refresh switches lookups to the refreshed data at once; the switch is one
assignment, so concurrent lookups see either the old or the new catalogue, never a mix.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from msgflux.models.profiles.catalogue import Catalogue

__all__ = [
    "ProfilesSource",
    "activate",
    "cache_dir",
    "cache_path",
    "current",
    "read_cache",
    "reload",
    "snapshot",
    "source",
]

logger = logging.getLogger("msgflux.profiles")

SNAPSHOT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshot.json.gz")
_CACHE_FILE = "model-profiles-v1.json.gz"  # the version is catalogue.FORMAT

_lock = threading.RLock()
_active: Catalogue | None = None
_active_source: ProfilesSource | None = None
_snapshot: Catalogue | None = None


class ProfilesSource(msgspec.Struct, frozen=True, kw_only=True):
    """Where the profiles that lookups return come from.

    Attributes:
        kind: ``"snapshot"`` (packaged with msgflux) or ``"cache"`` (refreshed from the
            live catalogue into the user cache directory).
        path: The file read.
        data_date: Newest ``last_updated`` date in the data.
        fetched_at: For ``"cache"``: when it was downloaded (epoch seconds).
        url: For ``"cache"``: the URL it was downloaded from.
    """

    kind: str
    path: str
    data_date: str | None = None
    fetched_at: float | None = None
    url: str | None = None


def cache_dir() -> str:
    """The msgflux cache directory (not created here).

    ``$MSGFLUX_CACHE_DIR``, else ``$XDG_CACHE_HOME/msgflux``, else the platform's user cache
    directory: ``%LOCALAPPDATA%\\msgflux\\Cache`` on Windows, ``~/Library/Caches/msgflux`` on
    macOS, ``~/.cache/msgflux`` elsewhere.
    """
    explicit = os.environ.get("MSGFLUX_CACHE_DIR")
    if explicit:
        return os.path.expanduser(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return os.path.join(xdg, "msgflux")
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return os.path.join(os.environ["LOCALAPPDATA"], "msgflux", "Cache")
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~"), "Library", "Caches", "msgflux")
    return os.path.join(os.path.expanduser("~"), ".cache", "msgflux")


def cache_path() -> str:
    """The refreshed catalogue's file in :func:`cache_dir`."""
    return os.path.join(cache_dir(), _CACHE_FILE)


def _parse(path: str) -> Catalogue:
    import gzip

    from msgflux.models.profiles.catalogue import Catalogue

    with open(path, "rb") as handle:
        data = handle.read()
    return Catalogue(gzip.decompress(data))


def snapshot() -> Catalogue:
    """The packaged snapshot, parsed once."""
    global _snapshot
    if _snapshot is None:
        with _lock:
            if _snapshot is None:
                _snapshot = _parse(SNAPSHOT_PATH)
    return _snapshot


def read_cache(path: str | None = None) -> Catalogue | None:
    """The refreshed catalogue in the cache, or None when missing or unreadable."""
    path = path or cache_path()
    try:
        return _parse(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError) as exc:
        # A corrupt or foreign-format cache is not an error: the snapshot answers instead.
        logger.debug("ignoring unreadable model profile cache %s: %s", path, exc)
        return None


def _source_of(catalogue: Catalogue, kind: str, path: str) -> ProfilesSource:
    return ProfilesSource(
        kind=kind,
        path=path,
        data_date=catalogue.data_date,
        fetched_at=catalogue.fetched_at,
        url=catalogue.url,
    )


def activate(catalogue: Catalogue, path: str) -> None:
    """Make a refreshed catalogue (read from ``path``) the one lookups use."""
    global _active, _active_source
    with _lock:
        _active_source = _source_of(catalogue, "cache", path)
        _active = catalogue


def _load() -> None:
    global _active, _active_source
    path = cache_path()
    cached = read_cache(path)
    if cached is not None:
        packaged = snapshot()
        if (cached.data_date or "") >= (packaged.data_date or ""):
            _active_source = _source_of(cached, "cache", path)
            _active = cached
            return
        logger.debug("model profile cache %s is older than the packaged snapshot", path)
    packaged = snapshot()
    _active_source = _source_of(packaged, "snapshot", SNAPSHOT_PATH)
    _active = packaged


def current(*, auto_refresh: bool = True) -> Catalogue:
    """The catalogue lookups use, loaded on first call.

    With ``MSGFLUX_PROFILES_AUTO_REFRESH`` set (``1``/``true``/``yes``/``on``), the first
    load also starts one background refresh (see ``refresh_profiles_in_background``);
    lookups never wait for it.

    Args:
        auto_refresh: False when the caller is itself a refresh.
    """
    catalogue = _active
    if catalogue is not None:
        return catalogue
    start_refresh = False
    with _lock:
        if _active is None:
            _load()
            start_refresh = auto_refresh and _auto_refresh_enabled()
        catalogue = _active
    if start_refresh:
        from msgflux.models.profiles.refresh import refresh_profiles_in_background

        refresh_profiles_in_background()
    assert catalogue is not None
    return catalogue


def _auto_refresh_enabled() -> bool:
    value = os.environ.get("MSGFLUX_PROFILES_AUTO_REFRESH", "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


def source(*, auto_refresh: bool = True) -> ProfilesSource:
    """Where lookups currently read from (loads the catalogue if needed)."""
    current(auto_refresh=auto_refresh)
    assert _active_source is not None
    return _active_source


def reload() -> None:
    """Forget the loaded catalogue; the next lookup loads again (cache or snapshot).

    Use it after changing ``MSGFLUX_CACHE_DIR`` in a running process, or in tests.
    """
    global _active, _active_source
    with _lock:
        _active = None
        _active_source = None
