"""Sessions and tasks close on success, error and cancellation; keep-alive; proxy; endpoints; CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from leakscan import COOKIE
from support.helpers import DEEPSEEK, FLUX_DEV, HUB, PREDICT, LoopbackProxy, collect

import g4f_magic
from g4f_magic import G4F, FluxDev, ImageResponse, Reasoning
from g4f_magic.http.session import get_session
from g4f_magic.localspace import LocalSpace, Pace


def other_tasks() -> set[asyncio.Task[Any]]:
    """Client-side tasks still alive (the in-process local Space's and TLS proxy's own tasks excluded)."""
    return {
        t for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and not t.get_coro().__qualname__.startswith(("RequestHandler.", "ChunkingTLSProxy."))
    }


async def close_at(gen: Any, kind: str) -> None:
    """Read ``gen`` until its first status of ``kind``, then close it (a Stop mid-run)."""
    async for ev in gen:
        if isinstance(ev, Reasoning) and ev.kind == kind:
            break
    await gen.aclose()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_closing_the_generator_mid_stream_closes_the_connection(space: LocalSpace, endpoint: str) -> None:
    space.arm("slow")
    await close_at(G4F.create_async_generator("flux", "x"), "progress")
    assert await space.wait_disconnect(), "the local Space never saw the client go away"
    await settle()
    assert other_tasks() == set()


async def test_cancelling_the_task_mid_stream_closes_the_connection(space: LocalSpace, endpoint: str) -> None:
    space.arm("slow")
    seen = asyncio.Event()

    async def consume() -> None:
        async for ev in G4F.create_async_generator("janus-pro-7b-image", "x"):
            if isinstance(ev, Reasoning) and ev.kind == "progress":
                seen.set()

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(seen.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await space.wait_disconnect()
    await settle()
    assert other_tasks() == set()


async def test_cancelling_run_predict_cancels_its_request_task(space: LocalSpace, endpoint: str) -> None:
    space.arm("predict_slow")
    await close_at(G4F.create_async_generator("flux-schnell", "x"), "generating")
    await settle()
    assert other_tasks() == set()


async def test_error_mid_stream_leaves_no_task(space: LocalSpace, endpoint: str) -> None:
    space.arm("unexpected_error")
    with pytest.raises(g4f_magic.GenerationError):
        await collect("flux", "x")
    await settle()
    assert other_tasks() == set()


async def test_one_session_per_loop_and_aclose(space: LocalSpace, endpoint: str) -> None:
    first = await get_session()
    await collect("flux", "x")
    assert await get_session() is first
    await g4f_magic.aclose()
    assert first.closed
    second = await get_session()
    assert second is not first and not second.closed


def test_asyncio_run_closes_the_session_by_itself(tmp_path: Any) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent("""
        import asyncio, gc, os
        from g4f_magic import G4F
        from g4f_magic.localspace import LocalSpace, Pace, serve

        async def main():
            server = serve(LocalSpace(pace=Pace.fast()))
            os.environ["G4F_MAGIC_ENDPOINT"] = await server.__anext__()
            async for ev in G4F.create_async_generator("flux", "x"):
                pass
            await server.aclose()
            print("done", ev.model)

        asyncio.run(main())
        gc.collect()
    """))
    out = subprocess.run([sys.executable, "-X", "dev", "-W", "error", str(script)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done flux"
    assert "Unclosed" not in out.stderr and "destroyed" not in out.stderr, out.stderr


def test_a_run_stopped_mid_stream_over_tls_leaves_no_socket_open(thread_space: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream given up over TLS is aborted, not shut down politely: a polite TLS shutdown waits for the
    server's reply, and a loop closed meanwhile (``asyncio.run`` returning) leaves its socket open."""
    import gc
    import warnings

    from netproxy import proxy_in_thread, upstream_of

    async def stop_mid_stream() -> None:
        gen = G4F.create_async_generator("flux", "x", seed=1)
        async for ev in gen:
            if isinstance(ev, Reasoning) and ev.kind == "progress":
                break
        await gen.aclose()

    gc.collect()
    with proxy_in_thread(upstream_of(thread_space.url)) as (url, _):
        thread_space.https_fronts.add(url.split("://", 1)[1])
        monkeypatch.setenv(g4f_magic.ENV_VAR, url)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            for _ in range(5):
                thread_space.arm("slow")
                asyncio.run(stop_mid_stream())
                gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


