"""The clients the benchmark compares, each behind the same small interface.

A contender builds its clients in ``open()`` and exposes:

- ``request()``: one blocking chat completion;
- ``arequest()``: one chat completion awaited on the running loop;
- ``stream(n)`` / ``astream(n)``: consume a stream of ``n`` content chunks, returning the
  number of pieces seen (checked, so that a contender cannot skip work);
- ``close()``.

Every contender decodes what it receives into objects the caller can read by attribute (the
SDK's pydantic models, msgflux's msgspec structs or its responses); the HTTP-library peers
decode with the same msgspec structs as msgflux's transport, so they measure the HTTP layer.
"""

from __future__ import annotations

import asyncio
from typing import Any

# Users import msgflux first. Importing a plugin module (msgflux_openai.transport) before
# msgflux currently makes plugin discovery see the half-imported plugin, so the benchmark
# does it the user's way.
import msgflux  # noqa: F401

MESSAGES = [{"role": "user", "content": "Say something short."}]
MODEL = "bench-model"


def _chunks_header(n: int) -> dict[str, str]:
    return {"x-bench-chunks": str(n)}


class Contender:
    name = "?"
    group = "main"  # "main" (the comparison) or "http" (HTTP library candidates)

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def open(self) -> None: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...

    def request(self) -> Any:
        raise NotImplementedError

    async def arequest(self) -> Any:
        raise NotImplementedError

    def stream(self, n: int) -> int:
        raise NotImplementedError

    async def astream(self, n: int) -> int:
        raise NotImplementedError


# -- the raw openai SDK (the yardstick) ------------------------------------------------------


class OpenAISDK(Contender):
    name = "openai SDK"

    def open(self) -> None:
        import openai

        self.client = openai.OpenAI(base_url=self.base_url, api_key="k", max_retries=0)
        self.aclient = openai.AsyncOpenAI(base_url=self.base_url, api_key="k", max_retries=0)

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        await self.aclient.close()

    def request(self) -> Any:
        out = self.client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert out.choices[0].message.content
        return out

    async def arequest(self) -> Any:
        out = await self.aclient.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert out.choices[0].message.content
        return out

    def stream(self, n: int) -> int:
        count = 0
        stream = self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, extra_headers=_chunks_header(n)
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
        return count

    async def astream(self, n: int) -> int:
        count = 0
        stream = await self.aclient.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, extra_headers=_chunks_header(n)
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
        return count


# -- msgflux's transport, called directly ----------------------------------------------------


class FastTransport(OpenAISDK):
    name = "msgflux transport"

    def open(self) -> None:
        from msgflux_openai.transport import create_clients

        self.clients = create_clients(base_url=self.base_url, api_key="k")
        self.client = self.clients.client
        self.aclient = self.clients.aclient

    def close(self) -> None:
        self.clients.close()

    async def aclose(self) -> None:
        await self.aclient.aclose()


# -- msgflux models (the full pipeline) ------------------------------------------------------


class MsgfluxModel(Contender):
    transport = "fast"

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"msgflux Model ({self.transport})"

    def open(self) -> None:
        import msgflux as mf

        self.model = mf.Model.chat_completion(
            "openai/" + MODEL, base_url=self.base_url, api_key="k", transport=self.transport
        )

    def close(self) -> None:
        self.model.close()

    def request(self) -> Any:
        out = self.model(MESSAGES)
        assert out.consume()
        return out

    async def arequest(self) -> Any:
        out = await self.model.acall(MESSAGES)
        assert out.consume()
        return out

    def stream(self, n: int) -> int:
        response = self.model(MESSAGES, stream=True, extra_headers=_chunks_header(n))
        count = 0
        for piece in response:
            if piece:
                count += 1
        return count

    async def astream(self, n: int) -> int:
        response = await self.model.acall(MESSAGES, stream=True, extra_headers=_chunks_header(n))
        count = 0
        async for piece in response.consume():
            if piece:
                count += 1
        return count


