"""HTTPS with a CA and certificates made in the test: verify=, ssl_context=, client certs."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

pytest.importorskip("cryptography", reason="the TLS tests build certificates with it")

from msgflux.errors import ProviderConnectionError
from msgflux.http import Client
from msgflux.testing.server import Reply

from .tlsfront import Certificates, TLSFront, make_certificates

BODY = msgspec.json.encode({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
STREAM_BODY = msgspec.json.encode(
    {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
)


def content(body: bytes) -> str:
    return msgspec.json.decode(body)["choices"][0]["message"]["content"]


def streamed(events: Any) -> str:
    text = ""
    for event in events:
        if event.data != b"[DONE]":
            for choice in msgspec.json.decode(event.data)["choices"]:
                text += choice["delta"].get("content") or ""
    return text


@pytest.fixture(scope="module")
def certificates() -> Certificates:
    return make_certificates()


@pytest.fixture
def ca_file(certificates: Certificates, tmp_path: Any) -> str:
    path = tmp_path / "ca.pem"
    path.write_bytes(certificates.ca)
    return str(path)


@pytest.fixture
def front(loopback_server: Any, certificates: Certificates, tmp_path: Any) -> Iterator[TLSFront]:
    with TLSFront(loopback_server.port, certificates, tmp_path) as front:
        yield front


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_requests_and_streams_over_tls_with_a_ca_bundle(
    loopback_server, front, ca_file, host
):
    with Client(f"https://{host}:{front.port}/v1", verify=ca_file, timeout=10) as client:
        loopback_server.enqueue(Reply.text("secure"), Reply.text("secure async"))
        assert content(client.request("POST", "/chat/completions", BODY).body) == "secure"
        response = await client.arequest("POST", "/chat/completions", BODY)
        assert content(response.body) == "secure async"
        assert loopback_server.last_request.headers["host"] == f"{host}:{front.port}"

        loopback_server.enqueue(Reply.text("one two three"), Reply.text("four five six"))
        with client.stream("POST", "/chat/completions", STREAM_BODY) as events:
            assert streamed(events) == "one two three"
        stream = await client.astream("POST", "/chat/completions", STREAM_BODY)
        assert streamed([event async for event in stream]) == "four five six"
        await stream.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_untrusted_certificate_is_refused_with_advice(loopback_server, front, mode):
    with Client(f"https://127.0.0.1:{front.port}/v1", timeout=10) as client:
        with pytest.raises(ProviderConnectionError, match="certificate verification") as caught:
            if mode == "sync":
                client.request("POST", "/chat/completions", BODY)
            else:
                await client.arequest("POST", "/chat/completions", BODY)
    assert "verify=" in str(caught.value)
    assert isinstance(caught.value.__cause__, ssl.SSLError)
    assert loopback_server.requests == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_verify_false_skips_the_check(loopback_server, front, mode):
    loopback_server.enqueue(Reply.text("unchecked"))
    with Client(f"https://127.0.0.1:{front.port}/v1", verify=False, timeout=10) as client:
        if mode == "sync":
            body = client.request("POST", "/chat/completions", BODY).body
        else:
            body = (await client.arequest("POST", "/chat/completions", BODY)).body
    assert content(body) == "unchecked"


def test_a_hostname_mismatch_is_refused(loopback_server, front, ca_file):
    with Client(f"https://127.0.0.2:{front.port}/v1", verify=ca_file, timeout=10) as client:
        with pytest.raises(ProviderConnectionError, match="certificate"):
            client.request("POST", "/chat/completions", BODY)
    assert loopback_server.requests == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_client_certificates_through_ssl_context(
    loopback_server, certificates, tmp_path, mode
):
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(certificates.client_cert)
    key.write_bytes(certificates.client_key)
    with_cert = ssl.create_default_context(cadata=certificates.ca.decode())
    with_cert.load_cert_chain(cert, key)
    without = ssl.create_default_context(cadata=certificates.ca.decode())
    with TLSFront(loopback_server.port, certificates, tmp_path, require_client_cert=True) as front:
        url = f"https://127.0.0.1:{front.port}/v1"
        loopback_server.enqueue(Reply.text("mutual"))
        with Client(url, ssl_context=with_cert, timeout=10) as client:
            if mode == "sync":
                body = client.request("POST", "/chat/completions", BODY).body
            else:
                body = (await client.arequest("POST", "/chat/completions", BODY)).body
        assert content(body) == "mutual"
        with Client(url, ssl_context=without, timeout=10) as client:
            # TLS 1.3 reports a missing client certificate at the first read, not the
            # handshake: either way the caller gets a ProviderConnectionError.
            with pytest.raises(ProviderConnectionError):
                if mode == "sync":
                    client.request("POST", "/chat/completions", BODY)
                else:
                    await client.arequest("POST", "/chat/completions", BODY)


def test_verify_names_a_missing_bundle():
    with pytest.raises(ValueError, match="does not exist"):
        Client("https://127.0.0.1:9/v1", verify="/nonexistent/ca.pem")


def test_closing_a_tls_stream_from_another_thread(loopback_server, front, ca_file):
    with Client(f"https://127.0.0.1:{front.port}/v1", verify=ca_file, timeout=10) as client:
        loopback_server.enqueue(Reply.text("a b c", stall_after=1))
        stream = client.stream("POST", "/chat/completions", STREAM_BODY)
        first = threading.Event()
        outcome: list[Any] = []

        def reader() -> None:
            try:
                for _ in stream:
                    first.set()
                outcome.append("stopped")
            except BaseException as exc:  # pragma: no cover - reported below
                outcome.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        assert first.wait(10)
        stream.close()
        thread.join(10)
        assert not thread.is_alive()
        assert outcome == ["stopped"]


def test_a_model_takes_verify_and_ssl_context(loopback_server, front, ca_file):
    pytest.importorskip("msgflux_openai")
    import msgflux as mf

    loopback_server.enqueue(Reply.text("via the model"), Reply.text("via the context"))
    base = f"https://127.0.0.1:{front.port}/v1"
    model = mf.Model.chat_completion("openai/m", base_url=base, api_key="k", verify=ca_file)
    assert model("hi").data == "via the model"
    model.close()
    context = ssl.create_default_context(cafile=ca_file)
    model = mf.Model.chat_completion("openai/m", base_url=base, api_key="k", ssl_context=context)
    assert model("hi").data == "via the context"
    assert "ssl_context" not in model.serialize()["state"]
    model.close()
