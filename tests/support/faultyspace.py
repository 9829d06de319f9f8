"""The local Space with every fault of SPEC §8, for tests and the soak: ``FaultySpace``.

The runtime ``LocalSpace`` plays the happy paths; this subclass holds the fault catalogue, the hostile
payloads and the ``[fault:NAME]`` prompt markers, and drives them through the Space's hooks. Arm a fault
with :meth:`FaultySpace.arm` (or ``POST /_localspace/arm``), or name it in a prompt.
``PYTHONPATH=tests python -m support.faultyspace --port 7860 --fault NAME`` serves one from a shell.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import random
import re
import struct
import sys
import uuid
import zlib
from typing import Any, cast

from aiohttp import web
from PIL import Image

from g4f_magic.localspace.app import Job, LocalSpace, Pace, Writer
from support.helpers import SPACES_LINK

__all__ = ["FaultySpace", "FAULTS", "HOSTILE_LOG", "HOSTILE_ERROR", "HOSTILE_ANSWER", "HOSTILE_PAGE",
           "png_declaring", "big_png"]

# fault name → the request that shows it
FAULTS: dict[str, str] = {
    "page_no_token": "page", "page_big": "page",
    "join_401_auth": "join", "join_redirect": "join", "data_redirect": "data",
    "predict_redirect": "predict", "predict_big_json": "predict",
    "file_big": "file", "file_redirect": "file", "file_redirect_same": "file",
    "jwt_401": "jwt", "jwt_html": "jwt",
    "join_no_event_id": "join", "join_400": "join", "join_422": "join", "join_429": "join",
    "join_500_text": "join", "join_500_traceback": "join", "join_502": "join", "join_503_queue_full": "join",
    "join_503_sleeping": "join", "join_slow_reply": "join", "join_slow": "join",
    "data_404": "data", "data_500": "data",
    "error_string": "stream", "error_link": "stream", "quota_old": "stream", "quota_new": "stream",
    "quota_soon": "stream", "error_null": "stream", "zerogpu_worker": "stream", "unexpected_error": "stream",
    "zerogpu_busy": "stream", "zerogpu_expired": "stream", "quota_anonymous": "stream", "space_limit": "stream",
    "cut_before_completion": "stream", "cut_after_completion": "stream", "close_early": "stream",
    "malformed_json": "stream", "data_null": "stream", "comments": "stream", "crlf": "stream",
    "split_writes": "stream", "batched_writes": "stream", "huge_line": "stream", "foreign_event": "stream",
    "heartbeats_only": "stream", "slow": "stream", "relative_url": "stream", "path_only": "stream",
    "offhost_url": "stream", "public_url": "stream", "gateway_other_host": "stream", "scheme_url": "stream", "log_html": "stream", "error_html": "stream",
    "answer_html": "stream", "answer_escape": "stream",
    "upload_400": "upload", "upload_413": "upload",
    "predict_404": "predict", "predict_500": "predict", "predict_slow": "predict",
    "predict_no_url": "predict", "predict_relative": "predict", "predict_image_only": "predict",
    "predict_public_url": "predict", "predict_seed_lies": "predict", "seed_lies": "stream",
    # the reply sent again, EXTRA_AFTER s later, on the kept-alive connection: an answer nobody asked for
    "predict_extra_reply": "predict", "join_extra_reply": "join",
    "join_same_event_id": "join",  # answered with the event id of the join before it (its own event queued all the same)
    "previews_slow": "preview",  # every preview of the run served after file_delay
    "file_lies": "file", "file_bomb": "file", "file_unsized": "file", "file_slow": "file", "file_oversize": "file",
}
EXTRA_AFTER = 0.2  # s after its reply, a reply nobody asked for: the client has put the connection back by then
_MARKER = re.compile(r"\[fault:([a-z0-9_]+)\]")

# Hostile text a compromised Space could send: each must reach the notebook as text, never as markup.
HOSTILE_LOG = ("<script>alert('log')</script><img src=x onerror=alert('log')> model loaded"
               "&lt;img src=x onerror=alert('entity')&gt;")
HOSTILE_ERROR = "<img src=x onerror=alert('error')>GPU <b>exploded</b>"
HOSTILE_ANSWER = ("**Sure.** <script>alert('answer')</script> <img src=x onerror=alert('answer')> "
                  "[click me](javascript:alert('answer'))")
# terminal control in a chat answer: clipboard write (OSC 52), window title, clear screen, a lone surrogate
ESCAPE_ANSWER = "Sure\x1b]52;c;ZXZpbA==\x07, here\x1b]0;pwned\x07 it is\x1b[2J\ud800.\nDone."
HOSTILE_PAGE = b"<!DOCTYPE html><html><script>alert('pwned')</script></html>"
_TRACEBACK = ('Traceback (most recent call last):\n  File "/usr/local/lib/python3.10/site-packages/starlette/'
              'middleware/errors.py", line 164, in __call__\n    await self.app(scope, receive, _send)\n'
              '  File "gradio/queueing.py", line 310, in push\n    fn = self.blocks.fns[body.fn_index]\n'
              "KeyError: 9\n")
_ERRORS = {
    "error_string": "CUDA out of memory",
    "error_link": "Something went wrong <a href='https://billing.example.invalid/pricing'>Upgrade</a>",
    "quota_old": "You have exceeded your GPU quota (150s left). Please retry in 0:04:12.",
    "quota_new": "You have exceeded your GPU quota (60s requested vs. 56s left). "
                 "<a style='color:red' href='https://billing.example.invalid/settings/billing'>Subscribe to Pro</a>",
    # the newer wording with a time, shortened so that a test can wait it out
    "quota_soon": "You have exceeded your GPU quota (60s requested vs. 0s left). Try again in 0:00:01",
    "error_html": HOSTILE_ERROR,
    "zerogpu_worker": "GPU task aborted",
    # spaces 0.51.3's own wordings (tests/contract raises them through its code on real Gradio)
    "zerogpu_busy": "No GPU was available",
    "zerogpu_expired": "Expired ZeroGPU proxy token",
    "quota_anonymous": "You have exceeded your ZeroGPU quota (60s requested vs. 41s left). Try again in 0:12:34. "
                       f"Authenticate with a Hugging Face token for more quota - {SPACES_LINK['tokens']}",
    "space_limit": "Space app has reached its GPU limit. Try re-running outside of examples if it happened after "
                   "clicking one",
}
_TITLES = {"zerogpu_worker": "ZeroGPU worker error", "zerogpu_busy": "ZeroGPU client error",
           "zerogpu_expired": "ZeroGPU client error"}
# join faults answered at once: (status, JSON body or text, content type)
_JOIN_REPLIES: dict[str, tuple[int, Any, str]] = {
    "join_401_auth": (401, {"detail": {"error": "Not authenticated", "auth_message": None}}, "json"),
    "join_400": (400, {"error": "Bad request: data has the wrong length <a href='x'>docs</a>"}, "json"),
    "join_422": (422, {"detail": [{"loc": ["body", "data"], "msg": "field required"}]}, "json"),
    "join_429": (429, "Too Many Requests", "text/plain"),
    "join_500_traceback": (500, _TRACEBACK, "text/plain"),  # Gradio 5 on an out-of-range fn_index
    "join_500_text": (500, "Internal Server Error: worker crashed", "text/plain"),
    "join_502": (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    "join_503_queue_full": (503, {"detail": "Queue is full! Please try again."}, "json"),
    "join_503_sleeping": (503, "<!DOCTYPE html><html><body><h1>This Space is sleeping</h1></body></html>", "text/html"),
    "data_404": (404, {"detail": "Not Found"}, "json"),
    "data_500": (500, "Internal Server Error", "text/plain"),
    "upload_400": (400, {"detail": "Invalid file upload"}, "json"),
    "upload_413": (413, "<html><body>413 Request Entity Too Large</body></html>", "text/html"),
    "predict_404": (404, {"detail": "Not Found"}, "json"),
    "predict_500": (500, {"error": "Pipeline crashed"}, "json"),
    "jwt_401": (401, {"error": "Invalid credentials in Authorization header"}, "json"),
    "jwt_html": (200, "<!DOCTYPE html><html><body>Log in</body></html>", "text/html"),
}


_DOWN_PAGES = {
    "paused": "<!DOCTYPE html><html><body><h1>This Space has been paused by its owner.</h1></body></html>",
    "building": "<!DOCTYPE html><html><body><h1>This Space is building</h1></body></html>",
    "sleeping": "<!DOCTYPE html><html><body><h1>This Space is sleeping due to inactivity</h1></body></html>",
}


def _space_host(base: str) -> str:
    """The Space's public host in the gateway layout (``http://GATEWAY/<host>``)."""
    return base.rstrip("/").rsplit("/", 1)[-1]