@pytest.mark.parametrize("fault", ["join_slow_reply", "join_slow"])
def test_a_stop_while_the_first_join_is_in_flight_over_tls_leaves_no_socket_open(
        monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    """Stop before the Space has answered the first join (its reply in flight, or the join itself still
    arriving): no transport outlives ``asyncio.run``. A Space of its own: the events stopped before their
    id came back run on there, as on a real Space, and must not count in another test's load."""
    import gc
    import time
    import warnings

    from netproxy import proxy_in_thread, upstream_of
    from support.faultyspace import FaultySpace

    from g4f_magic.localspace import in_thread

    def joins() -> int:
        return sum(r.path.endswith("/queue/join") for r in thread_space.received)

    async def stop_during_join() -> None:
        before = joins()
        task = asyncio.ensure_future(collect("flux", "x", seed=1))
        started = time.monotonic()
        while joins() == before and time.monotonic() - started < 10:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)  # the reply (or the rest of the join) on its way
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    gc.collect()
    thread_space = FaultySpace(pace=Pace.fast(0.001))
    with in_thread(thread_space) as space_url, proxy_in_thread(upstream_of(space_url)) as (url, _):
        thread_space.https_fronts.add(url.split("://", 1)[1])
        monkeypatch.setenv(g4f_magic.ENV_VAR, url)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            for _ in range(3):
                thread_space.arm(fault)
                asyncio.run(stop_during_join())
                gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


async def test_calls_go_through_the_proxy(space: LocalSpace, endpoint: str) -> None:
    proxy = LoopbackProxy()
    async with proxy as proxy_url:
        events = await collect("flux", "x", proxy=proxy_url, cookies={"token": COOKIE})
        await collect("flux-schnell", "y", proxy=proxy_url)
    assert isinstance(events[-1], ImageResponse)
    if endpoint.startswith("https:"):  # one CONNECT tunnel per kept-alive connection, nothing else
        assert proxy.seen and set(proxy.seen) == {f"CONNECT {endpoint.split('://')[1]}"}
        return
    assert [s.split("?")[0] for s in proxy.seen] == [
        f"GET {endpoint}/{HUB}/spaces/roxky/FLUX.1-dev",
        f"GET {endpoint}/{HUB}/api/spaces/roxky/FLUX.1-dev/jwt",
        f"POST {endpoint}/{FLUX_DEV}/gradio_api/queue/join",
        f"GET {endpoint}/{FLUX_DEV}/gradio_api/queue/data",
        f"GET {endpoint}/{HUB}/spaces/roxky/g4f-flux",
        f"POST {endpoint}/{PREDICT}/run/predict",
    ]
    for line, head in zip(proxy.seen, proxy.headers):
        if f"/{HUB}/" not in line:
            assert COOKIE not in head


async def test_per_call_endpoint_and_urls(space: LocalSpace) -> None:
    url = space.url  # type: ignore[attr-defined]
    img = (await collect("flux", "x", endpoint=url))[-1]
    assert img.urls[0].startswith(f"{url}/{FLUX_DEV}/")
    await collect("janus-pro-7b-image", "x", endpoint=url, api_url=f"{url}/{DEEPSEEK}", hub_url=f"{url}/{HUB}")
    join = space.requests(DEEPSEEK, "/gradio_api/queue/join")[0]
    assert join.headers["referer"] == f"{url}/{DEEPSEEK}?__theme=light"


async def test_subclass_overrides_like_upstream(space: LocalSpace) -> None:
    base = url = space.url  # type: ignore[attr-defined]

    class MyFlux(FluxDev):
        url = f"{base}/{FLUX_DEV}"

    class Mine(G4F):
        api_url = f"{base}/{DEEPSEEK}"
        url_flux = f"{base}/{PREDICT}/run/predict"
        hub_url = f"{base}/{HUB}"
        flux_dev_provider = MyFlux

    class MyReferer(Mine):
        referer = "https://example.invalid/custom"

    ends = Mine.endpoints()
    assert ends.referer == f"{url}/{DEEPSEEK}?__theme=light"
    assert MyReferer.endpoints().referer == "https://example.invalid/custom"
    for model in ("flux", "flux-schnell", "janus-pro-7b-image"):
        events = [e async for e in Mine.create_async_generator(model, "x")]
        assert isinstance(events[-1], ImageResponse)  # one order on every route
    hosts = {r.host for r in space.received}
    assert hosts == {HUB, FLUX_DEV, PREDICT, DEEPSEEK}


def test_localspace_command_serves_until_terminated() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "g4f_magic.localspace", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert "not a model" in line
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        import urllib.request

        with urllib.request.urlopen(url + "/", timeout=10) as resp:
            page = resp.read().decode()
        assert "local stand-in" in page and "not a model" in page
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