class MsgfluxModelSDK(MsgfluxModel):
    transport = "sdk"


class MsgfluxGateway(MsgfluxModel):
    """A ``ModelGateway`` over two replicas (fast transport): the routing's own cost."""

    @property
    def name(self) -> str:  # type: ignore[override]
        return "msgflux ModelGateway (2 replicas)"

    def open(self) -> None:
        import msgflux as mf

        replicas = [
            mf.Model.chat_completion("openai/" + MODEL, base_url=self.base_url, api_key="k")
            for _ in range(2)
        ]
        self.model = mf.ModelGateway(
            [
                {"name": f"replica-{i}", "group": "bench", "model": model}
                for i, model in enumerate(replicas)
            ],
            strategy="least_busy",
        )


# -- HTTP libraries, with msgflux's decoding (to choose the transport's HTTP layer) ----------


def _body(stream: bool = False) -> bytes:
    import msgspec

    payload: dict[str, Any] = {"model": MODEL, "messages": MESSAGES}
    if stream:
        payload["stream"] = True
    return msgspec.json.encode(payload)


_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Authorization": "Bearer k",
}


def _decode(body: bytes) -> Any:
    from msgflux_openai.transport.structs import completion_decoder

    out = completion_decoder.decode(body)
    assert out.choices[0].message.content
    return out


class _BytesToChunks:
    """Body bytes in, chat chunks out: msgflux's SSE reader and OpenAI stream decoding."""

    def __init__(self) -> None:
        from msgflux.http import SSEReader
        from msgflux_openai.transport._base import StreamDecoder

        self._sse = SSEReader()
        self._decoder = StreamDecoder("bench", {})

    def feed(self, data: bytes) -> list[Any]:
        return self._decoder.feed(self._sse.feed(data))


def _stream_decoder() -> Any:
    return _BytesToChunks()


def _count(chunks: list[Any]) -> int:
    return sum(1 for c in chunks if c.choices and c.choices[0].delta.content)


class HttpxPeer(Contender):
    name = "httpx"
    group = "http"

    def open(self) -> None:
        import httpx

        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
        self.client = httpx.Client(limits=limits)
        self.aclient = httpx.AsyncClient(limits=limits)
        self.url = self.base_url + "/chat/completions"
        self.body = _body()
        self.stream_body = _body(True)

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        await self.aclient.aclose()

    def request(self) -> Any:
        r = self.client.post(self.url, content=self.body, headers=_HEADERS)
        return _decode(r.content)

    async def arequest(self) -> Any:
        r = await self.aclient.post(self.url, content=self.body, headers=_HEADERS)
        return _decode(r.content)

    def stream(self, n: int) -> int:
        decoder = _stream_decoder()
        count = 0
        headers = {**_HEADERS, **_chunks_header(n)}
        with self.client.stream("POST", self.url, content=self.stream_body, headers=headers) as r:
            for data in r.iter_raw():
                count += _count(decoder.feed(data))
        return count

    async def astream(self, n: int) -> int:
        decoder = _stream_decoder()
        count = 0
        headers = {**_HEADERS, **_chunks_header(n)}
        async with self.aclient.stream(
            "POST", self.url, content=self.stream_body, headers=headers
        ) as r:
            async for data in r.aiter_raw():
                count += _count(decoder.feed(data))
        return count


class AiohttpPeer(Contender):
    name = "aiohttp"
    group = "http"

    def open(self) -> None:
        self.session: Any = None
        self.url = self.base_url + "/chat/completions"
        self.body = _body()
        self.stream_body = _body(True)

    async def _session(self) -> Any:
        if self.session is None:
            import aiohttp

            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000))
        return self.session

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def arequest(self) -> Any:
        session = await self._session()
        async with session.post(self.url, data=self.body, headers=_HEADERS) as r:
            return _decode(await r.read())

    async def astream(self, n: int) -> int:
        session = await self._session()
        decoder = _stream_decoder()
        count = 0
        headers = {**_HEADERS, **_chunks_header(n)}
        async with session.post(self.url, data=self.stream_body, headers=headers) as r:
            async for data in r.content.iter_any():
                count += _count(decoder.feed(data))
        return count


