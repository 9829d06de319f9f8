"""A local stand-in for the hub and the three Spaces, speaking their wire protocol on loopback.

Layout (the gateway form of :mod:`g4f_magic.endpoints`): ``/{original host}/{original path}``, so
``G4F_MAGIC_ENDPOINT=http://127.0.0.1:PORT`` points the provider here. Faults from SPEC §8 are armed
with :meth:`LocalSpace.arm` (or ``POST /_localspace/arm``) or named in a prompt as ``[fault:NAME]``.
Everything received is recorded in :attr:`LocalSpace.received` (``GET /_localspace/received``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import io
import json
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, AsyncIterator, Iterator

from aiohttp import web

from .images import big_png, placeholder, png_declaring

__all__ = ["LocalSpace", "FAULTS", "SPACE_HOSTS", "HUB_HOST", "Received", "HOSTILE_LOG", "HOSTILE_ERROR",
           "HOSTILE_ANSWER", "HOSTILE_PAGE"]

HUB_HOST = "huggingface.co"
SPACE_HOSTS = {
    "roxky-janus-pro-7b.hf.space": "janus",
    "deepseek-ai-janus-pro-7b.hf.space": "janus",
    "roxky-flux-1-dev.hf.space": "flux_dev",
    "roxky-g4f-flux.hf.space": "predict",
}
MAX_FILES = 256  # a long-running local Space serves recent files, like Gradio's cache
STANDIN = "g4f_magic local Space: a local stand-in for testing, not a model"

# fault name → the request that shows it
FAULTS: dict[str, str] = {
    "page_no_token": "page", "page_big": "page",
    "join_401_auth": "join", "join_redirect": "join", "data_redirect": "data",
    "predict_redirect": "predict", "predict_big_json": "predict",
    "file_big": "file", "file_redirect": "file", "file_redirect_same": "file",
    "jwt_401": "jwt", "jwt_html": "jwt",
    "join_no_event_id": "join", "join_400": "join", "join_422": "join", "join_429": "join",
    "join_500_text": "join", "join_500_traceback": "join", "join_502": "join", "join_503_queue_full": "join", "join_503_sleeping": "join",
    "data_404": "data", "data_500": "data",
    "error_string": "stream", "error_link": "stream", "quota_old": "stream", "quota_new": "stream",
    "error_null": "stream", "zerogpu_worker": "stream", "unexpected_error": "stream",
    "cut_before_completion": "stream", "cut_after_completion": "stream", "close_early": "stream",
    "malformed_json": "stream", "data_null": "stream", "comments": "stream", "crlf": "stream",
    "split_writes": "stream", "batched_writes": "stream", "huge_line": "stream", "foreign_event": "stream",
    "heartbeats_only": "stream", "slow": "stream", "relative_url": "stream", "path_only": "stream",
    "offhost_url": "stream", "scheme_url": "stream", "log_html": "stream", "error_html": "stream",
    "answer_html": "stream",
    "upload_400": "upload", "upload_413": "upload",
    "predict_404": "predict", "predict_500": "predict", "predict_slow": "predict",
    "predict_no_url": "predict", "predict_relative": "predict",
    "file_lies": "file", "file_bomb": "file", "file_unsized": "file",
}
_MARKER = re.compile(r"\[fault:([a-z0-9_]+)\]")

# Hostile text a compromised Space could send: each must reach the notebook as text, never as markup.
HOSTILE_LOG = ("<script>alert('log')</script><img src=x onerror=alert('log')> model loaded"
               "&lt;img src=x onerror=alert('entity')&gt;")
HOSTILE_ERROR = "<img src=x onerror=alert('error')>GPU <b>exploded</b>"
HOSTILE_ANSWER = ("**Sure.** <script>alert('answer')</script> <img src=x onerror=alert('answer')> "
                  "[click me](javascript:alert('answer'))")
_TRACEBACK = ('Traceback (most recent call last):\n  File "/usr/local/lib/python3.10/site-packages/starlette/'
              'middleware/errors.py", line 164, in __call__\n    await self.app(scope, receive, _send)\n'
              '  File "gradio/queueing.py", line 310, in push\n    fn = self.blocks.fns[body.fn_index]\n'
              "KeyError: 9\n")
HOSTILE_PAGE = b"<!DOCTYPE html><html><script>alert('pwned')</script></html>"


@dataclass
class Received:
    """One request as the local Space saw it."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    peer_port: int | None = None  # the client's port: equal ports mean a reused connection
    at: float = field(default_factory=time.time)


