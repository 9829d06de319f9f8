"""The proxy matrix: real nginx (http and https, buffering off) and HAProxy (keep-alive and
``httpclose``) from Debian's packages in front of a real Gradio server (issue #23).

Single, 5 and 20 runs at once, and a Stop of one among five, through each front: every run gets its own
image (the seed it asked for, read back from the pixels, ``fronts.seed_in``), nothing hangs (each batch
has a bound), and afterwards no task of this process is left and no socket of it is still open to the
front. The queue API on Gradio >= 5 (the FLUX.1-dev app, three events at once), the legacy
``/run/predict`` on Gradio 4.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any, Iterator

import psutil
import pytest
from fronts import BASIC, FRONTS, running_fronts, seed_in
from servers import Server, gradio_version

from g4f_magic import G4F, ImageResponse, Reasoning, aclose, fetch_image

BOUND = 40.0  # seconds a batch may take through a front before it counts as hung (within the test's timeout)


@pytest.fixture(scope="module")
def fronted(gradio_servers: dict[str, Server]) -> Iterator[tuple[dict[str, str], str]]:
    """The fronts' URLs, and the route they serve on this Gradio (the session's servers: this fixture outlives a
    test, as they do)."""
    route = "flux_dev" if gradio_version() >= (5,) else "predict"
    server = gradio_servers["flux_dev_many" if route == "flux_dev" else "predict"]
    with running_fronts(server.port) as fronts:
        yield fronts, route


def _where(front: str, route: str) -> dict[str, Any]:
    if route == "flux_dev":
        return {"model": "flux", "flux_dev_url": front, "num_inference_steps": 4, "space_concurrency": 3}
    return {"model": "flux-schnell", "url_flux": f"{front}/run/predict"}


async def _one(front: str, route: str, seed: int, prompt: str = "a lighthouse",
               seen: asyncio.Event | None = None) -> int:
    """One run through ``front``: the seed its image carries (its URL on the front's address), which is
    the seed the run reported. The legacy route draws its own seed (g4f sends ``randomize_seed``), so there
    the one asked for is the prompt's only."""
    where = _where(front, route)
    events = []
    async for ev in G4F.create_async_generator(where.pop("model"), f"{prompt} {seed}", seed=seed, width=256,
                                               height=256, timeout=BOUND, **where):
        events.append(ev)
        if seen is not None and isinstance(ev, Reasoning):
            seen.set()
    [image] = [e for e in events if isinstance(e, ImageResponse)]
    assert image.urls[0].startswith(front + "/"), image.urls
    data, _ = await fetch_image(image.urls[0])
    assert seed_in(data) == image.seed, (seed_in(data), image.seed)  # its own image, not another run's
    return image.seed if route == "flux_dev" else seed


def _stuck(pending: set[asyncio.Task[Any]]) -> str:
    """Where each run that did not end is waiting: the failing test's message."""
    import io

    out = io.StringIO()
    for task in pending:
        task.print_stack(file=out)
        task.cancel()
    for task in asyncio.all_tasks():
        if task not in pending and task is not asyncio.current_task():
            task.print_stack(file=out)
    return out.getvalue()


async def _nothing_left(front: str) -> None:
    """No task of the client left, and, once the session is closed, no socket of this process to the front."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not tasks, tasks
    await aclose()
    gc.collect()
    port = int(front.rsplit(":", 1)[1])
    for _ in range(50):  # a close is sent at once; the kernel's bookkeeping may take a moment
        open_ = [c for c in psutil.Process().net_connections("tcp")
                 if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED]
        if not open_:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(open_)} sockets still open to {front}")


# each route on the Gradio that serves it: the gradio(api) marker deselects the other in a run
ROUTES = [pytest.param("queue", marks=pytest.mark.gradio("queue")),
          pytest.param("predict", marks=pytest.mark.gradio("predict"))]


@pytest.mark.parametrize("api", ROUTES)
@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("count", [1, 5, 20])
async def test_runs_through_a_real_proxy_each_get_their_own_image(
        fronted: tuple[dict[str, str], str], front: str, count: int, api: str) -> None:
    await _matrix(fronted, front, count)


async def _matrix(fronted: tuple[dict[str, str], str], front: str, count: int) -> None:
    fronts, route = fronted
    seeds = [1000 * count + 7 * i + 1 for i in range(count)]  # each a different pattern of bits
    got = await asyncio.wait_for(asyncio.gather(*(_one(fronts[front], route, s) for s in seeds)), BOUND)
    assert got == seeds
    await _nothing_left(fronts[front])


@pytest.mark.parametrize("api", ROUTES)
@pytest.mark.parametrize("front", FRONTS)
async def test_a_stop_of_one_among_five_through_a_real_proxy_spares_the_others(
        fronted: tuple[dict[str, str], str], front: str, api: str) -> None:
    await _stop_one(fronted, front)


async def _stop_one(fronted: tuple[dict[str, str], str], front: str) -> None:
    import logging

    fronts, route = fronted
    seeds = [500 + 3 * i for i in range(5)]
    heard: list[str] = []  # every request with its time: the failing test's message
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: heard.append(f"{record.created % 100:.3f} {record.getMessage()}")  # type: ignore[method-assign]
    logger = logging.getLogger("g4f_magic")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        started = asyncio.Event()
        tasks = [asyncio.ensure_future(_one(fronts[front], route, s, "slow", started if i == 2 else None))
                 for i, s in enumerate(seeds)]
        await asyncio.wait_for(started.wait(), BOUND)  # the third run is under way: Stop it
        tasks[2].cancel()
        done, pending = await asyncio.wait(tasks, timeout=BOUND)
        assert not pending, _stuck(pending)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert isinstance(outcomes[2], asyncio.CancelledError)
    assert [o for i, o in enumerate(outcomes) if i != 2] == [s for i, s in enumerate(seeds) if i != 2], \
        "\n".join(heard)
    await _nothing_left(fronts[front])


@pytest.mark.gradio("queue")
async def test_ones_own_server_behind_nginx_basic_auth(fronted: tuple[dict[str, str], str]) -> None:
    """The user:password written in the server's URL reaches nginx's auth_basic (the run and its image
    download), and no URL, event or error the user sees carries it (issue #23, item 6)."""
    from urllib.parse import quote

    from g4f_magic.errors import ResponseStatusError

    fronts, route = fronted
    bare = fronts["nginx-basic"]
    own = bare.replace("://", f"://{BASIC[0]}:{quote(BASIC[1], safe='')}@")
    events = [ev async for ev in G4F.create_async_generator("flux", "a lighthouse", seed=77, width=256, height=256,
                                                            flux_dev_url=own, num_inference_steps=2)]
    [image] = [e for e in events if isinstance(e, ImageResponse)]
    assert image.urls[0].startswith(bare + "/") and not [e for e in events if BASIC[0] in repr(e)]
    data, _ = await fetch_image(image.urls[0])
    assert seed_in(data) == 77
    await aclose()  # a session that never had the login: nginx's refusal, in one line
    with pytest.raises(ResponseStatusError) as refused:
        async for _ in G4F.create_async_generator("flux", "x", seed=1, flux_dev_url=bare):
            pass
    assert refused.value.status == 401 and str(refused.value).startswith("the server, or a proxy in front of it, "
                                                                         "wants a login (401 Unauthorized)")
    await _nothing_left(bare)