class Urllib3Peer(Contender):
    name = "urllib3"
    group = "http"

    def open(self) -> None:
        import urllib3

        self.pool = urllib3.PoolManager(maxsize=16)
        self.url = self.base_url + "/chat/completions"
        self.body = _body()
        self.stream_body = _body(True)

    def close(self) -> None:
        self.pool.clear()

    def request(self) -> Any:
        r = self.pool.request("POST", self.url, body=self.body, headers=_HEADERS, retries=False)
        return _decode(r.data)

    def stream(self, n: int) -> int:
        decoder = _stream_decoder()
        count = 0
        headers = {**_HEADERS, **_chunks_header(n)}
        r = self.pool.request(
            "POST",
            self.url,
            body=self.stream_body,
            headers=headers,
            preload_content=False,
            retries=False,
        )
        for data in r.stream(65536, decode_content=False):
            count += _count(decoder.feed(data))
        r.release_conn()
        return count


class HttpClientPeer(Contender):
    name = "http.client"
    group = "http"

    def open(self) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(self.base_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port)
        self.path = parts.path + "/chat/completions"
        self.body = _body()
        self.stream_body = _body(True)

    def close(self) -> None:
        self.conn.close()

    def request(self) -> Any:
        self.conn.request("POST", self.path, body=self.body, headers=_HEADERS)
        return _decode(self.conn.getresponse().read())

    def stream(self, n: int) -> int:
        decoder = _stream_decoder()
        count = 0
        self.conn.request(
            "POST", self.path, body=self.stream_body, headers={**_HEADERS, **_chunks_header(n)}
        )
        r = self.conn.getresponse()
        while data := r.read1(65536):
            count += _count(decoder.feed(data))
        return count


class MsgfluxHTTPPeer(Contender):
    """msgflux.http (llhttp framing, msgflux's own pools), with the same decoding as the rest."""

    name = "msgflux.http (llhttp)"
    group = "http"

    def open(self) -> None:
        from msgflux.http import Client

        self.client = Client(self.base_url, headers=_HEADERS, max_connections=1000)
        self.body = _body()
        self.stream_body = _body(True)

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        await self.client.aclose()

    def request(self) -> Any:
        return _decode(self.client.request("POST", "/chat/completions", self.body).body)

    async def arequest(self) -> Any:
        response = await self.client.arequest("POST", "/chat/completions", self.body)
        return _decode(response.body)

    def stream(self, n: int) -> int:
        from msgflux_openai.transport._base import StreamDecoder

        decoder = StreamDecoder("bench", {})
        count = 0
        with self.client.stream(
            "POST", "/chat/completions", self.stream_body, headers=_chunks_header(n)
        ) as events:
            for batch in events.batches():
                count += _count(decoder.feed(batch))
        return count

    async def astream(self, n: int) -> int:
        from msgflux_openai.transport._base import StreamDecoder

        decoder = StreamDecoder("bench", {})
        count = 0
        events = await self.client.astream(
            "POST", "/chat/completions", self.stream_body, headers=_chunks_header(n)
        )
        try:
            async for batch in events.batches():
                count += _count(decoder.feed(batch))
        finally:
            await events.aclose()
        return count


MAIN = [OpenAISDK, FastTransport, MsgfluxModel, MsgfluxModelSDK, MsgfluxGateway]
HTTP = [HttpxPeer, AiohttpPeer, Urllib3Peer, HttpClientPeer, MsgfluxHTTPPeer]


def supports(contender: Contender, method: str) -> bool:
    """Whether a contender implements a workload (peers are sync- or async-only)."""
    return getattr(type(contender), method) is not getattr(Contender, method)


async def gather_requests(contender: Contender, concurrency: int) -> list[Any]:
    return await asyncio.gather(*(contender.arequest() for _ in range(concurrency)))
