"""A failing cache never fails a call: Redis killed, a corrupt SQLite file, a corrupt entry,
a backend that raises. Each kind of failure is logged once."""

from __future__ import annotations

import logging
import os
import time

import pytest

from msgflux.cache import RedisCache, ResponseCache, SQLiteCache


@pytest.fixture
def cache_warnings(caplog):
    caplog.set_level(logging.WARNING, logger="msgflux.cache")

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "msgflux.cache"]

    return warnings


async def test_redis_killed_mid_run(
    make_model, start_redis, loopback_server, requests_to, cache_warnings
):
    server = start_redis()
    model = make_model(cache=server.url)
    assert model("before").data == "echo: before"
    assert model("before").data == "echo: before"  # a hit
    assert requests_to(loopback_server) == 1
    server.kill()
    for n in range(3):
        assert model("before").data == "echo: before"
        assert model(f"after {n}").data == f"echo: after {n}"
        assert (await model.acall(f"async {n}")).data == f"echo: async {n}"
        streamed = await model.acall(f"stream {n}", stream=True)
        assert "".join([chunk async for chunk in streamed.consume()]) == f"echo: stream {n}"
    assert requests_to(loopback_server) == 13
    (warning,) = cache_warnings()
    assert "RedisCache" in warning and "get failed" in warning and "up?" in warning


def test_redis_is_used_again_once_it_is_back(
    make_model, start_redis, loopback_server, requests_to, cache_warnings
):
    server = start_redis()
    cache = ResponseCache(backend=RedisCache(server.url), retry_after=0.2)
    model = make_model(cache=cache)
    server.kill()
    model("q")  # Redis down: answered, not stored
    start_redis(server.port)
    time.sleep(0.5)  # past retry_after: the next call tries Redis again
    model("q")
    model("q")
    assert requests_to(loopback_server) == 2
    assert cache.cache_info()["hits"] == 1
    assert len(cache_warnings()) == 1


def test_a_corrupted_sqlite_file_is_bypassed(
    make_model, tmp_path, loopback_server, requests_to, cache_warnings
):
    path = tmp_path / "answers.sqlite3"
    store = SQLiteCache(path)
    store.set("k", b"v")
    store.close()
    with open(path, "r+b") as file:  # garbage over every byte
        file.write(os.urandom(path.stat().st_size))
    model = make_model(cache=path)
    for _ in range(3):
        assert model("q").data == "echo: q"
        assert model("q", stream=True).result() == "echo: q"
    assert requests_to(loopback_server) == 6
    (warning,) = cache_warnings()
    assert str(path) in warning and "delete it" in warning


def test_a_sqlite_file_corrupted_under_a_live_model(
    make_model, tmp_path, loopback_server, requests_to, cache_warnings
):
    path = tmp_path / "answers.sqlite3"
    model = make_model(cache=path)
    model("stored")
    model._response_cache.close()  # checkpointed into the file, which is then overwritten
    model("stored")  # reopened
    with open(path, "r+b") as file:
        file.write(os.urandom(path.stat().st_size))
    for n in range(3):
        assert model(f"new {n}").data == f"echo: new {n}"
    assert len(cache_warnings()) == 1


def test_a_corrupt_entry_is_a_miss_and_is_replaced(
    make_model, tmp_path, loopback_server, requests_to, cache_warnings
):
    model = make_model(cache=tmp_path / "c.sqlite3")
    model("q")
    backend = model._response_cache.backend
    (key,) = [row[0] for row in backend._db().execute("SELECT key FROM entries")]
    for garbage in (b"\xc1not msgpack", b"\x92\x05\xa1x"):  # garbage; a future format
        backend.set(key, garbage)
        assert model("q").data == "echo: q"  # a miss, answered and stored again
        assert model("q").data == "echo: q"  # a hit
    assert requests_to(loopback_server) == 3
    (warning,) = cache_warnings()
    assert "decode" in warning


class Broken:
    """A user backend whose every method raises."""

    def __init__(self) -> None:
        self.calls = 0

    def _fail(self, *args):
        self.calls += 1
        raise OSError("disk full")

    get = set = delete = clear = stats = _fail


async def test_a_backend_that_raises_is_logged_once_per_kind(
    make_model, loopback_server, requests_to, cache_warnings
):
    backend = Broken()
    cache = ResponseCache(backend=backend, retry_after=3600)
    model = make_model(cache=cache)
    for _ in range(3):
        assert model("q").data == "echo: q"
        assert (await model.acall("q")).data == "echo: q"
    assert backend.calls == 1  # then left alone for retry_after
    assert cache.cache_info() == {"hits": 0, "misses": 6, "maxsize": None, "currsize": 0}
    cache.cache_clear()
    assert len(cache_warnings()) == 1 and "OSError: disk full" in cache_warnings()[0]
    again = ResponseCache(backend=Broken(), retry_after=0)
    again.cache_clear()
    again.cache_info()
    again.cache_clear()
    assert len(cache_warnings()) == 3  # one per kind: clear, stats


def test_an_answer_the_codec_cannot_hold_is_not_stored(cache_warnings):
    from msgflux.models.response import ModelResponse

    computed = []

    def compute() -> ModelResponse:
        response = ModelResponse()
        response.data, response.response_type = "hi", "text_generation"
        response.metadata["handle"] = object()  # nothing msgspec can encode
        computed.append(response)
        return response

    cache = ResponseCache(8)
    assert cache.fetch("k", compute) is computed[0]
    assert cache.fetch("k", compute) is computed[1]  # not stored: computed again
    assert cache.cache_info()["currsize"] == 0
    (warning,) = cache_warnings()
    assert "encode" in warning and "cannot store" in warning
