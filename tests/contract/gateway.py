"""A plain reverse proxy in the ``G4F_MAGIC_ENDPOINT`` layout, in front of real Gradio servers.

``http://GATEWAY/<host>/<path>`` goes to the server that stands for ``<host>``; anything else is 404. Each
server runs with ``root_path`` set to its public address (``https://<host>``), as a Space behind Hugging
Face's edge does, so the file URLs it hands out name its own public host, not the gateway. What reached
which upstream is recorded, so a test can tell that nothing went to a host the Space named.
"""

from __future__ import annotations

import contextlib
from typing import AsyncIterator, Iterator

import aiohttp
from aiohttp import web

from g4f_magic.localspace.app import run_in_thread

# what Hugging Face's edge answers for a Space that is not running (the page, in short)
DOWN = {
    "paused": "<!DOCTYPE html><html><body><h1>This Space has been paused by its owner.</h1></body></html>",
    "building": "<!DOCTYPE html><html><body><h1>This Space is building</h1></body></html>",
    "sleeping": "<!DOCTYPE html><html><body><h1>This Space is sleeping due to inactivity</h1></body></html>",
}
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


class Gateway:
    def __init__(self, upstreams: dict[str, str]) -> None:
        self.upstreams = upstreams  # public host → http://127.0.0.1:PORT, or "gone", "paused", "building", "sleeping"
        self.seen: list[tuple[str, str]] = []  # (host segment, path) of every request
        self.authorized: list[tuple[str, str, str]] = []  # (host segment, path, Authorization) when it had one

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{host}/{tail:.*}", self.forward)
        app.cleanup_ctx.append(self._client)
        return app

    async def _client(self, app: web.Application) -> AsyncIterator[None]:
        self.http = aiohttp.ClientSession(auto_decompress=False)
        yield
        await self.http.close()

    async def forward(self, request: web.Request) -> web.StreamResponse:
        host, tail = request.match_info["host"], request.match_info["tail"]
        self.seen.append((host, "/" + tail))
        if "authorization" in request.headers:
            self.authorized.append((host, "/" + tail, request.headers["authorization"]))
        upstream = self.upstreams.get(host)
        if upstream is None or upstream == "gone":
            raise web.HTTPNotFound(text='{"detail": "Not Found"}', content_type="application/json")
        if upstream in DOWN:  # a Space the edge answers for: paused, building, asleep
            return web.Response(status=503, text=DOWN[upstream], content_type="text/html")
        url = f"{upstream}/{tail}" + (f"?{request.query_string}" if request.query_string else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self.http.request(request.method, url, headers=headers, data=await request.read(),
                                     allow_redirects=False) as up:
            resp = web.StreamResponse(status=up.status, reason=up.reason)
            for k, v in up.headers.items():
                if k.lower() not in _HOP:
                    resp.headers[k] = v
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp


@contextlib.contextmanager
def gateway_in_thread(upstreams: dict[str, str]) -> Iterator[tuple[str, Gateway]]:
    gw = Gateway(upstreams)

    async def serving() -> AsyncIterator[str]:
        runner = web.AppRunner(gw.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()

    with run_in_thread(serving(), "gateway") as url:
        yield url, gw
