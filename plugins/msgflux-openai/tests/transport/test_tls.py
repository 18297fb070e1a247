"""HTTPS: a TLS front for the loopback server, with a CA and certificate made in the test."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from msgflux.errors import ProviderConnectionError
from msgflux.testing.server import Reply
from msgflux_openai.transport import create_clients

x509 = pytest.importorskip("cryptography.x509", reason="TLS tests build certificates with it")

MESSAGES = [{"role": "user", "content": "hi"}]


def _certificates() -> tuple[bytes, bytes, bytes]:
    """(CA certificate, server certificate, server key) in PEM, valid for 127.0.0.1/localhost."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msgflux test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


class TLSFront:
    """Terminates TLS on 127.0.0.1 and relays the bytes to a plain HTTP server."""

    def __init__(self, target_port: int, cert_pem: bytes, key_pem: bytes, tmp_path: Any) -> None:
        cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert_file, key_file)
        self.target_port = target_port
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()
        server = await asyncio.start_server(self._relay, "127.0.0.1", 0, ssl=self.context)
        self.port = server.sockets[0].getsockname()[1]
        # The same port on 127.0.0.2 (still loopback): an address the certificate does not name.
        other = await asyncio.start_server(self._relay, "127.0.0.2", self.port, ssl=self.context)
        self._ready.set()
        await self._stop
        server.close()
        other.close()
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()

    def __enter__(self) -> TLSFront:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)


@pytest.fixture(scope="module")
def certificates() -> tuple[bytes, bytes, bytes]:
    return _certificates()


@pytest.fixture
def tls(server: Any, certificates: Any, tmp_path: Any) -> Iterator[tuple[TLSFront, ssl.SSLContext]]:
    ca_pem, cert_pem, key_pem = certificates
    trust = ssl.create_default_context(cadata=ca_pem.decode())
    with TLSFront(server.port, cert_pem, key_pem, tmp_path) as front:
        yield front, trust


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_request_and_stream_over_tls(server, tls, host):
    front, trust = tls
    clients = create_clients(
        base_url=f"https://{host}:{front.port}/v1", api_key="k", ssl_context=trust, timeout=5
    )
    try:
        server.enqueue(Reply.text("secure"), Reply.text("secure async"))
        out = clients.client.chat.completions.create(model="m", messages=MESSAGES)
        assert out.choices[0].message.content == "secure"
        out = await clients.aclient.chat.completions.create(model="m", messages=MESSAGES)
        assert out.choices[0].message.content == "secure async"
        assert server.last_request.headers["host"] == f"{host}:{front.port}"

        server.enqueue(Reply.text("one two three"), Reply.text("four five six"))
        stream = clients.client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == "one two three"
        stream = await clients.aclient.chat.completions.create(
            model="m", messages=MESSAGES, stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "four five six"
    finally:
        clients.close()


def test_close_tls_stream_from_another_thread(server, tls):
    front, trust = tls
    clients = create_clients(
        base_url=f"https://127.0.0.1:{front.port}/v1", api_key="k", ssl_context=trust, timeout=10
    )
    try:
        server.enqueue(Reply.text("a b c", stall_after=1))
        stream = clients.client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        first = threading.Event()
        outcome: list = []

        def reader() -> None:
            try:
                for _ in stream:
                    first.set()
                outcome.append("stopped")
            except BaseException as exc:  # pragma: no cover - reported below
                outcome.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        assert first.wait(5)
        stream.close()
        thread.join(5)
        assert not thread.is_alive()
        assert outcome == ["stopped"]
    finally:
        clients.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_untrusted_certificate_is_refused(server, tls, mode):
    front, _ = tls
    clients = create_clients(base_url=f"https://127.0.0.1:{front.port}/v1", api_key="k", timeout=5)
    try:
        with pytest.raises(ProviderConnectionError, match="certificate"):
            if mode == "sync":
                clients.client.chat.completions.create(model="m", messages=MESSAGES)
            else:
                await clients.aclient.chat.completions.create(model="m", messages=MESSAGES)
        assert server.requests == []
    finally:
        clients.close()


def test_hostname_mismatch_is_refused(server, tls):
    front, trust = tls
    clients = create_clients(
        base_url=f"https://127.0.0.2:{front.port}/v1", api_key="k", ssl_context=trust, timeout=5
    )
    try:
        with pytest.raises(ProviderConnectionError, match="certificate"):
            clients.client.chat.completions.create(model="m", messages=MESSAGES)
        assert server.requests == []
    finally:
        clients.close()
