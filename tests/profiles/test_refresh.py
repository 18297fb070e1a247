"""Refreshing from a loopback stand-in for https://models.dev/api.json, and offline behaviour."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from msgflux.models.profiles import (
    cache_dir,
    get_model_profile,
    profiles_source,
    refresh_profiles,
    refresh_profiles_in_background,
    reload_profiles,
    wait_for_background_refresh,
)

LOGGER = "msgflux.profiles"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


def _cache_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("*")) if cache.exists() else []


def _assert_snapshot_answers() -> None:
    profile = get_model_profile("gpt-4.1-mini", provider_id="openai")
    assert profile is not None
    assert profile.cost.input_per_million == 0.40
    groq = get_model_profile("openai/gpt-oss-120b", provider_id="groq")
    assert groq is not None
    assert groq.cost.input_per_million == 0.15


def test_refresh_downloads_converts_caches_and_switches_lookups(
    catalogue_server, isolated_profiles: Path
) -> None:
    assert get_model_profile("tiny-1", provider_id="loopback") is None

    assert refresh_profiles(url=catalogue_server.url, timeout=5) is True

    assert catalogue_server.hits == 1
    tiny = get_model_profile("tiny-1", provider_id="loopback")
    assert tiny is not None
    assert (tiny.name, tiny.family, tiny.capabilities.reasoning) == ("Tiny One", "tiny", True)
    assert (tiny.limits.context, tiny.limits.output) == (8192, 1024)
    assert tiny.cost.calculate(1000, 1000, cached_tokens=500) == pytest.approx(
        (500 * 1.0 + 500 * 0.5 + 1000 * 2.0) / 1e6
    )
    groq = get_model_profile("openai/gpt-oss-120b", provider_id="groq")
    assert groq is not None and groq.cost.input_per_million == 0.2  # the live price
    source = profiles_source()
    assert source.kind == "cache"
    assert source.url == catalogue_server.url
    assert source.data_date == "2026-07-20"
    assert Path(source.path).parent == Path(cache_dir()) == isolated_profiles
    assert Path(source.path).is_file()
    # api.json has no provider-agnostic models; self-hosted lookups keep the snapshot's.
    vllm = get_model_profile("Qwen/Qwen3-32B", provider_id="vllm")
    assert vllm is not None and vllm.derived_from == "models/alibaba/qwen3-32b"
    # hosted open-weights listings are re-indexed from the live data
    served = get_model_profile("Acme/Tiny-Open-7B-AWQ", provider_id="vllm")
    assert served is not None
    assert served.derived_from == "providers/loopback/acme/tiny-open-7b"
    assert served.name == "Tiny Open 7B" and served.cost.input_per_million is None


def test_a_fresh_cache_is_used_without_a_request(catalogue_server) -> None:
    assert refresh_profiles(url=catalogue_server.url) is True
    assert refresh_profiles(url=catalogue_server.url, ttl=3600) is False
    assert catalogue_server.hits == 1

    assert refresh_profiles(url=catalogue_server.url, ttl=0) is True  # expired at once
    assert catalogue_server.hits == 2
    assert refresh_profiles(url=catalogue_server.url, ttl=3600, force=True) is True
    assert catalogue_server.hits == 3


def test_ttl_from_the_environment(catalogue_server, monkeypatch: pytest.MonkeyPatch) -> None:
    refresh_profiles(url=catalogue_server.url)
    monkeypatch.setenv("MSGFLUX_PROFILES_TTL", "0")

    assert refresh_profiles(url=catalogue_server.url) is True
    assert catalogue_server.hits == 2


def test_another_url_is_not_answered_by_the_cache(catalogue_server) -> None:
    refresh_profiles(url=catalogue_server.url)

    assert refresh_profiles(url=catalogue_server.url + "?mirror=2", ttl=3600) is True
    assert catalogue_server.hits == 2


def test_url_from_the_environment(catalogue_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSGFLUX_PROFILES_URL", catalogue_server.url)

    assert refresh_profiles() is True
    assert catalogue_server.hits == 1
    assert profiles_source().url == catalogue_server.url


def test_a_new_process_reads_the_cache_file(catalogue_server) -> None:
    refresh_profiles(url=catalogue_server.url)
    reload_profiles()  # what a new process sees

    assert get_model_profile("tiny-1", provider_id="loopback") is not None
    assert profiles_source().kind == "cache"
    assert catalogue_server.hits == 1


def test_a_cache_older_than_the_snapshot_is_not_used_at_start(
    catalogue_server, make_api_json
) -> None:
    catalogue_server.serve(make_api_json(last_updated="2001-01-01"))
    assert refresh_profiles(url=catalogue_server.url) is True
    assert get_model_profile("tiny-1", provider_id="loopback") is not None  # asked for: used

    reload_profiles()

    assert profiles_source().kind == "snapshot"
    assert get_model_profile("tiny-1", provider_id="loopback") is None
    _assert_snapshot_answers()


def test_gzip_encoded_response(catalogue_server) -> None:
    catalogue_server.gzip = True

    assert refresh_profiles(url=catalogue_server.url) is True
    assert get_model_profile("tiny-1", provider_id="loopback") is not None


def test_file_url(tmp_path: Path, make_api_json) -> None:
    import json

    document = tmp_path / "api.json"
    document.write_text(json.dumps(make_api_json()))

    assert refresh_profiles(url=document.as_uri()) is True
    assert get_model_profile("tiny-1", provider_id="loopback") is not None


def test_offline_one_warning_and_snapshot_answers(
    unreachable_url: str, caplog: pytest.LogCaptureFixture, isolated_profiles: Path
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    assert refresh_profiles(url=unreachable_url, timeout=5) is False
    for _ in range(20):
        _assert_snapshot_answers()

    warnings = _warnings(caplog)
    assert len(warnings) == 1
    assert unreachable_url in warnings[0].getMessage()
    assert "packaged snapshot" in warnings[0].getMessage()
    assert profiles_source().kind == "snapshot"
    assert _cache_files(isolated_profiles) == []


def test_offline_keeps_the_cached_catalogue(
    catalogue_server, unreachable_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    refresh_profiles(url=catalogue_server.url)
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    assert refresh_profiles(url=unreachable_url, timeout=5) is False

    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "cached catalogue" in warnings[0].getMessage()
    assert get_model_profile("tiny-1", provider_id="loopback") is not None


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"error": "down"}'),
        (200, b"<html>not json</html>"),
        (200, b'["not", "providers"]'),
        (200, b'{"openai": {"models": {}}}'),
    ],
)
def test_bad_responses_leave_the_data_alone(
    catalogue_server, caplog: pytest.LogCaptureFixture, status: int, body: bytes
) -> None:
    catalogue_server.status = status
    catalogue_server.body = body
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    assert refresh_profiles(url=catalogue_server.url) is False

    assert len(_warnings(caplog)) == 1
    assert profiles_source().kind == "snapshot"
    _assert_snapshot_answers()


def test_a_corrupt_cache_file_is_ignored(isolated_profiles: Path) -> None:
    isolated_profiles.mkdir(parents=True)
    (isolated_profiles / "model-profiles-v1.json.gz").write_bytes(b"\x1f\x8bnot really gzip")

    _assert_snapshot_answers()
    assert profiles_source().kind == "snapshot"


def test_background_refresh_never_blocks_lookups(catalogue_server) -> None:
    catalogue_server.release.clear()  # the server holds the request until released

    thread = refresh_profiles_in_background(url=catalogue_server.url, timeout=30)
    _assert_snapshot_answers()  # answered while the download is stuck
    assert refresh_profiles_in_background(url=catalogue_server.url) is thread  # only one

    catalogue_server.release.set()
    assert wait_for_background_refresh(timeout=30) is True
    assert get_model_profile("tiny-1", provider_id="loopback") is not None


def test_auto_refresh_starts_once_at_the_first_lookup(
    catalogue_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSGFLUX_PROFILES_AUTO_REFRESH", "1")
    monkeypatch.setenv("MSGFLUX_PROFILES_URL", catalogue_server.url)
    catalogue_server.release.clear()

    _assert_snapshot_answers()  # the first lookup does not wait for the download
    assert profiles_source().kind == "snapshot"

    catalogue_server.release.set()
    assert wait_for_background_refresh(timeout=30) is True
    assert catalogue_server.hits == 1
    assert get_model_profile("tiny-1", provider_id="loopback") is not None


def test_auto_refresh_offline_logs_one_line_not_one_per_lookup(
    unreachable_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MSGFLUX_PROFILES_AUTO_REFRESH", "yes")
    monkeypatch.setenv("MSGFLUX_PROFILES_URL", unreachable_url)
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    for _ in range(20):
        _assert_snapshot_answers()
    assert wait_for_background_refresh(timeout=30) is True
    for _ in range(20):
        _assert_snapshot_answers()

    assert len(_warnings(caplog)) == 1


def test_nothing_is_fetched_or_written_without_a_refresh(
    catalogue_server, monkeypatch: pytest.MonkeyPatch, isolated_profiles: Path
) -> None:
    monkeypatch.setenv("MSGFLUX_PROFILES_URL", catalogue_server.url)

    _assert_snapshot_answers()

    assert catalogue_server.hits == 0
    assert _cache_files(isolated_profiles) == []


def test_cache_dir_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MSGFLUX_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == os.path.join(str(tmp_path / "xdg"), "msgflux")

    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if os.name == "posix" and os.uname().sysname != "Darwin":
        assert cache_dir() == os.path.join(str(tmp_path / "home"), ".cache", "msgflux")
