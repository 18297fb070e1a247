"""The backends keep the protocol: get, set, delete, clear, stats, TTL; and their own bounds."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest

from msgflux.cache import CacheBackend, MemoryCache, RedisCache, SQLiteCache


@pytest.fixture(params=["memory", "sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path) -> Any:
    if request.param == "memory":
        yield MemoryCache(16)
    elif request.param == "sqlite":
        store = SQLiteCache(tmp_path / "cache.sqlite3")
        yield store
        store.close()
    else:
        server = request.getfixturevalue("redis_server")
        store = RedisCache(server.url)
        yield store
        store.close()


def test_the_protocol(backend):
    assert isinstance(backend, CacheBackend)
    assert backend.get("a" * 40) is None
    backend.set("a" * 40, b"\x00first")
    backend.set("b" * 40, b"second")
    assert backend.get("a" * 40) == b"\x00first"
    backend.set("a" * 40, b"replaced")
    assert backend.get("a" * 40) == b"replaced"
    assert backend.stats()["currsize"] == 2
    backend.delete("a" * 40)
    backend.delete("a" * 40)  # absent: no error
    assert backend.get("a" * 40) is None and backend.stats()["currsize"] == 1
    backend.clear()
    assert backend.get("b" * 40) is None and backend.stats()["currsize"] == 0


def test_entries_expire(backend):
    backend.set("short", b"x", ttl=0.05)
    backend.set("long", b"y", ttl=3600)
    backend.set("forever", b"z")
    time.sleep(0.3)
    assert backend.get("short") is None
    assert backend.get("long") == b"y" and backend.get("forever") == b"z"


def test_a_backend_default_ttl_applies_when_the_call_gives_none(tmp_path, request):
    stores = [MemoryCache(4, ttl=0.05), SQLiteCache(tmp_path / "c.sqlite3", ttl=0.05)]
    for store in stores:
        store.set("k", b"v")
        store.set("kept", b"v", ttl=3600)  # the call's TTL wins
    time.sleep(0.3)
    for store in stores:
        assert store.get("k") is None and store.get("kept") == b"v"
    stores[1].close()


def test_memory_evicts_the_least_recently_used():
    store = MemoryCache(2)
    store.set("a", b"1")
    store.set("b", b"2")
    store.get("a")
    store.set("c", b"3")
    assert store.keys() == ["a", "c"]
    with pytest.raises(ValueError, match="cache_size"):
        MemoryCache(0)


def test_sqlite_evicts_the_least_recently_used_by_count(tmp_path):
    store = SQLiteCache(tmp_path / "c.sqlite3", max_entries=3, touch_interval=0)
    for key in "abc":
        store.set(key, b"v")
        time.sleep(0.01)  # distinct last-use times
    assert store.get("a") == b"v"  # a is now the most recent
    store.set("d", b"v")
    assert store.get("b") is None
    assert [store.get(key) for key in "acd"] == [b"v"] * 3
    assert store.stats()["currsize"] == 3
    store.close()


def test_sqlite_evicts_by_size_and_keeps_its_totals(tmp_path):
    store = SQLiteCache(tmp_path / "c.sqlite3", max_bytes=10_000, touch_interval=0)
    for n in range(30):
        store.set(f"key-{n:02d}", bytes(1000))
    stats = store.stats()
    assert stats["bytes"] <= 10_000 and stats["currsize"] == 9
    with sqlite3.connect(store.path) as db:  # the triggers' totals match the rows
        rows, size = db.execute("SELECT count(*), sum(size) FROM entries").fetchone()
    assert (rows, size) == (stats["currsize"], stats["bytes"])
    assert store.get("key-29") is not None and store.get("key-00") is None
    store.set("huge", bytes(20_000))  # larger than the bound: not stored, nothing evicted
    assert store.get("huge") is None and store.stats()["currsize"] == 9
    store.close()


def test_sqlite_uses_wal_and_the_default_location(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    store = SQLiteCache()
    assert store.path == tmp_path / "xdg" / "msgflux" / "responses.sqlite3"
    store.set("k", b"v")
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    assert SQLiteCache(tmp_path / "again.sqlite3").get("k") is None


def test_sqlite_bounds_are_checked(tmp_path):
    for bad in ({"max_bytes": 0}, {"max_entries": -1}, {"max_entries": True}):
        with pytest.raises(ValueError, match="positive integer"):
            SQLiteCache(tmp_path / "c.sqlite3", **bad)


def test_redis_clear_removes_only_its_own_keys(redis_server):
    import redis

    mine, theirs = RedisCache(redis_server.url), RedisCache(redis_server.url, prefix="other:")
    with redis.Redis.from_url(redis_server.url) as client:
        client.set("unrelated", b"keep me")
        mine.set("k", b"1")
        theirs.set("k", b"2")
        mine.clear()
        assert mine.get("k") is None and theirs.get("k") == b"2"
        assert client.get("unrelated") == b"keep me"
    mine.close()
    theirs.close()


def test_redis_passwords_stay_out_of_repr():
    store = RedisCache("redis://user:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in repr(store) and "s3cret" not in store.url
    store.close()
