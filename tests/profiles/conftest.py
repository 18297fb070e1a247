"""Fixtures for the model-profile tests: an isolated cache dir and a loopback catalogue."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from msgflux.models.profiles import reload_profiles, wait_for_background_refresh

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DEV = REPO_ROOT.parent / "shared" / "data" / "models-dev"


@pytest.fixture(autouse=True)
def isolated_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test starts from the packaged snapshot with an empty cache dir of its own."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MSGFLUX_CACHE_DIR", str(cache))
    for name in ("MSGFLUX_PROFILES_URL", "MSGFLUX_PROFILES_TTL", "MSGFLUX_PROFILES_AUTO_REFRESH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    reload_profiles()
    yield cache
    assert wait_for_background_refresh(timeout=30), "a background refresh outlived its test"
    reload_profiles()


def api_model(**overrides: Any) -> dict[str, Any]:
    """One model in the models.dev api.json shape."""
    model = {
        "id": "tiny-1",
        "name": "Tiny One",
        "family": "tiny",
        "attachment": False,
        "reasoning": True,
        "tool_call": True,
        "structured_output": False,
        "temperature": True,
        "release_date": "2026-07-01",
        "last_updated": "2026-07-20",
        "modalities": {"input": ["text"], "output": ["text"]},
        "open_weights": False,
        "cost": {"input": 1.0, "output": 2.0, "cache_read": 0.5},
        "limit": {"context": 8192, "output": 1024},
    }
    model.update(overrides)
    return model


def api_json(last_updated: str = "2026-07-20") -> dict[str, Any]:
    """A small api.json: a new provider (one closed, one open-weights model), and Groq's
    gpt-oss-120b at a new price."""
    return {
        "loopback": {
            "id": "loopback",
            "name": "Loopback",
            "env": ["LOOPBACK_API_KEY"],
            "npm": "@ai-sdk/openai-compatible",
            "doc": "http://127.0.0.1/",
            "models": {
                "tiny-1": api_model(last_updated=last_updated),
                "acme/tiny-open-7b": api_model(
                    id="acme/tiny-open-7b",
                    name="Tiny Open 7B",
                    open_weights=True,
                    last_updated=last_updated,
                ),
            },
        },
        "groq": {
            "id": "groq",
            "name": "Groq",
            "env": ["GROQ_API_KEY"],
            "npm": "@ai-sdk/groq",
            "doc": "https://console.groq.com/docs/models",
            "models": {
                "openai/gpt-oss-120b": api_model(
                    id="openai/gpt-oss-120b",
                    name="GPT OSS 120B",
                    family="gpt-oss",
                    open_weights=True,
                    last_updated=last_updated,
                    cost={"input": 0.2, "output": 0.8},
                    limit={"context": 131072, "output": 65536},
                )
            },
        },
    }


class CatalogueServer:
    """A loopback HTTP server standing in for https://models.dev/api.json.

    Attributes:
        body: Bytes served at ``/api.json``.
        status: HTTP status to answer with.
        gzip: Send the body gzip-encoded.
        hits: Number of requests served.
        release: While cleared, requests wait (to prove lookups never wait for a refresh).
    """

    def __init__(self) -> None:
        self.body = json.dumps(api_json()).encode()
        self.status = 200
        self.gzip = False
        self.hits = 0
        self.release = threading.Event()
        self.release.set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                server.release.wait(30)
                body = gzip.compress(server.body) if server.gzip else server.body
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                if server.gzip:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/api.json"

    def serve(self, document: Any) -> None:
        self.body = json.dumps(document).encode()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@pytest.fixture
def catalogue_server() -> Iterator[CatalogueServer]:
    server = CatalogueServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def unreachable_url() -> str:
    """A loopback URL nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api.json"


@pytest.fixture
def models_dev() -> Path:
    if not (MODELS_DEV / "providers").is_dir():
        pytest.skip(f"models.dev data not found at {MODELS_DEV}")
    return MODELS_DEV


@pytest.fixture
def make_api_json():
    """``make_api_json(last_updated=...)`` -> a small api.json document (a dict)."""
    return api_json


@pytest.fixture
def make_api_model():
    """``make_api_model(**overrides)`` -> one model in the api.json shape."""
    return api_model
