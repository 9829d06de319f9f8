"""The provider against real Gradio: every route, its streams, and its error paths.

Each Space-shaped app runs in a real Gradio server (``apps.py``); ``*_tls`` servers sit behind the
chunking TLS proxy, their file URLs on the proxy's https host (Gradio's ``root_path``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from typing import Any

import pytest
from PIL import Image
from servers import Server, urls

from g4f_magic import G4F, ImagePreview, ImageResponse, Reasoning, fetch_image
from g4f_magic.errors import GenerationError, QuotaExceeded, ResponseStatusError, SpaceUnavailable
from g4f_magic.gradio.calls import servers_of

queue = pytest.mark.gradio("queue")
predict = pytest.mark.gradio("predict")


async def run(model: str, prompt: str, server: Server, route: str, **kwargs: Any) -> list[Any]:
    gen = G4F.create_async_generator(model, prompt, **urls(server, route), **kwargs)
    return [ev async for ev in gen]


def final(events: list[Any]) -> ImageResponse:
    [result] = [e for e in events if isinstance(e, ImageResponse)]
    return result


def text_of(events: list[Any]) -> str:
    return "".join(e for e in events if isinstance(e, str))


@queue
@pytest.mark.parametrize("name", ["flux_dev", "flux_dev_tls"])
async def test_flux_dev_streams_a_preview_then_the_full_final_image(gradio: dict[str, Server], name: str) -> None:
    events = await run("flux", "a lighthouse in a storm", gradio[name], "flux_dev", seed=42, aspect_ratio="16:9",
                       num_inference_steps=6)
    result = final(events)
    assert (result.seed, result.width, result.height) == (42, 1360, 760)
    assert any(isinstance(e, ImagePreview) for e in events)
    progress = [str(e) for e in events if isinstance(e, Reasoning) and e.kind == "progress"]
    assert progress and all(p.startswith("Sampling ") and p.endswith("/6") for p in progress)
    assert str(events[-2]).startswith("Finished")  # one order on every queue route: Finished, then the image
    assert result.urls[0].startswith(gradio[name].url)
    data, mime = await fetch_image(result.urls[0])
    assert mime == "image/webp"  # Gradio >= 5 writes WebP
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (1360, 760)


@pytest.mark.parametrize(("name", "model", "route"), [
    pytest.param("flux_dev", "flux", "flux_dev", marks=queue),
    pytest.param("flux_dev_tls", "flux", "flux_dev", marks=queue),
    pytest.param("predict", "flux-schnell", "predict", marks=predict),
    pytest.param("predict_tls", "flux-schnell", "predict", marks=predict),
])
async def test_a_10_mb_image_arrives_whole(gradio: dict[str, Server], name: str, model: str, route: str) -> None:
    result = final(await run(model, "big", gradio[name], route, seed=1, width=256, height=256))
    data, _ = await fetch_image(result.urls[0])
    assert len(data) > 9_000_000
    with Image.open(io.BytesIO(data)) as img:
        img.load()  # "image file is truncated" on a short read


@queue
async def test_ones_own_server_behind_a_tls_front_that_does_not_say_https(gradio: dict[str, Server]) -> None:
    """Issue #36, item 2: real Gradio behind a TLS front with no X-Forwarded-Proto writes its file URLs as http://
    on the front's host and port; the image is fetched the way the server is reached (it was refused as "another
    host")."""
    server = gradio["flux_dev_bare_tls"]
    result = final(await run("flux", "a lighthouse", server, "flux_dev", seed=3, width=256, height=256))
    assert result.urls[0].startswith(f"{server.url}/gradio_api/file=")  # https://127.0.0.1:PORT, as reached
    data, _ = await fetch_image(result.urls[0])
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (256, 256)


@queue
@pytest.mark.parametrize("name", ["janus", "janus_tls"])
async def test_janus_chat_streams_text_and_reads_an_image(gradio: dict[str, Server], name: str) -> None:
    events = await run("janus-pro-7b", "what is a lighthouse?", gradio[name], "janus", seed=7)
    answer = text_of(events)
    assert answer == "Contract app answer (seed 7). You asked: what is a lighthouse?"
    assert len([e for e in events if isinstance(e, str)]) > 3  # streamed in pieces
    png = io.BytesIO()
    Image.new("RGB", (120, 80), "red").save(png, "PNG")
    events = await run("janus-pro-7b", "what is this?", gradio[name], "janus", seed=7, media=png.getvalue())
    assert text_of(events).endswith("I see a 120x80 image.")


