"""Queue joins on one pipelined connection: twenty concurrent runs take two connections (joins, stream),
replies go to the right request, and a connection that ends early loses nothing twice."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from helpers import JANUS, collect
from leakscan import TOKEN

from g4f_magic import ImageResponse
from g4f_magic.client import Deadline, get_session
from g4f_magic.errors import ConnectionFailed, ResponseStatusError
from g4f_magic.localspace import LocalSpace
from g4f_magic.pipeline import Broken, Pipe, Replies


def connections(space: LocalSpace) -> int:
    """TCP connections the Space saw (the client's ports; over TLS, the proxy's one per connection)."""
    return len({r.peer_port for r in space.received})


async def test_twenty_concurrent_runs_take_two_connections(space: LocalSpace, endpoint: str) -> None:
    for burst in ("cold", "warm"):  # a new session (its first join alone), then a known one
        space.reset()
        runs = await asyncio.gather(*(collect("janus-pro-7b-image", f"{burst} fox {i}", seed=1000 + i, api_key=TOKEN)
                                      for i in range(20)))
        seeds = [next(e for e in events if isinstance(e, ImageResponse)).seed for events in runs]
        assert seeds == [1000 + i for i in range(20)], burst  # each run got its own event's result
        assert len(space.requests(JANUS, "/gradio_api/queue/join")) == 20
        assert len(space.requests(JANUS, "/gradio_api/queue/data")) == 1
        assert connections(space) == 2, burst  # the joins' connection and the stream's
    session = await get_session()
    assert sum(p.opened for p in session.pipes.values()) == 1  # the warm burst reused it


async def test_the_stream_waits_for_its_first_join_and_reuses_its_connection(space: LocalSpace,
                                                                             endpoint: str) -> None:
    """The first join goes alone on a pooled connection; when the joins pipelined after it are answered
    first, the stream still waits for it, and opens on its connection rather than a third one."""
    zerogpu = TOKEN[3:]  # a ZeroGPU token: no hub request, so the first run to start sends the first join
    runs = await asyncio.gather(*(collect("janus-pro-7b-image", ("[fault:join_slow_reply] " if i == 0 else "") +
                                          f"fox {i}", seed=2000 + i, api_key=zerogpu) for i in range(5)))
    assert [next(e for e in events if isinstance(e, ImageResponse)).seed for events in runs] == [
        2000 + i for i in range(5)]
    assert len(space.requests(JANUS, "/gradio_api/queue/data")) == 1
    assert connections(space) == 2  # the joins' and the first join's, which the stream reused


# -- the reply reader ----------------------------------------------------------------------------------
LENGTH = b'HTTP/1.1 200 OK\r\nserver: uvicorn\r\ncontent-length: 15\r\ncontent-type: application/json\r\n\r\n{"event_id":"a"'
CHUNKED = (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"4;ext=1\r\n{\"n\"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\nx-trailer: t\r\n\r\n")
EARLY = b"HTTP/1.1 100 Continue\r\n\r\n"


def read_all(data: bytes, step: int, max_body: int = 1024) -> tuple[list[Any], bool]:
    reader = Replies(max_body)
    replies = []
    for i in range(0, len(data), step):
        replies += reader.feed(data[i:i + step])
    return [(r.status, r.reason, r.body) for r in replies], reader.must_close


@pytest.mark.parametrize("step", [1, 2, 7, 10_000])
def test_the_reply_reader_frames_by_length_and_by_chunks_in_any_pieces(step: int) -> None:
    replies, close = read_all(LENGTH + EARLY + CHUNKED + LENGTH, step)
    assert replies == [(200, "OK", b'{"event_id":"a"'), (201, "Created", b'{"n": 1}'), (200, "OK", b'{"event_id":"a"')]
    assert not close


def test_the_reply_reader_skips_any_number_of_informational_replies() -> None:
    assert read_all(EARLY * 5000 + LENGTH, 1 << 20) == ([(200, "OK", b'{"event_id":"a"')], False)


def test_the_reply_reader_knows_when_the_server_ends_the_connection() -> None:
    closing = LENGTH.replace(b"server: uvicorn", b"Connection: close")
    assert read_all(closing + LENGTH, 3) == ([(200, "OK", b'{"event_id":"a"')], True)  # nothing after it counts
    assert read_all(LENGTH.replace(b"HTTP/1.1", b"HTTP/1.0"), 5)[1] is True
    reader = Replies(1024)  # no length: the body runs to the end of the connection
    assert reader.feed(b"HTTP/1.1 200 OK\r\n\r\npart one, ") == [] and reader.must_close
    assert [r.body for r in reader.feed(b"part two") + reader.feed(b"")] == [b"part one, part two"]


@pytest.mark.parametrize(("data", "problem"), [
    (b"SPDY/3 200 OK\r\n\r\n", "not HTTP/1.x"),
    (b"HTTP/1.1 200 OK\r\n bad: fold\r\n\r\n", "malformed header"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n", "malformed content-length"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\n", "malformed content-length"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", "other than chunked"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n", "longer than its size"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 2000\r\n\r\n", "larger than 1024 bytes"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + b"200\r\n" + b"x" * 512 + b"\r\n" + b"200\r\n"
     + b"x" * 512 + b"\r\n1\r\nx", "larger than 1024 bytes"),
    (b"HTTP/1.1 200 OK\r\nx: " + b"y" * 70_000, "head is longer"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", "in the middle of a reply"),
])
def test_the_reply_reader_refuses_what_breaks_the_framing(data: bytes, problem: str) -> None:
    reader = Replies(1024)
    with pytest.raises(Broken, match=problem):
        reader.feed(data)
        reader.feed(b"")  # the connection ends


# -- the pipe against a scripted HTTP/1.1 server ------------------------------------------------------
class Scripted:
    """A server that reads requests in order on each connection and answers as each body says:
    ``{"n": 1}`` → ``{"n": 1}`` in one piece; ``"chunked"``: in chunks, a byte per write; ``"gather": k``:
    not before k requests have arrived on this connection (only a client that pipelines gets it);
    ``"close"``: answer with ``Connection: close`` and hang up; ``"cut"``: hang up without answering."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, dict[str, Any]]] = []  # (connection, body) of every request read
        self.opened = 0

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        conn, bodies = self.opened, asyncio.Queue()  # type: ignore[var-annotated]
        count = [0]

        async def read() -> None:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    await bodies.put(None)
                    return
                size = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
                body = json.loads(await reader.readexactly(size))
                self.seen.append((conn, body))
                count[0] += 1
                await bodies.put(body)

        reading = asyncio.ensure_future(read())
        try:
            while (body := await bodies.get()) is not None:
                while count[0] < body.get("gather", 0):
                    await asyncio.sleep(0.005)
                if body.get("cut"):
                    return
                reply = json.dumps({"n": body["n"]}).encode()
                close = b"connection: close\r\n" if body.get("close") else b""
                if body.get("chunked"):
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + close +
                                 b"transfer-encoding: chunked\r\n\r\n")
                    for i in range(len(reply)):
                        writer.write(b"1\r\n" + reply[i:i + 1] + b"\r\n")
                        await writer.drain()
                    writer.write(b"0\r\n\r\n")
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + close +
                                 b"content-length: %d\r\n\r\n" % len(reply) + reply)
                await writer.drain()
                if close:
                    return
        finally:
            reading.cancel()
            writer.close()


