"""The SSE reader (public: msgflux.http.SSEReader), fed byte streams in every possible split."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from msgflux.errors import ResponseDecodeError
from msgflux.http import ServerSentEvent, SSEReader


def _feed_in_pieces(parser: SSEReader, data: bytes, cuts: list[int]) -> list[ServerSentEvent]:
    out: list[ServerSentEvent] = []
    start = 0
    for cut in sorted(set(cuts)):
        out += parser.feed(data[start:cut])
        start = cut
    out += parser.feed(data[start:])
    return out


STREAM = (
    b"\xef\xbb\xbf: keep-alive comment\r\n\r\n"
    b'data: {"a":1}\r\n\r\n'
    b'event: message\nid: 7\nretry: 100\ndata: {"b":\ndata: 2}\n\n'
    b"data:no-space\r\r"
    b"event: ping\ndata: ignored\n\n"
    b"\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ServerSentEvent("message", b'{"a":1}'),
    ServerSentEvent("message", b'{"b":\n2}'),
    ServerSentEvent("message", b"no-space"),
    ServerSentEvent("ping", b"ignored"),  # named events reach the wire format, which decides
    ServerSentEvent("message", b"[DONE]"),
]


def test_fields_comments_multiline_and_line_ends():
    assert SSEReader().feed(STREAM) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_gives_the_same_events(cuts):
    assert _feed_in_pieces(SSEReader(), STREAM, cuts) == EXPECTED


def test_every_single_byte_split():
    parser = SSEReader()
    out = []
    for i in range(len(STREAM)):
        out += parser.feed(STREAM[i : i + 1])
    assert out == EXPECTED


def test_malformed_line_stops_after_the_valid_events():
    parser = SSEReader()
    out = parser.feed(b'data: {"ok":1}\n\n{"raw":"json"}\n\ndata: {"late":1}\n\n')
    assert out == [("message", b'{"ok":1}')]
    assert isinstance(parser.failure, ResponseDecodeError)
    assert parser.failure.raw_text == '{"raw":"json"}'
    assert parser.feed(b'data: {"more":1}\n\n') == []


def test_named_events_as_anthropic_sends_them():
    stream = (
        b'event: message_start\ndata: {"type":"message_start"}\n\n'
        b"event: ping\ndata: {}\n\n"
        b'event: content_block_delta\ndata: {"delta":{"text":"Hi"}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n'
    )
    events = SSEReader().feed(stream)
    assert [event.event for event in events] == [
        "message_start",
        "ping",
        "content_block_delta",
        "error",
    ]
    assert events[2].data == b'{"delta":{"text":"Hi"}}'


def test_an_event_without_data_is_not_dispatched():
    assert SSEReader().feed(b"event: ping\n\n: comment\n\nid: 3\n\n") == []


def test_finish_returns_a_last_event_without_blank_line():
    parser = SSEReader()
    assert parser.feed(b'data: {"a":1}\n\ndata: {"b":2}') == [("message", b'{"a":1}')]
    assert parser.finish() == [("message", b'{"b":2}')]
    assert SSEReader().finish() == []