@queue
@pytest.mark.parametrize("name", ["janus", "janus_tls"])
async def test_janus_image_gives_a_five_image_gallery(gradio: dict[str, Server], name: str) -> None:
    result = final(await run("janus-pro-7b-image", "a red bicycle", gradio[name], "janus", seed=1234))
    assert len(result.urls) == 5 and result.seed == 1234
    sizes = []
    for url in result.urls:
        data, mime = await fetch_image(url)
        with Image.open(io.BytesIO(data)) as img:
            sizes.append(img.size)
    assert sizes == [(384, 384)] * 5


@queue
@pytest.mark.parametrize(("server", "model", "route", "prompt", "cls", "message"), [
    ("flux_dev", "flux", "flux_dev", "gr.Error please", GenerationError, "CUDA out of memory on the contract app"),
    ("janus", "janus-pro-7b-image", "janus", "quota", QuotaExceeded,
     "You have exceeded your GPU quota (60s requested vs. 41s left)."),
    ("flux_dev", "flux", "flux_dev", "plain exception", GenerationError,  # launched with show_error=True
     "the model crashed with a plain exception"),
    ("janus", "janus-pro-7b-image", "janus", "plain exception", GenerationError,  # show_error=False
     "the Space reported an error without details"),
    ("janus", "janus-pro-7b", "janus", "gr.Error in a chat", GenerationError, "CUDA out of memory on the contract app"),
    ("auth", "janus-pro-7b", "janus", "hello", ResponseStatusError, "Response 401: Not authenticated"),
    ("flux_dev", "flux-schnell", "predict", "a cat", ResponseStatusError, "Response 404: Not Found"),  # Gradio 5+
])
async def test_errors_are_one_clear_line(gradio: dict[str, Server], server: str, model: str, route: str,
                                         prompt: str, cls: type, message: str) -> None:
    with pytest.raises(cls) as info:
        await run(model, prompt, gradio[server], route, seed=1000)
    assert str(info.value) == message and type(info.value) is cls


@queue
async def test_warning_and_info_arrive_as_log_lines(gradio: dict[str, Server]) -> None:
    events = await run("janus-pro-7b-image", "warn and info", gradio["janus"], "janus", seed=1000)
    logs = [(e.level, str(e)) for e in events if isinstance(e, Reasoning) and e.kind == "log"]
    assert ("warning", "the contract app warns you") in logs
    assert ("info", "the contract app says hello") in logs
    assert len(final(events).urls) == 5


@queue
async def test_queue_full_is_space_unavailable(gradio: dict[str, Server]) -> None:
    """``max_size=2``, one job at a time: the fourth of four slow jobs finds the queue full. Each job has run slots
    of its own (a ceiling of its own), as four clients would: one client keeps two in flight on a server that runs
    one at a time, and would never fill its queue."""
    server = gradio["flux_dev"]
    jobs = [run("flux", "slow", server, "flux_dev", seed=i, num_inference_steps=1, space_concurrency=10 + i)
            for i in range(4)]
    outcomes = await asyncio.gather(*jobs, return_exceptions=True)
    full = [o for o in outcomes if isinstance(o, SpaceUnavailable)]
    assert full and all(str(o).startswith("Space unavailable (503): Queue is full") for o in full)
    assert any(isinstance(o, list) for o in outcomes)


@predict
@pytest.mark.parametrize("name", ["predict", "predict_tls"])
async def test_run_predict_gives_the_image_and_seed(gradio: dict[str, Server], name: str) -> None:
    events = await run("flux-schnell", "a lighthouse", gradio[name], "predict", seed=99999, width=256, height=192)
    result = final(events)
    # the body asks the Space to randomise (SPEC §6: ``true``), so the seed is the one it replied with
    assert (result.width, result.height) == (256, 192) and result.seed != 99999 and 0 <= result.seed < 2**32
    assert str(events[0]).startswith("Generating") and str(events[-2]).startswith("Finished")
    assert events[-1] is result  # one order on every route: Finished, then the image
    data, mime = await fetch_image(result.urls[0])
    assert mime == "image/png"
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (256, 192)


