"""The request side: URLs, header names and values, and the headers msgflux owns."""

from __future__ import annotations

import pytest

from msgflux.http import Client

from .conftest import HOLD, ok

CONTROLS = [chr(c) for c in [*range(0, 9), *range(10, 32), 127, 0x85, 0x9F]]


@pytest.mark.parametrize("char", CONTROLS, ids=[f"0x{ord(c):02x}" for c in CONTROLS])
def test_no_control_character_in_a_header_value(char):
    client = Client("http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="control character"):
        client.request("POST", "/x", b"{}", headers={"X-A": f"1{char}2"})
    with pytest.raises(ValueError, match="control character"):
        Client("http://127.0.0.1:9/v1", headers={"X-A": f"1{char}2"})


@pytest.mark.parametrize("name", ["X A", "X:A", "X\r\nB", "", "X\x00", "Ä", "X(A)"])
def test_header_names_are_tokens(name):
    with pytest.raises(ValueError, match="header name"):
        Client("http://127.0.0.1:9/v1").build("POST", "/x", b"{}", headers={name: "v"})


@pytest.mark.parametrize("name", ["Transfer-Encoding", "content-length", "Host"])
def test_headers_msgflux_sets_cannot_be_set(name):
    with pytest.raises(ValueError, match="cannot be set"):
        Client("http://127.0.0.1:9/v1").build("POST", "/x", b"{}", headers={name: "1"})
    with pytest.raises(ValueError, match="cannot be set"):
        Client("http://127.0.0.1:9/v1", headers={name: "1"})


def test_a_tab_and_non_ascii_text_are_values():
    data = Client("http://127.0.0.1:9/v1").build("POST", "/x", b"{}", headers={"X-A": "a\tb é"})
    assert b"X-A: a\tb \xe9\r\n" in data


def test_credentials_in_the_url_are_refused_without_repeating_them():
    with pytest.raises(ValueError, match="credentials") as caught:
        Client("https://alice:sk-very-secret@api.example.com/v1")
    assert "sk-very-secret" not in str(caught.value) and "alice" not in str(caught.value)


def test_idn_hosts_are_encoded_with_idna():
    data = Client("https://bücher.example/v1").build("POST", "/x", b"{}")
    assert b"Host: xn--bcher-kva.example\r\n" in data
    assert (
        Client("http://[::1]:8000/v1/")
        .build("GET", "/m")
        .startswith(b"GET /v1/m HTTP/1.1\r\nHost: [::1]:8000\r\n")
    )


@pytest.mark.parametrize(
    "url", ["ftp://x/v1", "127.0.0.1:8000/v1", "http:///v1", "http://h:99999/"]
)
def test_invalid_base_urls(url):
    with pytest.raises(ValueError, match="base_url"):
        Client(url)


@pytest.mark.parametrize("path", ["x", "/a b", "/a\r\nb", "/a#frag"])
def test_paths_are_checked(path):
    with pytest.raises(ValueError, match="path"):
        Client("http://127.0.0.1:9/v1").build("POST", path, b"{}")


def test_the_query_of_the_base_url_is_kept_and_params_are_appended():
    client = Client("https://r.example/openai/v1?api-version=2024-10", trust_env=False)
    data = client.build("POST", "/chat/completions", b"{}", params={"a": "b c"})
    assert data.startswith(b"POST /openai/v1/chat/completions?api-version=2024-10&a=b+c HTTP/1.1")


async def test_what_the_server_receives(raw_server):
    raw_server.serve([ok(b"one"), HOLD])
    with Client(
        raw_server.base_url, headers={"X-Api-Key": "k1", "Accept": "application/json"}
    ) as client:
        client.request(
            "POST", "/messages", b'{"a": 1}', headers={"anthropic-version": "2023-06-01"}
        )
    (seen,) = raw_server.requests
    assert (seen.method, seen.target, seen.body) == ("POST", "/v1/messages", b'{"a": 1}')
    assert seen.headers["x-api-key"] == "k1"
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["content-length"] == "8"
    assert seen.headers["accept-encoding"] == "gzip, deflate"
    assert seen.headers["user-agent"].startswith("msgflux")


async def test_a_stream_asks_for_an_event_stream_unless_told_otherwise(raw_server):
    sse = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 0\r\n\r\n"
    raw_server.serve([sse], [sse])
    with Client(raw_server.base_url, headers={"Accept": "application/json"}) as client:
        list(client.stream("POST", "/x", b"{}"))
        list(client.stream("POST", "/x", b"{}", headers={"Accept": "text/plain"}))
    assert [r.headers["accept"] for r in raw_server.requests] == ["text/event-stream", "text/plain"]


def test_a_none_header_removes_a_default():
    client = Client("http://127.0.0.1:9/v1", headers={"Authorization": "Bearer k"})
    assert b"Authorization" in client.build("POST", "/x", b"{}")
    assert b"Authorization" not in client.build(
        "POST", "/x", b"{}", headers={"authorization": None}
    )


@pytest.mark.parametrize("method", ["HEAD", "CONNECT", "post", "GET /"])
def test_unsupported_methods(method):
    with pytest.raises(ValueError, match="method"):
        Client("http://127.0.0.1:9/v1").build(method, "/x")