@dataclass
class Job:
    kind: str  # "chat", "janus_image", "flux_dev"
    event_id: str
    data: list[Any]
    fault: str | None
    host: str


def _jwt(sub: str, ttl: float) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    body = part({"sub": sub, "exp": int(time.time() + ttl), "onBehalfOf": "local-standin"})
    sig = base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{body}.{sig}"


def _peer_port(request: web.Request) -> int | None:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return peer[1] if isinstance(peer, tuple) and len(peer) > 1 else None


class LocalSpace:
    """State and handlers; :meth:`app` builds the ``web.Application``."""

    def __init__(self, latency: float = 0.0, step_delay: float = 0.005, token_ttl: float = 600.0) -> None:
        self.latency = latency
        self.step_delay = step_delay
        self.slow_delay = 0.05  # per progress step of the "slow" fault (400 steps)
        self.token_ttl = token_ttl
        self.https_fronts: set[str] = set()  # host:port of TLS proxies in front of this Space
        self.redirect_target = "http://169.254.169.254/latest/meta-data/"
        self.received: list[Received] = []
        self.disconnects: list[str] = []
        self.tokens_issued: list[str] = []
        self._armed: dict[str, list[str]] = {}
        self._jobs: dict[str, list[Job]] = {}
        # path → (bytes, content type, sent without a Content-Length); the newest MAX_FILES
        self._files: OrderedDict[str, tuple[bytes, str, bool]] = OrderedDict()
        self._uploads: dict[str, bytes] = {}
        self._redirects: dict[str, str] = {}  # file path → the redirect fault it answers with

    # -- control -------------------------------------------------------------------------------
    def arm(self, fault: str, times: int = 1) -> None:
        """Make the next ``times`` requests of the fault's kind misbehave that way."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self._armed.setdefault(FAULTS[fault], []).extend([fault] * times)

    def reset(self) -> None:
        self.received.clear()
        self.disconnects.clear()
        self._armed.clear()

    def requests(self, host: str | None = None, path: str | None = None) -> list[Received]:
        return [r for r in self.received if (host is None or r.host == host) and (path is None or r.path == path)]

    async def wait_disconnect(self, timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while not self.disconnects and time.monotonic() < end:
            await asyncio.sleep(0.01)
        return bool(self.disconnects)

    def _fault(self, kind: str, prompt: Any = None) -> str | None:
        if isinstance(prompt, str):
            for name in _MARKER.findall(prompt):
                if FAULTS.get(name) == kind:
                    return name
        armed = self._armed.get(kind)
        return armed.pop(0) if armed else None

    # -- app -----------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record], client_max_size=8 * 1024 * 1024)
        app.router.add_get("/", self.index)
        app.router.add_get("/_localspace/received", self.ctl_received)
        app.router.add_post("/_localspace/arm", self.ctl_arm)
        app.router.add_post("/_localspace/reset", self.ctl_reset)
        app.router.add_get(f"/{HUB_HOST}/spaces/{{owner}}/{{name}}", self.space_page)
        app.router.add_get(f"/{HUB_HOST}/api/spaces/{{owner}}/{{name}}/jwt", self.jwt)
        app.router.add_get("/{host}/", self.space_index)
        app.router.add_post("/{host}/gradio_api/queue/join", self.join)
        app.router.add_get("/{host}/gradio_api/queue/data", self.data)
        app.router.add_post("/{host}/gradio_api/upload", self.upload)
        app.router.add_get("/{host}/gradio_api/file={path:.+}", self.file)
        app.router.add_get("/{host}/file={path:.+}", self.file)
        app.router.add_post("/{host}/run/predict", self.predict)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        parts = request.path.split("/", 2)
        if not request.path.startswith("/_localspace"):
            body: Any = None
            if request.content_type == "application/json" and request.can_read_body:
                try:
                    body = await request.json()
                except ValueError:
                    body = "<malformed>"
            self.received.append(Received(
                request.method, parts[1] if len(parts) > 1 else "", "/" + (parts[2] if len(parts) > 2 else ""),
                dict(request.query), {k.lower(): v for k, v in request.headers.items()}, body,
                _peer_port(request),
            ))
            if self.latency:
                await asyncio.sleep(self.latency)
        return await handler(request)

    def _redirect_away(self) -> web.HTTPFound:
        """A 302 to another host (``redirect_target``; a link-local address unless a test sets one)."""
        return web.HTTPFound(self.redirect_target)

    def _base(self, request: web.Request, host: str) -> str:
        # Like Gradio's root_path: behind a TLS front the public URLs are https on the front's host.
        scheme = "https" if request.host in self.https_fronts else "http"
        return f"{scheme}://{request.host}/{host}"

    def _space(self, request: web.Request, *kinds: str) -> str:
        host = request.match_info["host"]
        if SPACE_HOSTS.get(host) not in kinds:
            raise web.HTTPNotFound(text=json.dumps({"detail": "Not Found"}), content_type="application/json")
        return host

    # -- pages and the hub --------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.Response:
        items = "".join(f"<li>{html.escape(h)} ({k})</li>" for h, k in SPACE_HOSTS.items())
        return web.Response(
            text=f"<!DOCTYPE html><html><body><h1>{html.escape(STANDIN)}</h1><ul>{items}</ul></body></html>",
            content_type="text/html",
        )

    async def space_index(self, request: web.Request) -> web.Response:
        host = self._space(request, "janus", "flux_dev", "predict")
        return web.Response(text=f"<!DOCTYPE html><title>{html.escape(host)}</title><p>{html.escape(STANDIN)}</p>",
                            content_type="text/html")

    async def space_page(self, request: web.Request) -> web.Response:
        space = f"{request.match_info['owner']}/{request.match_info['name']}"
        fault = self._fault("page")
        props = {"space": space, "note": STANDIN}
        if fault != "page_no_token":
            token = _jwt(space, self.token_ttl)
            self.tokens_issued.append(token)
            props.update(token=token, sessionUuid=str(uuid.uuid5(uuid.NAMESPACE_URL, space)))
        data = html.escape(json.dumps(props, separators=(",", ":")), quote=True)
        # A real Space page is about 340 KB with the token near its end.
        filler = "<!-- page weight -->" * (17000 if fault == "page_big" else 0)
        return web.Response(
            text=f'<!DOCTYPE html><html><body>{filler}<div class="SVELTE_HYDRATER" data-props="{data}"></div>'
                 f"<p>{html.escape(STANDIN)}</p></body></html>",
            content_type="text/html",
        )

    async def jwt(self, request: web.Request) -> web.Response:
        fault = self._fault("jwt")
        cookie = request.headers.get("cookie", "")
        if fault == "jwt_html":
            return web.Response(text="<!DOCTYPE html><html><body>Log in</body></html>", content_type="text/html")
        if fault == "jwt_401" or "token=" not in cookie:
            return web.json_response({"error": "Invalid credentials in Authorization header"}, status=401)
        token = _jwt(f"{request.match_info['owner']}/{request.match_info['name']}#pro", self.token_ttl)
        self.tokens_issued.append(token)
        return web.json_response({"token": token, "accessToken": None})

    # -- queue API ------------------------------------------------------------------------------
    async def join(self, request: web.Request) -> web.Response:
        host = self._space(request, "janus", "flux_dev")
        body = await request.json()
        data = body.get("data") if isinstance(body, dict) else None
        fn = body.get("fn_index") if isinstance(body, dict) else None
        kinds = {("janus", 2): "chat", ("janus", 3): "janus_image", ("flux_dev", 2): "flux_dev"}
        kind = kinds.get((SPACE_HOSTS[host], fn))
        session = body.get("session_hash") if isinstance(body, dict) else None
        if kind is None or not isinstance(data, list) or not isinstance(session, str):
            return web.json_response({"detail": "Invalid fn_index or body"}, status=422)
        prompt = data[1] if kind == "chat" else data[0]
        fault = self._fault("join", prompt)
        if fault == "join_401_auth":  # a Space launched with auth=: Gradio's own reply
            return web.json_response({"detail": {"error": "Not authenticated", "auth_message": None}}, status=401)
        if fault == "join_redirect":
            raise self._redirect_away()
        if fault == "join_400":
            return web.json_response({"error": "Bad request: data has the wrong length <a href='x'>docs</a>"}, status=400)
        if fault == "join_422":
            return web.json_response({"detail": [{"loc": ["body", "data"], "msg": "field required"}]}, status=422)
        if fault == "join_429":
            return web.Response(text="Too Many Requests", status=429)
        if fault == "join_500_traceback":  # Gradio 5 answers an out-of-range fn_index with its traceback
            return web.Response(text=_TRACEBACK, status=500)
        if fault == "join_500_text":
            return web.Response(text="Internal Server Error: worker crashed", status=500)
        if fault == "join_502":
            return web.Response(text="<html><body><h1>502 Bad Gateway</h1></body></html>", status=502,
                                content_type="text/html")
        if fault == "join_503_queue_full":
            return web.json_response({"detail": "Queue is full! Please try again."}, status=503)
        if fault == "join_503_sleeping":
            return web.Response(text="<!DOCTYPE html><html><body><h1>This Space is sleeping</h1></body></html>",
                                status=503, content_type="text/html")
        event_id = uuid.uuid4().hex
        stream_fault = self._fault("stream", prompt)
        self._jobs.setdefault(session, []).append(Job(kind, event_id, data, stream_fault, host))
        if fault == "join_no_event_id":
            return web.json_response({"queued": True})
        return web.json_response({"event_id": event_id})

    async def data(self, request: web.Request) -> web.StreamResponse:
        host = self._space(request, "janus", "flux_dev")
        session = request.query.get("session_hash", "")
        fault = self._fault("data")
        if fault == "data_redirect":
            raise self._redirect_away()
        if fault == "data_404":
            return web.json_response({"detail": "Not Found"}, status=404)
        if fault == "data_500":
            return web.Response(text="Internal Server Error", status=500)
        jobs = self._jobs.pop(session, [])
        resp = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
        await resp.prepare(request)
        writer = _Writer(resp, jobs[0].fault if jobs else None)
        try:
            if not jobs:
                await writer.send({"msg": "unexpected_error", "message": "404: Not Found", "session_not_found": True})
            for job in jobs:
                if not await self._run(writer, job, self._base(request, host)):
                    await writer.flush()
                    return resp  # the scenario cut the stream
            await writer.send({"msg": "close_stream", "event_id": None})
            await writer.flush()
            await resp.write_eof()
        except asyncio.CancelledError:
            self.disconnects.append(session)
            raise
        except ConnectionResetError:  # the client went away: expected (timeouts, Stop, interrupts)
            self.disconnects.append(session)
        return resp

    def _image_file(self, host: str, prompt: str, seed: int, w: int, h: int, fmt: str, label: str = "") -> dict[str, Any]:
        data = placeholder(prompt, seed, w, h, fmt, label)
        ext = fmt.lower()
        path = f"/tmp/gradio/{hashlib.sha256(data).hexdigest()[:32]}/image.{ext}"
        served = data
        fault = None if label.startswith("preview") else self._fault("file", prompt)
        if fault == "file_lies":  # an HTML page served under the image's content type
            served = HOSTILE_PAGE
        elif fault == "file_bomb":  # a PNG header declaring 81 million pixels (past MAX_PIXELS)
            served = png_declaring(9000, 9000)
        if fault == "file_big":  # about 10 MB of PNG that does not compress, sent in 64 KiB writes
            served = big_png()
            ext = "png"
            path = path.rsplit(".", 1)[0] + ".png"
        elif fault in ("file_redirect", "file_redirect_same"):
            self._redirects[path] = fault
        self._files[path] = (served, f"image/{ext}", fault in ("file_unsized", "file_big"))
        self._files.move_to_end(path)
        while len(self._files) > MAX_FILES:
            self._files.popitem(last=False)
        return {"path": path, "url": None, "size": len(data), "orig_name": f"image.{ext}",
                "mime_type": f"image/{ext}", "is_stream": False, "meta": {"_type": "gradio.FileData"}}

    async def _run(self, w: "_Writer", job: Job, base: str) -> bool:
        """Play one job's messages; False when the scenario cut the stream."""
        eid, fault = job.event_id, job.fault

        def url(fd: dict[str, Any]) -> dict[str, Any]:
            if fault == "path_only":
                return fd
            if fault == "offhost_url":
                return {**fd, "url": "http://169.254.169.254/latest/meta-data/"}
            if fault == "scheme_url":
                return {**fd, "url": "file:///etc/passwd"}
            return {**fd, "url": f"/gradio_api/file={fd['path']}" if fault == "relative_url"
                    else f"{base}/gradio_api/file={fd['path']}"}

        if fault == "heartbeats_only":
            while True:
                await w.send({"msg": "heartbeat"})
                await asyncio.sleep(0.05)
        await w.send({"msg": "estimation", "event_id": eid, "rank": 1, "queue_size": 2, "rank_eta": 1.5})
        if fault == "foreign_event":
            other = uuid.uuid4().hex
            await w.send({"msg": "estimation", "event_id": other, "rank": 0, "queue_size": 2, "rank_eta": 9})
            await w.send({"msg": "process_completed", "event_id": other, "success": False,
                          "output": {"error": "someone else's job failed"}})
        await w.send({"msg": "estimation", "event_id": eid, "rank": 0, "queue_size": 1, "rank_eta": 0.5})
        await w.send({"msg": "process_starts", "event_id": eid, "eta": 2.0})
        if fault == "data_null":
            await w.raw("data: null")
        if fault == "malformed_json":
            await w.raw('data: {"msg": "progress", "event_id"')
        if fault == "close_early":
            await w.send({"msg": "close_stream", "event_id": None})
            return False
        steps = 28 if job.kind == "flux_dev" else 4
        if fault == "slow":
            steps = 400
        for i in range(0, steps + 1, 1 if fault == "slow" or steps < 10 else 7):
            await w.send({"msg": "progress", "event_id": eid, "progress_data": [
                {"index": i, "length": steps, "unit": "steps", "progress": None,
                 "desc": "Sampling" if job.kind == "flux_dev" else None}]})
            await asyncio.sleep(self.slow_delay if fault == "slow" else self.step_delay)
        await w.log(eid, "Model loaded on the local stand-in", "info")
        if fault == "log_html":
            await w.log(eid, HOSTILE_LOG, "warning")
        if fault == "huge_line":
            await w.log(eid, "x" * (200 * 1024), "info")
        await w.send({"msg": "heartbeat"})
        await w.send({"msg": "heartbeat"})
        if fault == "cut_before_completion":
            await w.flush()
            return False
        if fault == "unexpected_error":
            await w.send({"msg": "unexpected_error", "message": "Connection to the GPU worker was lost"})
            return False
        errors = {
            "error_string": "CUDA out of memory",
            "error_link": "Something went wrong <a href='https://huggingface.co/pricing'>Upgrade</a>",
            "quota_old": "You have exceeded your GPU quota (150s left). Please retry in 0:04:12.",
            "quota_new": "You have exceeded your GPU quota (60s requested vs. 56s left). "
                         "<a style='color:red' href='https://huggingface.co/settings/billing'>Subscribe to Pro</a>",
            "error_html": HOSTILE_ERROR,
        }
        # Failures as Gradio 5/6 send them (tests/contract/recorded): gr.Error's fields in ``output``
        # and its title at the top too; an error hidden by show_error=False is ``{"error": null}``.
        if fault == "error_null":
            await w.send({"msg": "process_completed", "event_id": eid, "success": False,
                          "output": {"error": None}, "title": "Error"})
            return True
        if fault in errors or fault == "zerogpu_worker":
            title = "ZeroGPU worker error" if fault == "zerogpu_worker" else "Error"
            text = "GPU task aborted" if fault == "zerogpu_worker" else errors[fault]
            await w.send({"msg": "process_completed", "event_id": eid, "success": False, "title": title,
                          "output": {"error": text, "duration": 1.0, "visible": True, "title": title}})
            return True
        output = await self._outputs(w, job, base, url)
        await w.send({"msg": "process_completed", "event_id": eid, "success": True, "title": None,
                      "output": {"data": output, "is_generating": False, "duration": 1.2, "average_duration": 1.2,
                                 "render_config": None, "changed_state_ids": []}})
        if fault == "cut_after_completion":
            await w.flush()
            return False
        return True

    async def _outputs(self, w: "_Writer", job: Job, base: str, url: Any) -> list[Any]:
        """Stream previews or text where the real Space does; return the final outputs."""
        eid, data = job.event_id, job.data
        if job.kind == "chat":
            answer = HOSTILE_ANSWER if job.fault == "answer_html" else self._answer(data[0], str(data[1]))
            words = answer.split(" ")
            await w.send({"msg": "process_generating", "event_id": eid, "success": True,
                          "output": {"data": [words[0]], "is_generating": True}})
            for word in words[1:]:
                await w.send({"msg": "process_generating", "event_id": eid, "success": True,
                              "output": {"data": [[["append", [], " " + word]]], "is_generating": True}})
            return [answer]  # Gradio's completion carries full values, even after streamed edits
        if job.kind == "janus_image":
            prompt, seed = str(data[0]), int(data[1])
            return [[{"image": url(self._image_file(job.host, prompt, seed + i, 384, 384, "WEBP", f"#{i + 1}/5")),
                      "caption": None} for i in range(5)]]
        prompt, seed, _, width, height = str(data[0]), int(data[1]), data[2], int(data[3]), int(data[4])
        first = url(self._image_file(job.host, prompt, seed, max(32, width // 8), max(32, height // 8), "WEBP", "preview 1"))
        await w.send({"msg": "process_generating", "event_id": eid, "success": True,
                      "output": {"data": [first, seed], "is_generating": True}})
        second = url(self._image_file(job.host, prompt, seed, max(32, width // 4), max(32, height // 4), "WEBP", "preview 2"))
        edits = [["replace", [k], second[k]] for k in ("path", "url", "size") if k in second]
        await w.send({"msg": "process_generating", "event_id": eid, "success": True,
                      "output": {"data": [edits, []], "is_generating": True}})
        final = url(self._image_file(job.host, prompt, seed, width, height, "WEBP"))
        return [final, seed]

    def _answer(self, image: Any, prompt: str) -> str:
        turns = prompt.count("\nUser:") + prompt.startswith("User:")
        question = prompt.rsplit("User:", 1)[-1].split("\nAssistant:", 1)[0].strip()
        text = f"Local stand-in reply (not a model). You asked: {question}"
        if turns > 1:
            text += f" (this conversation has {turns} user turns)"
        if isinstance(image, dict):
            raw = self._uploads.get(str(image.get("path")))
            if raw is not None:
                from PIL import Image

                with Image.open(io.BytesIO(raw)) as im:
                    text += f" I see a {im.width}x{im.height} {im.format} image named {image.get('orig_name')}."
        return text

    async def upload(self, request: web.Request) -> web.Response:
        self._space(request, "janus")
        fault = self._fault("upload")
        if fault == "upload_400":
            return web.json_response({"detail": "Invalid file upload"}, status=400)
        if fault == "upload_413":
            return web.Response(text="<html><body>413 Request Entity Too Large</body></html>", status=413,
                                content_type="text/html")
        reader = await request.multipart()
        paths = []
        async for part in reader:
            if part.name != "files":
                continue
            raw = await part.read()
            path = f"/tmp/gradio/{hashlib.sha256(raw).hexdigest()[:32]}/{part.filename or 'upload'}"
            self._uploads[path] = raw
            paths.append(path)
        return web.json_response(paths)

    async def file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        item = self._files.get(path) or self._files.get("/" + path.lstrip("/"))
        if item is None:
            return web.json_response({"detail": "File not found"}, status=404)
        redirect = self._redirects.get(path) if "moved=1" not in request.query_string else None
        if redirect == "file_redirect":
            raise self._redirect_away()
        if redirect == "file_redirect_same":  # same host, another URL: a client may follow this one
            raise web.HTTPFound(f"{request.path}?moved=1")
        data, ctype, unsized = item
        if not unsized:
            return web.Response(body=data, content_type=ctype)
        resp = web.StreamResponse(headers={"content-type": ctype})  # chunked: the size shows only at the end
        await resp.prepare(request)
        step = 65536 if len(data) > 1 << 20 else 4096
        for i in range(0, len(data), step):
            await resp.write(data[i:i + step])
        await resp.write_eof()
        return resp

    async def predict(self, request: web.Request) -> web.Response:
        host = self._space(request, "predict")
        body = await request.json()
        data = body.get("data") if isinstance(body, dict) else None
        if body.get("fn_index") != 3 or not isinstance(data, list) or len(data) != 6:
            return web.json_response({"error": "Invalid fn_index or data"}, status=422)
        prompt, seed, width, height = str(data[0]), int(data[1]), int(data[2]), int(data[3])
        fault = self._fault("predict", prompt)
        if fault == "predict_redirect":
            raise self._redirect_away()
        if fault == "predict_404":
            return web.json_response({"detail": "Not Found"}, status=404)
        if fault == "predict_500":
            return web.json_response({"error": "Pipeline crashed"}, status=500)
        if fault == "predict_slow":
            await asyncio.sleep(1.0)
        if fault == "predict_no_url":
            return web.json_response({"data": [{"orig_name": "image.png"}, seed], "duration": 0.5})
        fd = self._image_file(host, prompt, seed, width, height, "PNG")
        fd["url"] = (f"/file={fd['path']}" if fault == "predict_relative"
                     else f"{self._base(request, host)}/file={fd['path']}")
        await asyncio.sleep(self.step_delay)
        reply: dict[str, Any] = {"data": [fd, seed], "is_generating": False, "duration": 0.5}
        if fault == "predict_big_json":  # 3 MB of valid JSON, as a Space with a large render config sends
            reply["render_config"] = {"padding": "x" * (3 * 1024 * 1024)}
        return web.json_response(reply)

    # -- control endpoints (for a Space in another process) -------------------------------------
    async def ctl_received(self, request: web.Request) -> web.Response:
        return web.json_response([asdict(r) for r in self.received])

    async def ctl_arm(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.arm(str(body.get("fault")), int(body.get("times", 1)))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"armed": body.get("fault")})

    async def ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})


class _Writer:
    """Writes SSE the way a fault asks: CRLF, comments, split or batched writes."""

    def __init__(self, resp: web.StreamResponse, fault: str | None) -> None:
        self.resp = resp
        self.fault = fault
        self.eol = "\r\n" if fault == "crlf" else "\n"
        self._batch: list[bytes] = []

    async def raw(self, line: str) -> None:
        await self._out(f"{line}{self.eol}{self.eol}".encode())

    async def log(self, event_id: str, text: str, level: str) -> None:
        """A ``gr.Info``/``gr.Warning`` line, with the fields Gradio 5/6 send."""
        await self.send({"msg": "log", "event_id": event_id, "log": text, "level": level, "duration": 10.0,
                         "visible": True, "title": level.capitalize()})

    async def send(self, msg: dict[str, Any]) -> None:
        text = json.dumps(msg)
        if self.fault == "comments":
            await self._out(f": keep-alive{self.eol}event: message{self.eol}".encode())
        await self.raw(f"data: {text}")

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


@contextlib.contextmanager
def in_thread(space: LocalSpace, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``space`` from a thread with its own loop (for code that runs its own loop or a kernel)."""
    with run_in_thread(serve(space, host, port), "localspace") as url:
        yield url


@contextlib.contextmanager
def run_in_thread(server: AsyncIterator[str], name: str) -> Iterator[str]:
    """Run a server generator (it yields its URL once, and stops when closed) on a loop in a thread."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    url: list[str] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        url.append(loop.run_until_complete(server.__anext__()))
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.aclose())
        loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    if not started.wait(20):
        raise RuntimeError(f"{name} did not start within 20 s")
    try:
        yield url[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(20)


async def serve(space: LocalSpace, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``space`` until the generator is closed; yields its base URL once."""
    runner = web.AppRunner(space.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        bound = sockets[0].getsockname()[1] if sockets else port
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()