@predict
async def test_run_predict_gr_error(gradio: dict[str, Server]) -> None:
    with pytest.raises(ResponseStatusError) as info:
        await run("flux-schnell", "gr.Error now", gradio["predict"], "predict", seed=99999, width=256, height=256)
    assert "CUDA out of memory on the contract app" in str(info.value)


def moved_notes(events: list[Any]) -> list[str]:
    return [str(e) for e in events if isinstance(e, Reasoning) and "moved" in str(e)]


@queue
async def test_a_space_whose_functions_moved_is_found_by_name(gradio: dict[str, Server]) -> None:
    server = gradio["moved"]
    events = await run("janus-pro-7b-image", "a red bicycle", server, "janus", seed=1234)
    assert len(final(events).urls) == 5
    assert moved_notes(events) == ["The Space moved generate_image to function 5; retrying"]
    events = await run("janus-pro-7b", "what is a lighthouse?", server, "janus", seed=7)
    assert text_of(events).endswith("You asked: what is a lighthouse?")
    assert moved_notes(events) == ["The Space moved multimodal_understanding to function 4; retrying"]
    again = await run("janus-pro-7b-image", "a blue bicycle", server, "janus", seed=1235)
    assert len(final(again).urls) == 5 and moved_notes(again) == []  # remembered for the session


@queue
async def test_a_function_with_other_inputs_is_one_clear_error(gradio: dict[str, Server]) -> None:
    with pytest.raises(GenerationError) as info:
        await run("flux", "a lighthouse", gradio["changed"], "flux_dev", seed=1)
    assert str(info.value) == (
        "the Space's infer now takes 8 inputs (Prompt, Seed, Randomize seed, Width, Height, Guidance Scale, "
        "Number of inference steps, Scheduler); this client sends 7")


@predict
async def test_run_predict_finds_a_moved_function(gradio: dict[str, Server]) -> None:
    events = await run("flux-schnell", "a lighthouse", gradio["predict_moved"], "predict", width=256, height=192)
    assert final(events).width == 256
    assert moved_notes(events) == ["The Space moved infer to function 5; retrying"]


@queue
async def test_concurrent_runs_share_one_stream_and_a_stop_spares_the_others(gradio: dict[str, Server]) -> None:
    """Observed on Gradio 5.50 and 6.31: closing a session's stream cancels all its events, and /cancel
    stops the session's *running* task whichever event it is. So a queued run that is stopped is
    cancelled when it starts; the run before it and the one after it still complete."""
    from g4f_magic.http.session import get_session

    server = gradio["flux_dev_tls"]
    quick = [run("flux", "quick", server, "flux_dev", seed=i, num_inference_steps=2) for i in range(3)]
    seeds = [final(events).seed for events in await asyncio.gather(*quick)]
    assert seeds == [0, 1, 2]
    [stream] = [s for (base, _), s in servers_of(await get_session()).streams.items() if base == urls(server, "flux_dev")["flux_dev_url"]]
    assert stream.opened == 1  # three runs, one queue/data stream

    first = asyncio.ensure_future(run("flux", "first slow", server, "flux_dev", seed=11, num_inference_steps=2))
    await asyncio.sleep(0.5)  # first is running (1.5 s), the next two wait behind it
    second = asyncio.ensure_future(run("flux", "second slow", server, "flux_dev", seed=12, num_inference_steps=2))
    third = asyncio.ensure_future(run("flux", "third", server, "flux_dev", seed=13, num_inference_steps=2))
    await asyncio.sleep(0.3)
    second.cancel()
    outcomes = await asyncio.wait_for(asyncio.gather(first, second, third, return_exceptions=True), 30)
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert final(outcomes[0]).seed == 11 and final(outcomes[2]).seed == 13  # neither was hit by the stop
    for _ in range(100):  # the stopped run's /cancel (sent when it started) and the stream both end
        if stream.idle:
            break
        await asyncio.sleep(0.05)
    assert stream.idle


