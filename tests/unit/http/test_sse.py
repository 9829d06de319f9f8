"""SSE framing: split reads, line endings, comments, long lines, end of stream."""

from __future__ import annotations

import json

import pytest

from g4f_magic.errors import StreamError
from g4f_magic.http.sse import SSEDecoder

STREAM = (
    b": comment line\n"
    b'data: {"msg": "estimation", "rank": 0}\n'
    b"\n"
    b"event: message\n"
    b'data: {"msg": "log",\n'
    b'data:  "log": "two lines"}\n'
    b"\n"
)


def decode_all(chunks: list[bytes]) -> list[str]:
    dec = SSEDecoder()
    return [ev.data for c in chunks for ev in dec.feed(c)]


def test_whole_stream_gives_two_events_and_joins_data_lines() -> None:
    assert decode_all([STREAM]) == ['{"msg": "estimation", "rank": 0}', '{"msg": "log",\n "log": "two lines"}']


@pytest.mark.parametrize("eol", [b"\r\n", b"\r"])
def test_every_split_point_and_line_ending_gives_the_same_events(eol: bytes) -> None:
    stream = STREAM.replace(b"\n", eol)
    expected = decode_all([STREAM])
    for cut in range(len(stream) + 1):
        assert decode_all([stream[:cut], stream[cut:]]) == expected, cut
    assert decode_all([bytes([b]) for b in stream]) == expected


def test_crlf_split_between_cr_and_lf_does_not_make_a_blank_line() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: a\r") == []
    assert dec.feed(b"\ndata: b\r\n\r\n")[0].data == "a\nb"


def test_several_events_in_one_read() -> None:
    chunk = b"".join(f"data: {i}\n\n".encode() for i in range(50))
    assert decode_all([chunk]) == [str(i) for i in range(50)]


def test_a_data_line_over_128_kib_in_many_reads() -> None:
    payload = json.dumps({"msg": "log", "log": "x" * (200 * 1024)})
    raw = f"data: {payload}\n\n".encode()
    chunks = [raw[i:i + 4096] for i in range(0, len(raw), 4096)]
    assert decode_all(chunks) == [payload]


def test_event_without_closing_blank_line_is_not_dispatched() -> None:
    assert decode_all([b"data: complete\n\ndata: cut"]) == ["complete"]


def test_field_without_space_and_unknown_fields() -> None:
    dec = SSEDecoder()
    evs = dec.feed(b"retry: 10\nid: 7\nfoo\ndata:x\n\n")
    assert [(e.data, e.id) for e in evs] == [("x", "7")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode_all([b"data: \xff\xfe ok\n\n"]) == ["\ufffd\ufffd ok"]


def test_event_larger_than_the_limit_is_a_stream_error() -> None:
    dec = SSEDecoder(max_event_bytes=1000)
    with pytest.raises(StreamError, match="larger than 1000 bytes"):
        dec.feed(b"data: " + b"y" * 2000)