def _reply(fault: str) -> web.Response:
    status, body, ctype = _JOIN_REPLIES[fault]
    if ctype == "json":
        return web.json_response(body, status=status)
    return web.Response(text=body, status=status, content_type=ctype)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``x``height`` (gigabytes if decoded): a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@functools.lru_cache(maxsize=1)
def big_png(width: int = 1824, height: int = 1824) -> bytes:
    """About 10 MB: random pixels do not compress, so the file is as large as the image is."""
    img = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=1)
    return out.getvalue()


class FaultyWriter(Writer):
    """SSE the way a fault asks: CRLF, comments, split or batched writes."""

    def __init__(self, resp: web.StreamResponse, fault: str | None) -> None:
        super().__init__(resp)
        self.fault = fault
        self.eol = "\r\n" if fault == "crlf" else "\n"
        self._batch: list[bytes] = []

    async def send(self, msg: dict[str, Any]) -> None:
        if self.fault == "comments":
            await self._out(f": keep-alive{self.eol}event: message{self.eol}".encode())
        await super().send(msg)

    async def _out(self, data: bytes) -> None:
        if self.fault == "batched_writes":
            self._batch.append(data)
        elif self.fault == "split_writes":
            for i in range(0, len(data), 7):
                await self.resp.write(data[i:i + 7])
                await asyncio.sleep(0.0005)
        else:
            await self.resp.write(data)

    async def flush(self) -> None:
        if self._batch:
            await self.resp.write(b"".join(self._batch))
            self._batch.clear()


