"""Proxies from the environment, read as urllib reads them, spoken to by the fast path.

An ``https://`` target goes through a CONNECT tunnel (TLS end to end with the server); an
``http://`` target is sent to the proxy with an absolute request target. A small loopback
proxy (test glue) counts what passes through it.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from msgflux.errors import ProviderConnectionError, RequestTimeoutError
from msgflux.http import Client, Timeout, proxy_from_env
from msgflux.testing.server import Reply

from .proxyglue import LoopbackProxy

BODY = msgspec.json.encode({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def proxy() -> Iterator[LoopbackProxy]:
    with LoopbackProxy() as proxy:
        yield proxy


def content(body: bytes) -> str:
    return msgspec.json.decode(body)["choices"][0]["message"]["content"]


def test_the_environment_is_read_with_urllibs_rules(monkeypatch):
    assert proxy_from_env("https://api.openai.com/v1") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    assert proxy_from_env("https://api.openai.com/v1") == "http://proxy:3128"
    assert proxy_from_env("http://127.0.0.1:8000/v1") is None  # only http_proxy applies there
    monkeypatch.setenv("https_proxy", "http://lower:3128")  # lowercase wins, as in urllib
    assert proxy_from_env("https://api.openai.com/v1") == "http://lower:3128"
    monkeypatch.setenv("NO_PROXY", "localhost,.openai.com")
    assert proxy_from_env("https://api.openai.com/v1") is None
    assert proxy_from_env("https://api.groq.com/openai/v1") == "http://lower:3128"
    monkeypatch.setenv("no_proxy", "api.groq.com:443")  # host:port entries match the port
    assert proxy_from_env("https://api.groq.com/openai/v1") is None
    assert proxy_from_env("https://api.openai.com/v1") == "http://lower:3128"
    monkeypatch.setenv("no_proxy", "api.groq.com:8443")
    assert proxy_from_env("https://api.groq.com/openai/v1") == "http://lower:3128"
    monkeypatch.setenv("no_proxy", "*")
    assert proxy_from_env("https://api.groq.com/openai/v1") is None
    monkeypatch.delenv("no_proxy")
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.setenv("all_proxy", "socks5://corp:1080")
    assert proxy_from_env("http://example.com/v1") == "socks5://corp:1080"
    monkeypatch.setenv("https_proxy", "corp:3128")  # no scheme: an http:// proxy
    assert proxy_from_env("https://api.openai.com/v1") == "http://corp:3128"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_https_goes_through_a_connect_tunnel(
    monkeypatch, loopback_server, tmp_path, proxy, mode
):
    pytest.importorskip("cryptography", reason="the TLS tests build certificates with it")
    from .tlsfront import TLSFront, make_certificates

    certificates = make_certificates()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(certificates.ca)
    user_proxy = proxy.url.replace("http://", "http://user:p%40ss@")
    monkeypatch.setenv("HTTPS_PROXY", user_proxy)
    with TLSFront(loopback_server.port, certificates, tmp_path) as front:
        url = f"https://localhost:{front.port}/v1"
        loopback_server.enqueue(Reply.text("tunnelled"), Reply.text("again"))
        with Client(url, verify=str(ca_file), timeout=10) as client:
            assert client.proxy == proxy.url  # never the credentials
            for expected in ("tunnelled", "again"):
                if mode == "sync":
                    body = client.request("POST", "/chat/completions", BODY).body
                else:
                    body = (await client.arequest("POST", "/chat/completions", BODY)).body
                assert content(body) == expected
    assert proxy.tunnels == [f"localhost:{front.port}"]  # one tunnel, kept alive
    assert proxy.seen[0].headers["proxy-authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss
    assert proxy.relayed > 0
    # The origin never sees the proxy's credentials.
    assert "proxy-authorization" not in loopback_server.last_request.headers


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_plain_http_is_sent_in_absolute_form(monkeypatch, proxy, mode):
    monkeypatch.setenv("http_proxy", proxy.url)
    with Client("http://api.internal.test:8080/v1?api-version=2", timeout=10) as client:
        if mode == "sync":
            response = client.request("POST", "/chat/completions", BODY)
        else:
            response = await client.arequest("POST", "/chat/completions", BODY)
    assert msgspec.json.decode(response.body) == {"via": "proxy"}
    (seen,) = proxy.seen
    assert seen.target == "http://api.internal.test:8080/v1/chat/completions?api-version=2"
    assert seen.headers["host"] == "api.internal.test:8080"


async def test_no_proxy_with_a_port_bypasses_the_proxy(monkeypatch, loopback_server, proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", f"127.0.0.1:{loopback_server.port}")
    loopback_server.enqueue(Reply.text("direct"))
    with Client(loopback_server.base_url, timeout=10) as client:
        assert client.proxy is None
        assert content(client.request("POST", "/chat/completions", BODY).body) == "direct"
    assert proxy.seen == []


def test_trust_env_false_ignores_the_environment(monkeypatch, loopback_server, proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    loopback_server.enqueue(Reply.text("direct"))
    with Client(loopback_server.base_url, timeout=10, trust_env=False) as client:
        assert content(client.request("POST", "/chat/completions", BODY).body) == "direct"
    assert proxy.seen == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_refused_tunnel_is_a_connection_error(mode):
    with LoopbackProxy(refuse=407) as proxy:
        with Client("https://127.0.0.1:9/v1", proxy=proxy.url, timeout=10) as client:
            with pytest.raises(ProviderConnectionError, match="refused the tunnel: HTTP 407"):
                if mode == "sync":
                    client.request("POST", "/x", BODY)
                else:
                    await client.arequest("POST", "/x", BODY)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_connect_timeout_covers_the_tunnel(mode):
    with LoopbackProxy(silent=True) as proxy:
        timeout = Timeout(connect=0.3, read=60)
        with Client("https://127.0.0.1:9/v1", proxy=proxy.url, timeout=timeout) as client:
            with pytest.raises(RequestTimeoutError) as caught:
                if mode == "sync":
                    client.request("POST", "/x", BODY)
                else:
                    await client.arequest("POST", "/x", BODY)
    assert caught.value.phase == "connect"


@pytest.mark.parametrize("url", ["https://proxy:3128", "socks5://u:secret@proxy:1080"])
def test_other_proxy_schemes_are_refused_clearly(url):
    with pytest.raises(ValueError, match="http:// proxies only") as caught:
        Client("https://api.openai.com/v1", proxy=url)
    assert "secret" not in str(caught.value)


def test_the_model_falls_back_to_the_sdk_for_other_proxies(monkeypatch, caplog):
    pytest.importorskip("msgflux_openai")
    import logging

    import msgflux as mf

    monkeypatch.setenv("HTTPS_PROXY", "https://corp:3128")
    with caplog.at_level(logging.INFO, logger="msgflux.openai"):
        model = mf.Model.chat_completion("openai/m", api_key="k")
    assert "openai SDK" in caplog.text and "https://" in caplog.text
    assert type(model.client).__module__ == "msgflux_openai.sdk"
    model.close()
    monkeypatch.setenv("HTTPS_PROXY", "http://corp:3128")
    model = mf.Model.chat_completion("openai/m", api_key="k")
    assert type(model.client).__module__.startswith("msgflux_openai.transport")
    model.close()


def test_an_http_proxy_keeps_the_model_on_the_fast_path(monkeypatch, loopback_server, proxy):
    pytest.importorskip("msgflux_openai")
    import msgflux as mf

    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    model = mf.Model.chat_completion(
        "openai/m", base_url="http://llm.internal:80/v1", api_key="k", retry=False
    )
    try:
        model("hi")
    except mf.MsgfluxError:
        pass  # the proxy's canned answer is no chat completion: only the route matters here
    assert (
        len(proxy.seen) == 1 and proxy.seen[0].target == "http://llm.internal/v1/chat/completions"
    )
    assert proxy.seen[0].headers["authorization"] == "Bearer k"
    model.close()
