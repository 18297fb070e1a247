"""``cache=`` and ``cache_ttl=``: every spelling, its errors, serialization, TTL precedence."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from msgflux.cache import MemoryCache, RedisCache, ResponseCache, SQLiteCache


class DictBackend:
    """The smallest user backend (the protocol's docstring example)."""

    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}

    def get(self, key):
        return self.entries.get(key)

    def set(self, key, value, ttl=None):
        self.entries[key] = value

    def delete(self, key):
        self.entries.pop(key, None)

    def clear(self):
        self.entries.clear()

    def stats(self):
        return {"currsize": len(self.entries)}


def backend_of(model) -> object:
    return model._response_cache.backend


def test_memory_spellings(make_model):
    for options in ({"enable_cache": True}, {"cache": True}, {"cache": "memory"}):
        model = make_model(cache_size=7, **options)
        assert isinstance(backend_of(model), MemoryCache)
        assert model._response_cache.cache_info()["maxsize"] == 7
    assert make_model()._response_cache is None
    assert make_model(cache=False)._response_cache is None


def test_memory_caches_are_per_model(make_model, loopback_server, requests_to):
    first, second = make_model(cache="memory"), make_model(cache="memory")
    first("hi")
    second("hi")
    assert requests_to(loopback_server) == 2


def test_disk_spellings(make_model, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    expected = {
        "disk": tmp_path / "xdg" / "msgflux" / "responses.sqlite3",
        f"disk:{tmp_path}/a.db": tmp_path / "a.db",
        f"sqlite:///{tmp_path}/b.db": tmp_path / "b.db",
        "sqlite:///relative.db": Path("relative.db"),
        str(tmp_path / "c.db"): tmp_path / "c.db",
        "./d.db": Path("d.db"),
    }
    for spec, path in expected.items():
        backend = backend_of(make_model(cache=spec))
        assert isinstance(backend, SQLiteCache)
        assert backend.path.absolute() == path.absolute(), spec
    backend = backend_of(make_model(cache=tmp_path / "e.db"))  # a Path
    assert backend.path == tmp_path / "e.db" and backend.max_entries is None
    assert backend_of(make_model(cache=tmp_path / "f.db", cache_size=50)).max_entries == 50


def test_models_naming_one_file_share_one_cache(make_model, tmp_path, loopback_server, requests_to):
    first = make_model(cache=f"disk:{tmp_path}/shared.db")
    second = make_model(cache=str(tmp_path / "shared.db"))
    assert first._response_cache is second._response_cache
    first("hi")
    assert second("hi").data == "echo: hi"
    assert requests_to(loopback_server) == 1


def test_redis_spelling(make_model, redis_server):
    model = make_model(cache=redis_server.url)
    assert isinstance(backend_of(model), RedisCache)
    with pytest.raises(ValueError, match="cache_size.*Redis"):
        make_model(cache=redis_server.url, cache_size=10)


def test_objects(make_model, loopback_server, requests_to):
    user = DictBackend()
    model = make_model(cache=user)
    model("hi")
    assert model("hi").data == "echo: hi" and len(user.entries) == 1
    assert requests_to(loopback_server) == 1
    shared = ResponseCache(backend=DictBackend())
    assert make_model(cache=shared)._response_cache is shared


@pytest.mark.parametrize(
    "bad", ["disk:", "sqlite:///", "memcached://x", "relative.db", 3, object(), ["disk"]]
)
def test_unknown_spellings_say_what_works(make_model, bad):
    with pytest.raises(ValueError, match="'disk'.*redis://"):
        make_model(cache=bad)


def test_contradictions_and_bad_ttls(make_model):
    with pytest.raises(ValueError, match="contradicts"):
        make_model(enable_cache=True, cache=False)
    with pytest.raises(ValueError, match="cache_ttl.*needs a cache"):
        make_model(cache_ttl=10)
    with pytest.raises(ValueError, match="cache_ttl"):
        make_model(cache="memory", cache_ttl=0)
    model = make_model(cache="memory")
    for bad in (0, -1, "10", True):
        with pytest.raises(ValueError, match="cache_ttl"):
            model("hi", cache_ttl=bad)
    with pytest.raises(ValueError, match="needs a cache"):
        make_model()("hi", cache_ttl=5)


def test_serialize_keeps_spellings_drops_objects_and_passwords(make_model, tmp_path):
    assert make_model(cache="disk:" + str(tmp_path / "s.db")).serialize()["state"]["cache"] == (
        "disk:" + str(tmp_path / "s.db")
    )
    redis_model = make_model(cache="redis://user:s3cret@127.0.0.1:1/0")
    state = redis_model.serialize()["state"]
    assert state["cache"] == "redis://user@127.0.0.1:1/0" and "s3cret" not in str(state)
    assert "cache" not in make_model(cache=DictBackend()).serialize()["state"]
    assert make_model(cache=tmp_path / "p.db").serialize()["state"]["cache"] == str(
        tmp_path / "p.db"
    )


def test_ttl_per_call_then_per_model_then_per_backend(make_model, loopback_server, requests_to):
    model = make_model(cache="memory", cache_ttl=0.05)
    model("model ttl")
    model("call ttl", cache_ttl=3600)
    time.sleep(0.3)
    model("model ttl")  # expired: sent again
    model("call ttl")  # the call's TTL kept it
    assert requests_to(loopback_server) == 3
    backend_ttl = make_model(cache=ResponseCache(backend=MemoryCache(8, ttl=0.05)))
    backend_ttl("backend ttl")
    time.sleep(0.3)
    backend_ttl("backend ttl")
    assert requests_to(loopback_server) == 5


def test_a_serialized_model_keeps_its_cache(
    make_model, tmp_path, loopback_server, requests_to, monkeypatch
):
    import msgflux as mf

    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    model = make_model(cache=f"disk:{tmp_path}/kept.db", cache_ttl=3600)
    model("hi")
    state = model.serialize()
    assert state["state"]["cache_ttl"] == 3600
    again = mf.Model.from_serialized(state)
    assert again("hi").data == "echo: hi"
    assert requests_to(loopback_server) == 1
    again.close()