class FaultySpace(LocalSpace):
    """The local Space, plus every fault of SPEC §8 and the hostile payloads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slow_delay = 0.05  # per progress step of the "slow" fault (400 steps)
        self.file_delay = 2.0  # before a "file_slow" image is served
        self._slow_files: set[str] = set()
        self.https_fronts: set[str] = set()  # host:port of TLS proxies in front of this Space
        self.redirect_target = "http://169.254.169.254/latest/meta-data/"
        self._armed: dict[str, list[str]] = {}
        self._redirects: dict[str, str] = {}  # file path → the redirect fault it answers with
        self.down: dict[str, str] = {}  # Space host → gone, paused, building, sleeping (every request), hung (joins)
        self._release: asyncio.Event | None = None  # what a hung Space's joins wait for
        self.basic: str | None = None  # "user:password" a reverse proxy's basic auth asks of every request
        self.extra_replies = 0  # replies nobody asked for, written so far (the *_extra_reply faults)
        self._last_event_id: str | None = None

    def _again_later(self, request: web.Request, resp: web.Response) -> None:
        """``resp`` written once more on the same connection, EXTRA_AFTER s after it was sent: a complete
        HTTP/1.1 reply that answers no request."""
        transport, body = request.transport, cast(bytes, resp.body)
        head = (f"HTTP/1.1 {resp.status} OK\r\nContent-Type: {resp.content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()

        def write() -> None:
            if transport is not None and not transport.is_closing():
                transport.write(head + body)
                self.extra_replies += 1

        asyncio.get_running_loop().call_later(EXTRA_AFTER, write)

    # -- control -------------------------------------------------------------------------------
    def arm(self, fault: str, times: int = 1) -> None:
        """Make the next ``times`` requests of the fault's kind misbehave that way."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self._armed.setdefault(FAULTS[fault], []).extend([fault] * times)

    def _unhung(self) -> asyncio.Event:
        if self._release is None:
            self._release, self._release_loop = asyncio.Event(), asyncio.get_running_loop()
        return self._release

    def release_hung(self) -> None:
        """Let the joins a hung Space holds end (from any thread): a test's teardown need not wait for them."""
        release = self._release
        if release is not None:
            self._release_loop.call_soon_threadsafe(release.set)

    def reset(self) -> None:
        self.release_hung()
        self._release = None
        super().reset()
        self._armed.clear()
        self.down.clear()
        self.basic = None

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_post("/_localspace/arm", self.ctl_arm)
        app.middlewares.append(self._down_hosts)
        app.middlewares.append(self._basic_auth)  # after the recording: refused requests are seen too
        return app

    @web.middleware
    async def _basic_auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """One's own server behind a reverse proxy's basic auth (nginx ``auth_basic``): 401 without it."""
        if self.basic is None or request.path.startswith("/_localspace/"):
            return await handler(request)
        import base64

        if request.headers.get("authorization") != "Basic " + base64.b64encode(self.basic.encode()).decode():
            return web.Response(status=401, text="<html><body><h1>401 Authorization Required</h1></body></html>",
                                content_type="text/html", headers={"www-authenticate": 'Basic realm="own"'})
        return await handler(request)

    @web.middleware
    async def _down_hosts(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """A Space that is gone (404), paused, building or asleep answers every request so."""
        state = self.down.get(request.path.split("/", 2)[1] if request.path.count("/") > 1 else "")
        if state is None:
            return await handler(request)
        if state == "hung":  # up (its page, its config), but a join is never answered
            if not request.path.endswith("/queue/join"):
                return await handler(request)
            await self._unhung().wait()
            state = "paused"  # released (the test is over): as a paused Space would answer
        if state == "gone":
            return web.json_response({"detail": "Not Found"}, status=404)
        return web.Response(text=_DOWN_PAGES[state], status=503, content_type="text/html")

    async def ctl_arm(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.arm(str(body.get("fault")), int(body.get("times", 1)))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"armed": body.get("fault")})

    def _redirect_away(self) -> web.HTTPFound:
        """A 302 to another host (``redirect_target``; a link-local address unless a test sets one)."""
        return web.HTTPFound(self.redirect_target)

    def _base(self, request: web.Request, host: str) -> str:
        # Like Gradio's root_path: behind a TLS front the public URLs are https on the front's host.
        scheme = "https" if request.host in self.https_fronts else "http"
        return f"{scheme}://{request.host}/{host}"

    # -- the hooks -------------------------------------------------------------------------------
    def _pick_hook(self, kind: str, prompt: Any = None) -> str | None:
        if isinstance(prompt, str):
            for name in _MARKER.findall(prompt):
                if FAULTS.get(name) == kind:
                    return name
        armed = self._armed.get(kind)
        return armed.pop(0) if armed else None

    async def _outputs(self, w: Writer, job: Job, base: str) -> list[Any]:
        output = await super()._outputs(w, job, base)
        if job.fault == "seed_lies" and len(output) == 2 and isinstance(output[1], int):
            return [output[0], output[1] + 1]  # FLUX's (image, seed), naming another seed than the one sent
        return output

    async def _point_hook(self, w: Writer, job: Job, point: str) -> bool:
        fault, eid = job.fault, job.event_id
        if point == "begin" and fault == "heartbeats_only":
            while True:
                await w.send({"msg": "heartbeat"})
                await asyncio.sleep(0.05)
        if point == "queued" and fault == "foreign_event":
            other = uuid.uuid4().hex
            await w.send({"msg": "estimation", "event_id": other, "rank": 0, "queue_size": 2, "rank_eta": 9})
            await w.send({"msg": "process_completed", "event_id": other, "success": False,
                          "output": {"error": "someone else's job failed"}})
        if point == "started":
            if fault == "data_null":
                await w.raw("data: null")
            if fault == "malformed_json":
                await w.raw('data: {"msg": "progress", "event_id"')
            if fault == "close_early":
                await w.send({"msg": "close_stream", "event_id": None})
                return False
        if point == "logged":
            if fault == "log_html":
                await w.log(eid, HOSTILE_LOG, "warning")
            if fault == "huge_line":
                await w.log(eid, "x" * (200 * 1024), "info")
        if point == "finishing":
            if fault == "cut_before_completion":
                await w.flush()
                return False
            if fault == "unexpected_error":
                await w.send({"msg": "unexpected_error", "message": "Connection to the GPU worker was lost"})
                return False
        if point == "completed" and fault == "cut_after_completion":
            await w.flush()
            return False
        return True

    def _steps_hook(self, job: Job) -> tuple[int, int, float]:
        if job.fault == "slow":
            return 400, 1, self.slow_delay
        return super()._steps_hook(job)

    def _failure_hook(self, job: Job) -> dict[str, Any] | None:
        if job.fault == "error_null":
            return {"output": {"error": None}, "title": "Error"}
        if job.fault in _ERRORS:
            title = _TITLES.get(job.fault, "Error")
            return {"title": title,
                    "output": {"error": _ERRORS[job.fault], "duration": 1.0, "visible": True, "title": title}}
        return None

    def _file_url_hook(self, fd: dict[str, Any], job: Job, base: str) -> dict[str, Any]:
        if job.fault == "path_only":
            return fd
        if job.fault == "offhost_url":
            return {**fd, "url": "http://169.254.169.254/latest/meta-data/"}
        if job.fault == "public_url":  # a Space behind a proxy: URLs on its own public host
            return {**fd, "url": f"https://{_space_host(base)}/gradio_api/file={fd['path']}"}
        if job.fault == "gateway_other_host":  # another host's folder in the gateway's own layout
            return {**fd, "url": f"{base.rsplit('/', 1)[0]}/internal.service.example/secret.png"}
        if job.fault == "scheme_url":
            return {**fd, "url": "file:///etc/passwd"}
        if job.fault == "relative_url":
            return {**fd, "url": f"/gradio_api/file={fd['path']}"}
        return super()._file_url_hook(fd, job, base)

    def _answer_hook(self, job: Job) -> str:
        if job.fault == "answer_escape":
            return ESCAPE_ANSWER
        return HOSTILE_ANSWER if job.fault == "answer_html" else super()._answer_hook(job)

    def _file_hook(self, data: bytes, ext: str, path: str, prompt: str, label: str) -> tuple[bytes, str, str, bool]:
        if label.startswith("preview"):
            if self._pick_hook("preview", prompt) == "previews_slow":
                self._slow_files.add(path)
            return data, ext, path, False
        fault = self._pick_hook("file", prompt)
        if fault == "file_lies":  # an HTML page served under the image's content type
            return HOSTILE_PAGE, ext, path, False
        if fault == "file_bomb":  # a PNG header declaring 81 million pixels (past MAX_PIXELS)
            return png_declaring(9000, 9000), ext, path, False
        if fault == "file_oversize":  # 16 megapixels, under MAX_PIXELS, whatever size was asked
            return png_declaring(4096, 4096), ext, path, False
        if fault == "file_big":  # about 10 MB of PNG that does not compress, sent in 64 KiB writes
            return big_png(), "png", path.rsplit(".", 1)[0] + ".png", True
        if fault in ("file_redirect", "file_redirect_same"):
            self._redirects[path] = fault
        if fault == "file_slow":
            self._slow_files.add(path)
        return data, ext, path, fault == "file_unsized"

    def _writer_hook(self, resp: web.StreamResponse, job: Job | None) -> Writer:
        return FaultyWriter(resp, job.fault if job else None)

    # -- handlers with faults before (or after) the happy path ---------------------------------------
    async def space_page(self, request: web.Request) -> web.Response:
        fault = self._pick_hook("page")
        space = f"{request.match_info['owner']}/{request.match_info['name']}"
        # A real Space page is about 340 KB with the token near its end.
        return self._page(space, with_token=fault != "page_no_token",
                          filler="<!-- page weight -->" * (17000 if fault == "page_big" else 0))

    async def jwt(self, request: web.Request) -> web.Response:
        fault = self._pick_hook("jwt")
        return _reply(fault) if fault else await super().jwt(request)

    async def join(self, request: web.Request) -> web.Response:
        body = await request.json()
        data = body.get("data") if isinstance(body, dict) else None
        prompt = None
        if isinstance(data, list) and data:
            prompt = data[1] if body.get("fn_index") == 2 and len(data) == 5 else data[0]
        fault = self._pick_hook("join", prompt)
        if fault == "join_redirect":
            raise self._redirect_away()
        if fault in _JOIN_REPLIES:
            return _reply(fault)
        if fault == "join_slow":  # the join takes its time to arrive: a stream opened beside it comes first
            await asyncio.sleep(0.3)
        resp = await super().join(request)
        if fault == "join_slow_reply":  # the event is queued; its id comes late
            await asyncio.sleep(0.5)
        if fault == "join_no_event_id" and resp.status == 200:
            return web.json_response({"queued": True})
        if fault == "join_extra_reply":
            self._again_later(request, resp)
        if resp.status == 200:
            previous, self._last_event_id = self._last_event_id, json.loads(cast(bytes, resp.body))["event_id"]
            if fault == "join_same_event_id" and previous is not None:
                return web.json_response({"event_id": previous})
        return resp

    async def data(self, request: web.Request) -> web.StreamResponse:
        fault = self._pick_hook("data")
        if fault == "data_redirect":
            raise self._redirect_away()
        return _reply(fault) if fault else await super().data(request)

    async def upload(self, request: web.Request) -> web.Response:
        fault = self._pick_hook("upload")
        return _reply(fault) if fault else await super().upload(request)

    async def file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        redirect = self._redirects.get(path) if "moved=1" not in request.query_string else None
        if redirect == "file_redirect":
            raise self._redirect_away()
        if redirect == "file_redirect_same":  # same host, another URL: a client may follow this one
            raise web.HTTPFound(f"{request.path}?moved=1")
        if path in self._slow_files:
            await asyncio.sleep(self.file_delay)
        return await super().file(request)

    async def predict(self, request: web.Request) -> web.Response:
        body = await request.json()
        data = body.get("data") if isinstance(body, dict) else None
        prompt = data[0] if isinstance(data, list) and data else None
        fault = self._pick_hook("predict", prompt)
        if fault == "predict_redirect":
            raise self._redirect_away()
        if fault in _JOIN_REPLIES:
            return _reply(fault)
        if fault == "predict_slow":
            await asyncio.sleep(1.0)
        resp = await super().predict(request)
        if fault is None or resp.status != 200:
            return resp
        reply = json.loads(resp.body)  # type: ignore[arg-type]
        if fault == "predict_no_url":
            reply = {"data": [{"orig_name": "image.png"}, reply["data"][1]], "duration": 0.5}
        elif fault == "predict_image_only":  # what upstream accepts: data[0], no seed
            reply["data"] = reply["data"][:1]
        elif fault == "predict_seed_lies":  # a reply that names another seed than the one sent
            reply["data"][1] += 1
        elif fault == "predict_public_url":
            path = reply["data"][0]["path"]
            reply["data"][0]["url"] = f"https://{request.path.strip('/').split('/')[0]}/file={path}"
        elif fault == "predict_relative":
            reply["data"][0]["url"] = f"/file={reply['data'][0]['path']}"
        elif fault == "predict_big_json":  # 3 MB of valid JSON, as a Space with a large render config sends
            reply["render_config"] = {"padding": "x" * (3 * 1024 * 1024)}
        answer = web.json_response(reply)
        if fault == "predict_extra_reply":
            self._again_later(request, answer)
        return answer


def main(argv: list[str] | None = None) -> int:
    """``PYTHONPATH=tests python -m support.faultyspace --port N --fault NAME``: serve the faulty Space from a shell."""
    import argparse

    from g4f_magic.localspace.__main__ import serve_until_stopped

    parser = argparse.ArgumentParser(prog="python -m support.faultyspace")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS))
    args = parser.parse_args(argv)
    space = FaultySpace(pace=Pace.fast(0.02))
    for fault in args.fault:
        space.arm(fault)
    return serve_until_stopped(space, "127.0.0.1", args.port)

if __name__ == "__main__":
    sys.exit(main())