@pytest.fixture
async def scripted() -> Any:
    server = Scripted()
    server.url = await server.start()  # type: ignore[attr-defined]
    yield server
    await server.stop()


async def post(url: str, body: dict[str, Any]) -> Any:
    session = await get_session()
    return await session.post_json(f"{url}/gradio_api/queue/join", deadline=Deadline(10), json_body=body,
                                   headers={}, proxy=None)


async def test_pipelined_requests_get_their_own_replies_in_order(scripted: Scripted) -> None:
    url = scripted.url  # type: ignore[attr-defined]
    # the first reply waits until all five requests are in: only a pipelining client gets any reply
    bodies = [{"n": 0, "gather": 5}, {"n": 1, "chunked": True}, {"n": 2}, {"n": 3, "chunked": True}, {"n": 4}]
    replies = await asyncio.wait_for(asyncio.gather(*(post(url, b) for b in bodies)), 10)
    assert [r["n"] for r in replies] == [0, 1, 2, 3, 4]
    assert {conn for conn, _ in scripted.seen} == {1}


async def test_a_request_given_up_has_its_reply_dropped_not_given_to_the_next(scripted: Scripted) -> None:
    url = scripted.url  # type: ignore[attr-defined]
    first = asyncio.ensure_future(post(url, {"n": 0, "gather": 3}))
    second = asyncio.ensure_future(post(url, {"n": 1}))
    third = asyncio.ensure_future(post(url, {"n": 2}))
    while len(scripted.seen) < 2:
        await asyncio.sleep(0.005)
    second.cancel()
    assert (await first)["n"] == 0 and (await third)["n"] == 2
    assert second.cancelled()
    assert (await post(url, {"n": 3}))["n"] == 3 and scripted.opened == 1