async def _three_running_stop_the_second(server: Server, timeout: float = 30) -> list[Any]:
    """Three runs of infer in one session on a server that runs three at once; the second is stopped once
    all three run. The outcomes, and the stream they shared."""
    from g4f_magic.http.session import get_session

    tasks = [asyncio.ensure_future(run("flux", f"slow {i}", server, "flux_dev", seed=30 + i, num_inference_steps=2,
                                       space_concurrency=3, timeout=timeout)) for i in range(3)]
    base = urls(server, "flux_dev")["flux_dev_url"]
    session = await get_session()
    for _ in range(300):
        streams = [s for (b, _), s in servers_of(session).streams.items() if b == base]
        if streams and len(streams[-1].started) == 3:
            break
        await asyncio.sleep(0.01)
    assert len(streams[-1].started) == 3  # all three run at once on this server
    tasks[1].cancel()
    return [await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30), streams[-1]]


@queue
async def test_on_a_server_that_runs_several_at_once_a_stop_spares_the_siblings(gradio: dict[str, Server]) -> None:
    """Gradio's /cancel stops every running task of the function in the session (tasks named
    session_hash + fn_index), so the stopped run's /cancel waits until it runs alone, and the two runs
    beside it complete with their own images."""
    outcomes, stream = await _three_running_stop_the_second(gradio["flux_dev_many"])
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert final(outcomes[0]).seed == 30 and final(outcomes[2]).seed == 32
    for _ in range(200):  # the stopped run is cancelled once alone, or ends by itself; then the stream ends
        if stream.idle and not stream.deferred:
            break
        await asyncio.sleep(0.05)
    assert stream.idle and not stream.deferred


@queue
async def test_gradios_cancel_takes_every_running_sibling_with_it(gradio: dict[str, Server],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The ground truth the wait rests on: with /cancel sent at once, the siblings are stopped too (Gradio 6
    completes them empty; Gradio 5 never completes them, so they end at their 8 s timeout)."""
    from g4f_magic.gradio.stream import SharedStream

    monkeypatch.setattr(SharedStream, "_cancel_alone", SharedStream._cancel)
    outcomes, _ = await _three_running_stop_the_second(gradio["flux_dev_many"], timeout=8)
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert not any(isinstance(e, ImageResponse) for o in (outcomes[0], outcomes[2])
                   for e in (o if isinstance(o, list) else [])), outcomes


@queue
async def test_a_run_stopped_while_joining_is_cancelled_once_it_starts(gradio: dict[str, Server]) -> None:
    """A run stopped before its join's reply came: the Space has the event all the same. With no other run
    on the stream, the client opens the stream to hear it start and cancels it then (on Gradio 5 a
    /cancel sent earlier would leave a queued event in the queue); the Space completes it empty."""
    import json

    from g4f_magic.gradio.calls import queue_body, servers_of
    from g4f_magic.http.session import Deadline, get_session

    base = urls(gradio["flux_dev"], "flux_dev")["flux_dev_url"]
    session = await get_session()
    stream = servers_of(session).stream(session, base, {"accept": "text/event-stream"}, None)
    heard: list[dict[str, Any]] = []
    dispatch = stream._dispatch

    def record(data: str) -> bool:
        heard.append(json.loads(data))
        return dispatch(data)

    stream._dispatch = record  # type: ignore[method-assign]
    body = queue_body(["orphan slow", 5, False, 256, 256, 3.5, 2], 2, 4, stream.session_hash)

    async def join() -> str:
        reply = await session.json("POST", f"{base}/gradio_api/queue/join", deadline=Deadline(30.0), json_body=body)
        return reply["event_id"]

    stream.joining()
    task = asyncio.ensure_future(join())
    stream.stopped_joining(task, 2)  # as the run does when it is stopped during its join
    event_id = await task
    for _ in range(200):
        if stream.idle and heard:
            break
        await asyncio.sleep(0.05)
    assert stream.idle
    mine = [m for m in heard if m.get("event_id") == event_id]
    assert [m["msg"] for m in mine if m["msg"] in ("process_starts", "process_completed")] == \
        ["process_starts", "process_completed"]
    assert "data" not in mine[-1]["output"]  # cancelled: completed without the function's outputs
    assert heard[-1]["msg"] == "close_stream"


async def _what_the_space_ran(base: str, session_hash: str, within: float = 8.0) -> list[dict[str, Any]]:
    """The messages a Space kept for a session, read on a stream of our own for at most ``within`` seconds: the
    events it ran, with their results, or "session not found" (or nothing but heartbeats) once it dropped them."""
    import json

    import aiohttp

    heard: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as raw:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within), \
                    raw.get(f"{base}/gradio_api/queue/data?session_hash={session_hash}") as resp:
                async for line in resp.content:
                    if line.startswith(b"data:"):
                        heard.append(json.loads(line[5:]))
                        if heard[-1].get("msg") in ("close_stream", "unexpected_error"):
                            break
    return heard


@queue
async def test_a_stop_while_the_streams_request_is_on_its_way_still_drops_the_runs(
        gradio: dict[str, Server], monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen on Gradio 6.31: events joined under a session whose stream never came run all the same, and a
    stream's close drops them. So a Stop that lands while the stream's request is still on its way (a slow
    network, a busy proxy) must let it reach the Space and end it there, not cancel it unsent: else the two
    stopped runs below both run to their end (on ZeroGPU, on the user's quota)."""
    from g4f_magic.http.session import HttpSession, get_session

    sse, on_its_way = HttpSession.sse, asyncio.Event()

    async def slow_network(self: HttpSession, url: str, **kw: Any) -> Any:
        await on_its_way.wait()  # the request has not left yet
        async for event in sse(self, url, **kw):
            yield event

    monkeypatch.setattr(HttpSession, "sse", slow_network)
    server = gradio["flux_dev"]  # runs one at a time: "slow" takes 1.5 s, the second waits behind it
    base = urls(server, "flux_dev")["flux_dev_url"]
    tasks = [asyncio.ensure_future(run("flux", f"slow {i}", server, "flux_dev", seed=50 + i, num_inference_steps=2))
             for i in range(2)]
    session = await get_session()
    for _ in range(500):
        streams = [s for (b, _), s in servers_of(session).streams.items() if b == base]
        if streams and len(streams[0].listeners) == 2:
            break
        await asyncio.sleep(0.01)
    [stream] = streams
    assert len(stream.listeners) == 2 and stream.opened == 1  # both joined; the stream's request not sent yet
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert stream.retired
    on_its_way.set()  # the request goes out now; the Space answers it, and the client ends it
    for _ in range(200):
        if stream.idle:
            break
        await asyncio.sleep(0.05)
    assert stream.idle
    await asyncio.sleep(0.5)
    kept = await _what_the_space_ran(base, stream.session_hash)
    ran = [m for m in kept if m.get("msg") == "process_completed" and (m.get("output") or {}).get("data")]
    assert not ran, kept  # dropped: neither ran to its end


@queue
async def test_a_known_session_gets_its_next_result_on_a_stream_opened_beside_the_join(
        gradio: dict[str, Server]) -> None:
    """Seen on Gradio 5.50 and 6.31: once an event of a session hash has completed, a ``queue/data`` stream
    opened for that hash before (or while) the next join arrives stays open and carries the new event.
    (A hash the server has never seen gets "session not found" at once.)"""
    from g4f_magic.http.session import get_session

    server = gradio["flux_dev_tls"]
    seeds = [final(await run("flux", f"run {i}", server, "flux_dev", seed=20 + i, num_inference_steps=2)).seed
             for i in range(3)]
    assert seeds == [20, 21, 22]
    [stream] = [s for (base, _), s in servers_of(await get_session()).streams.items() if base == urls(server, "flux_dev")["flux_dev_url"]]
    assert stream.early_opens == 2 and stream.opened == 3 and not stream.retired


@queue
async def test_chats_share_the_spaces_stream_and_a_next_turn_streams_beside_its_join(
        gradio: dict[str, Server]) -> None:
    """On Gradio's server: concurrent chats (streamed text edits) and an image run share one session
    hash and one queue/data stream, each gets its own answer, and the next turn's stream is opened
    beside its join (the session is known by then)."""
    from g4f_magic import JsonConversation
    from g4f_magic.http.session import get_session

    server = gradio["janus_tls"]
    runs = await asyncio.gather(*(run("janus-pro-7b", f"question {i}?", server, "janus", seed=i) for i in range(3)),
                                run("janus-pro-7b-image", "a red bicycle", server, "janus", seed=1234))
    for i, events in enumerate(runs[:3]):
        assert text_of(events) == f"Contract app answer (seed {i}). You asked: question {i}?"
    assert final(runs[3]).seed == 1234
    [stream] = [s for (base, _), s in servers_of(await get_session()).streams.items() if base == server.url]
    convs = [next(e for e in events if isinstance(e, JsonConversation)) for events in runs[:3]]
    assert {c.session_hash for c in convs} == {stream.session_hash}
    # four runs, one stream (a second only if a join came after the Space had closed the first)
    assert stream.opened <= 2, stream.opened
    opened, early = stream.opened, stream.early_opens
    events = await run("janus-pro-7b", "and then?", server, "janus", seed=5, conversation=convs[0])
    assert text_of(events) == "Contract app answer (seed 5). You asked: and then?"
    assert (stream.opened - opened, stream.early_opens - early) == (1, 1)


@queue
async def test_twenty_concurrent_runs_take_few_connections(gradio: dict[str, Server]) -> None:
    """Counted at the TLS front of a real Gradio server: twenty runs from a cold pool take no more
    connections than the Space's run slots (their joins, on aiohttp's keep-alive pool, nothing pipelined)
    and the shared stream. A second burst opens at most as many again: uvicorn closes a connection idle for
    5 s, and a join's connection is idle while the runs before it take their turns."""
    from g4f_magic import aclose
    from g4f_magic.spaces.endpoints import SPACE_CONCURRENCY

    server = gradio["janus_tls"]
    await aclose()  # a cold pool, as a notebook's Run All starts
    for burst in ("cold", "warm"):
        before = server.proxy.connections
        runs = await asyncio.gather(*(run("janus-pro-7b-image", f"{burst} fox {i}", server, "janus", seed=100 + i)
                                      for i in range(20)))
        assert [final(events).seed for events in runs] == [100 + i for i in range(20)], burst
        new = server.proxy.connections - before
        assert (2 if burst == "cold" else 0) <= new <= SPACE_CONCURRENCY + 1, (burst, new)


@queue
async def test_sequential_runs_reuse_the_streams_connection(gradio: dict[str, Server]) -> None:
    """Gradio ends a stream's body right after close_stream, often in a TLS record of its own: the client
    reads to that end, so the stream's connection goes back to the pool and the next run's stream (opened
    beside its join) reuses it instead of a new TLS handshake."""
    from g4f_magic import aclose

    server = gradio["janus_tls"]
    await aclose()
    before = server.proxy.connections
    for i in range(6):
        assert final(await run("janus-pro-7b-image", f"fox {i}", server, "janus", seed=200 + i)).seed == 200 + i
    assert server.proxy.connections - before == 2  # the joins' and the streams'


@queue
async def test_what_a_server_runs_at_once_is_learned_with_no_setting(gradio: dict[str, Server]) -> None:
    """Issue #36, item 1: on a server that runs three at once, six runs with no setting end with all three running
    at once and as many queued behind them; on one that runs one at a time, one running and one queued."""
    from g4f_magic.http.session import get_session

    session = await get_session()
    for name, running, limits in (("flux_dev_many", 3, range(6, 17)), ("flux_dev", 1, [2])):
        server = gradio[name]
        jobs = [run("flux", f"learn {i}", server, "flux_dev", seed=40 + i, num_inference_steps=2) for i in range(6)]
        outcomes = await asyncio.gather(*jobs)
        assert [final(o).seed for o in outcomes] == list(range(40, 46))
        base = urls(server, "flux_dev")["flux_dev_url"]
        [slots] = [s for (b, _), s in servers_of(session)._slots.items() if b == base]
        assert slots.most_running == running and slots.limit in limits, (name, slots.most_running, slots.limit)
        # runs waited to learn it: the new session's stream was tried beside its first join, and whether Gradio
        # heard it before the join ("session not found", opened again) or after, every run had its own result
        [stream] = [s for (b, _), s in servers_of(session).streams.items() if b == base]
        assert stream.early_opens == 1, name