async def test_requests_after_a_connection_close_reply_are_sent_again_once(scripted: Scripted) -> None:
    url = scripted.url  # type: ignore[attr-defined]
    bodies = [{"n": 0, "gather": 4}, {"n": 1, "close": True}, {"n": 2}, {"n": 3}]
    replies = await asyncio.wait_for(asyncio.gather(*(post(url, b) for b in bodies)), 10)
    assert [r["n"] for r in replies] == [0, 1, 2, 3]
    answered = [(conn, body["n"]) for conn, body in scripted.seen]
    # the server read 2 and 3 on the first connection but never answered them (Connection: close):
    # they went again on the second, and were answered there
    assert answered[:4] == [(1, 0), (1, 1), (1, 2), (1, 3)] and answered[4:] == [(2, 2), (2, 3)]


async def test_a_connection_cut_with_replies_owed_fails_those_and_sends_nothing_twice(scripted: Scripted) -> None:
    url = scripted.url  # type: ignore[attr-defined]
    bodies = [{"n": 0, "gather": 3}, {"n": 1, "cut": True}, {"n": 2}]
    results = await asyncio.gather(*(post(url, b) for b in bodies), return_exceptions=True)
    assert results[0] == {"n": 0}
    for exc in results[1:]:  # the Space may have them: they are not sent again
        assert isinstance(exc, ConnectionFailed) and str(exc).startswith("connection to 127.0.0.1:"), exc
    assert sorted(body["n"] for _, body in scripted.seen) == [0, 1, 2]
    assert (await post(url, {"n": 3}))["n"] == 3 and scripted.opened == 2  # the next one gets a new connection


async def test_an_idle_connection_the_server_closed_is_replaced_silently(scripted: Scripted) -> None:
    url = scripted.url  # type: ignore[attr-defined]
    assert (await post(url, {"n": 0, "close": True}))["n"] == 0  # the server hangs up after answering
    await asyncio.sleep(0.05)
    assert (await post(url, {"n": 1}))["n"] == 1
    assert scripted.opened == 2


async def test_a_redirected_or_failed_join_is_one_line(space: LocalSpace) -> None:
    pipe = Pipe("http", "127.0.0.1", 1, 1024)  # nothing listens on port 1
    with pytest.raises(Exception) as refused:
        await pipe.post("/", {}, b"{}")
    assert type(refused.value).__name__ == "ConnectFailed"
    session = await get_session()
    with pytest.raises(ConnectionFailed, match=r"^cannot connect to 127\.0\.0\.1:1: connection refused$"):
        await session.post_json("http://127.0.0.1:1/gradio_api/queue/join", deadline=Deadline(5), json_body={},
                                headers={}, proxy=None)
    with pytest.raises(ResponseStatusError, match=r"^Response 404: "):
        await session.post_json(f"{space.url}/nowhere", deadline=Deadline(5), json_body={},  # type: ignore[attr-defined]
                                headers={}, proxy=None)
