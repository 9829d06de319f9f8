"""A local stand-in for the hub and the three Spaces, speaking their wire protocol on loopback.

Layout (the gateway form of :mod:`g4f_magic.spaces.endpoints`): ``/{original host}/{original path}``, so
``G4F_MAGIC_ENDPOINT=http://127.0.0.1:PORT`` points the provider here. It plays the happy paths as
real Gradio does (``tests/contract/recorded`` pins them); everything received is recorded in
:attr:`LocalSpace.received` (``GET /_localspace/received``). The faults of SPEC §8 live with the tests
(``tests/support/faultyspace.py``), which subclass this and override its hooks (the ``_hook`` methods).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import io
import json
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, AsyncGenerator, Iterator, cast

from aiohttp import BodyPartReader, web

from .images import placeholder
from .providers import ProviderStandIn

__all__ = ["LocalSpace", "Pace", "SPACE_HOSTS", "HUB_HOST", "Received", "Job", "Writer", "serve", "in_thread",
           "run_in_thread"]

HUB_HOST = "huggingface.co"
SPACE_HOSTS = {
    "roxky-janus-pro-7b.hf.space": "janus",
    "deepseek-ai-janus-pro-7b.hf.space": "janus",
    "roxky-flux-1-dev.hf.space": "flux_dev",
    "roxky-g4f-flux.hf.space": "predict",
    # the official Spaces the routes fall back to (g4f_magic.mirrors)
    "black-forest-labs-flux-1-dev.hf.space": "flux_dev",
    "black-forest-labs-flux-1-schnell.hf.space": "schnell",
}
OWN_DUPLICATE = "you-flux-1-dev.hf.space"  # a user's own duplicate of FLUX.1-dev (the tests' mirrors setting)
SPACE_HOSTS[OWN_DUPLICATE] = "flux_dev"
# the official FLUX.1-schnell Space's queue function, found by its api_name in /config:
# infer(prompt, seed, randomize_seed, width, height, num_inference_steps) → (image, seed)
SCHNELL_FN, SCHNELL_TRIGGER = 2, 7
SCHNELL_INPUTS = ("Prompt", "Seed", "Randomize seed", "Width", "Height", "Number of inference steps")
MAX_FILES = 256  # a long-running local Space serves recent files, like Gradio's cache
STANDIN = "g4f_magic local Space: a local stand-in for testing, not a model"

@dataclass
class Pace:
    """How long a run's parts take. The default looks like FLUX.1-dev on a busy ZeroGPU Space at a glance:
    a few seconds in the queue with the rank counting down, about four seconds of sampling at one progress
    message and one preview per step (FLUX.1-dev yields a preview at every step), an answer streamed word by
    word. :meth:`fast` is the tests': no wait in the queue, a progress message every ``stride`` steps, two
    previews."""

    step: float = 0.15  # seconds after each progress message
    queue: float = 2.4  # seconds in the queue before the run starts, the rank counting down from ``ahead``
    ahead: int = 3
    stride: int = 1  # steps between progress messages (a run of fewer than 10 steps reports every step)
    previews: int | None = None  # spread evenly over the steps; None: one per step
    word: float = 0.04  # seconds between a streamed answer's words

    @classmethod
    def fast(cls, step: float = 0.005) -> "Pace":
        return cls(step=step, queue=0.0, ahead=1, stride=7, previews=2, word=0.0)

    def preview_steps(self, steps: int) -> set[int]:
        """The steps after which a preview goes out."""
        if self.previews is None:
            return set(range(1, steps + 1))
        return {max(1, round(steps * (j + 1) / (self.previews + 1))) for j in range(self.previews)}


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
    fault: str | None  # the misbehaviour a test Space picked for this job (None here)
    host: str
    fn_index: int = 0


def _jwt(sub: str, ttl: float) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    body = part({"sub": sub, "exp": int(time.time() + ttl), "onBehalfOf": "local-standin"})
    sig = base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{body}.{sig}"


_MAKERS = {"janus": "Janus-Pro-7B", "flux_dev": "FLUX.1-dev", "predict": "FLUX.1-schnell", "schnell": "FLUX.1-schnell"}


def _maker(host: str) -> str:
    """Who draws a Space's pictures, as they say: its model for the Spaces this stands in for, else its host."""
    return _MAKERS.get(SPACE_HOSTS.get(host, ""), host)


def _peer_port(request: web.Request) -> int | None:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return peer[1] if isinstance(peer, tuple) and len(peer) > 1 else None


class LocalSpace:
    """State and handlers; :meth:`app` builds the ``web.Application``."""

    def __init__(self, latency: float = 0.0, pace: Pace | None = None, token_ttl: float = 600.0) -> None:
        self.latency = latency
        self.pace = pace or Pace()
        self.token_ttl = token_ttl
        self.received: list[Received] = []
        self.disconnects: list[str] = []
        self.cancels: list[str] = []  # event ids named in /cancel requests
        self.tokens_issued: list[str] = []
        # HF tokens the hub knows → their whoami-v2 answer; any other hf_… token is a free account that may
        # read its quota. ``{"billing": False}`` stands for a fine-grained token without that permission.
        self.accounts: dict[str, dict[str, Any]] = {}
        self.quota_resets_in = 3600.0  # seconds until an account's ZeroGPU quota is back, as the hub says
        self._jobs: dict[str, list[Job]] = {}  # session hash → joined, not yet streamed
        self.known: set[str] = set()  # session hashes that joined: Gradio keeps them after their stream ends
        self._arrivals: dict[str, asyncio.Event] = {}  # a known session's stream waiting for its next join
        self.waited_streams = 0  # streams that were open before their join came
        self._streams: dict[str, tuple["Writer", dict[str, Any]]] = {}  # session → its writer, running job
        # path → (bytes, content type, sent without a Content-Length); the newest MAX_FILES
        self._files: OrderedDict[str, tuple[bytes, str, bool]] = OrderedDict()
        self._uploads: dict[str, bytes] = {}
        self._load: dict[str, set[Any]] = {}  # host → the events (and /run/predict calls) joined, not yet ended
        self.peak: dict[str, int] = {}  # host → the most of them at once, since the last reset
        self.providers = ProviderStandIn(lambda request, host: self._base(request, host))  # the Hub's router and Inference Providers (localspace/providers.py)

    def _began(self, host: str, key: Any) -> None:
        load = self._load.setdefault(host, set())
        load.add(key)
        self.peak[host] = max(self.peak.get(host, 0), len(load))

    def _ended(self, host: str, key: Any) -> None:
        self._load.get(host, set()).discard(key)

    # -- control -------------------------------------------------------------------------------
    def reset(self) -> None:
        self.received.clear()
        self.providers.reset()
        self.disconnects.clear()
        self.cancels.clear()
        self.peak.clear()

    def requests(self, host: str | None = None, path: str | None = None) -> list[Received]:
        return [r for r in self.received if (host is None or r.host == host) and (path is None or r.path == path)]

    async def wait_disconnect(self, timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while not self.disconnects and time.monotonic() < end:
            await asyncio.sleep(0.01)
        return bool(self.disconnects)

    # -- hooks: a test Space overrides these to misbehave; here they play it straight -----------
    def _pick_hook(self, kind: str, prompt: Any = None) -> str | None:
        """The misbehaviour a request of ``kind`` follows (a page, a join, a stream, a file…)."""
        return None

    async def _point_hook(self, w: "Writer", job: Job, point: str) -> bool:
        """Called at each point of a stream (begin, queued, started, logged, finishing, completed);
        False ends the stream there."""
        return True

    def _steps_hook(self, job: Job) -> tuple[int, int, float]:
        """Progress steps, the stride between messages, and the delay after each."""
        steps = 4
        if job.kind == "flux_dev":  # infer(prompt, seed, randomize, width, height, guidance, steps)
            steps = job.data[6] if len(job.data) > 6 and isinstance(job.data[6], int) and 0 < job.data[6] <= 200 else 28
        if job.kind == "schnell":  # infer(prompt, seed, randomize, width, height, steps)
            steps = job.data[5] if len(job.data) > 5 and isinstance(job.data[5], int) and 0 < job.data[5] <= 50 else 4
        return steps, 1 if steps < 10 else self.pace.stride, self.pace.step

    def _failure_hook(self, job: Job) -> dict[str, Any] | None:
        """A failed completion's fields (``output``, ``title``) instead of the result."""
        return None

    def _file_url_hook(self, fd: dict[str, Any], job: Job, base: str) -> dict[str, Any]:
        return {**fd, "url": f"{base}/gradio_api/file={fd['path']}"}

    def _answer_hook(self, job: Job) -> str:
        return self._answer(job.data[0], str(job.data[1]))

    def _file_hook(self, data: bytes, ext: str, path: str, prompt: str, label: str) -> tuple[bytes, str, str, bool]:
        """(served bytes, extension, path, sent without a Content-Length) for a result file."""
        return data, ext, path, False

    def _writer_hook(self, resp: web.StreamResponse, job: Job | None) -> "Writer":
        return Writer(resp)

    # -- app -----------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record], client_max_size=8 * 1024 * 1024)
        app.router.add_get("/", self.index)
        app.router.add_get("/_localspace/received", self.ctl_received)
        app.router.add_post("/_localspace/reset", self.ctl_reset)
        app.router.add_get(f"/{HUB_HOST}/spaces/{{owner}}/{{name}}", self.space_page)
        app.router.add_get(f"/{HUB_HOST}/api/spaces/zero-gpu/quota", self.zero_gpu_quota)
        app.router.add_get(f"/{HUB_HOST}/api/spaces/{{owner}}/{{name}}/jwt", self.jwt)
        app.router.add_get(f"/{HUB_HOST}/api/whoami-v2", self.whoami)
        self.providers.routes(app)
        app.router.add_get("/{host}/", self.space_index)
        app.router.add_post("/{host}/gradio_api/queue/join", self.join)
        app.router.add_get("/{host}/gradio_api/queue/data", self.data)
        app.router.add_post("/{host}/gradio_api/upload", self.upload)
        app.router.add_post("/{host}/gradio_api/cancel", self.cancel)
        app.router.add_get("/{host}/gradio_api/file={path:.+}", self.file)
        app.router.add_get("/{host}/file={path:.+}", self.file)
        app.router.add_post("/{host}/run/predict", self.predict)
        app.router.add_get("/{host}/config", self.config)
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

    def _base(self, request: web.Request, host: str) -> str:
        return f"http://{request.host}/{host}"

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

    async def config(self, request: web.Request) -> web.Response:
        """The official FLUX.1-schnell Space's ``/config``, the part a client reads to find ``infer``."""
        self._space(request, "schnell")
        components = [{"id": 10 + n, "type": "textbox", "props": {"label": label}}
                      for n, label in enumerate(SCHNELL_INPUTS)]
        deps = [{"id": 0, "api_name": "example", "targets": [[1, "click"]], "inputs": [10]},
                {"id": 1, "api_name": "example_1", "targets": [[3, "click"]], "inputs": [10]},
                {"id": SCHNELL_FN, "api_name": "infer", "targets": [[SCHNELL_TRIGGER, "click"], [10, "submit"]],
                 "inputs": [c["id"] for c in components], "outputs": [20, 11]}]
        return web.json_response({"version": "5.25.2", "components": components, "dependencies": deps})

    async def space_index(self, request: web.Request) -> web.Response:
        host = self._space(request, "janus", "flux_dev", "predict", "schnell")
        return web.Response(text=f"<!DOCTYPE html><title>{html.escape(host)}</title><p>{html.escape(STANDIN)}</p>",
                            content_type="text/html")

    async def space_page(self, request: web.Request) -> web.Response:
        return self._page(f"{request.match_info['owner']}/{request.match_info['name']}")

    def _page(self, space: str, with_token: bool = True, filler: str = "") -> web.Response:
        """The Space's page on the hub, its ZeroGPU token and session uuid in the hydration props."""
        props = {"space": space, "note": STANDIN}
        if with_token:
            token = _jwt(space, self.token_ttl)
            self.tokens_issued.append(token)
            props.update(token=token, sessionUuid=str(uuid.uuid5(uuid.NAMESPACE_URL, space)))
        data = html.escape(json.dumps(props, separators=(",", ":")), quote=True)
        return web.Response(
            text=f'<!DOCTYPE html><html><body>{filler}<div class="SVELTE_HYDRATER" data-props="{data}"></div>'
                 f"<p>{html.escape(STANDIN)}</p></body></html>",
            content_type="text/html",
        )

    def account(self, request: web.Request) -> dict[str, Any] | None:
        """The account an ``Authorization: Bearer hf_…`` header names, as the hub's whoami-v2 shows it."""
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token.startswith("hf_"):
            return None
        known = self.accounts.get(token, {})
        return {"type": "user", "name": known.get("name", "local-user"), "isPro": bool(known.get("pro")),
                "auth": {"type": "access_token", "accessToken": {"displayName": "local", "role": known.get(
                    "role", "read")}}, "billing": known.get("billing", True)}

    async def whoami(self, request: web.Request) -> web.Response:
        account = self.account(request)
        if account is None:
            return web.json_response({"error": "Invalid credentials in Authorization header"}, status=401)
        return web.json_response({k: v for k, v in account.items() if k != "billing"})

    async def zero_gpu_quota(self, request: web.Request) -> web.Response:
        account = self.account(request)
        if account is None:
            return web.json_response({"error": "Invalid credentials in Authorization header"}, status=401)
        if not account["billing"]:
            return web.json_response({"error": "This token does not have the permission to read billing usage"},
                                     status=403)
        base = 2400 if account["isPro"] else 300
        return web.json_response({"base": base, "current": base - 90, "overquotaUsed": 0,
                                  "resetsAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                            time.gmtime(time.time() + self.quota_resets_in))})

    async def jwt(self, request: web.Request) -> web.Response:
        if "token=" not in request.headers.get("cookie", "") and self.account(request) is None:
            return web.json_response({"error": "Invalid credentials in Authorization header"}, status=401)
        token = _jwt(f"{request.match_info['owner']}/{request.match_info['name']}#pro", self.token_ttl)
        self.tokens_issued.append(token)
        return web.json_response({"token": token, "accessToken": None})

    # -- queue API ------------------------------------------------------------------------------
    async def join(self, request: web.Request) -> web.Response:
        host = self._space(request, "janus", "flux_dev", "schnell")
        body = await request.json()
        data = body.get("data") if isinstance(body, dict) else None
        fn = body.get("fn_index") if isinstance(body, dict) else None
        kinds: dict[tuple[str, Any], str] = {("janus", 2): "chat", ("janus", 3): "janus_image",
                                             ("flux_dev", 2): "flux_dev", ("schnell", SCHNELL_FN): "schnell"}
        kind = kinds.get((SPACE_HOSTS[host], fn))
        session = body.get("session_hash") if isinstance(body, dict) else None
        if kind is None or not isinstance(data, list) or not isinstance(session, str):
            return web.json_response({"detail": "Invalid fn_index or body"}, status=422)
        prompt = data[1] if kind == "chat" else data[0]
        event_id = uuid.uuid4().hex
        self._jobs.setdefault(session, []).append(
            Job(kind, event_id, data, self._pick_hook("stream", prompt), host, cast(int, fn)))
        self.known.add(session)
        self._began(host, event_id)
        if session in self._arrivals:
            self._arrivals[session].set()
        return web.json_response({"event_id": event_id})

    async def data(self, request: web.Request) -> web.StreamResponse:
        host = self._space(request, "janus", "flux_dev", "schnell")
        session = request.query.get("session_hash", "")
        jobs = self._jobs.pop(session, [])
        resp = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
        await resp.prepare(request)
        writer = self._writer_hook(resp, jobs[0] if jobs else None)
        running: dict[str, Any] = {}
        self._streams[session] = (writer, running)
        try:
            if not jobs and session in self.known:  # as Gradio: a known session's stream waits for a join
                self.waited_streams += 1
                arrival = self._arrivals[session] = asyncio.Event()
                try:
                    while not arrival.is_set():  # aiohttp does not cancel a handler whose client left
                        if request.transport is None or request.transport.is_closing():
                            self._client_left(session)
                            return resp
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(arrival.wait(), 0.05)
                finally:
                    self._arrivals.pop(session, None)
                jobs = self._jobs.pop(session, [])
            if not jobs:
                await writer.send({"msg": "unexpected_error", "message": "404: Not Found", "session_not_found": True})
            # As Gradio does: every event of the session on this one stream, those joined while it is
            # open included, one after another; close_stream once the session has none left.
            while jobs:
                for job in jobs:
                    running["job"] = job
                    running["task"] = task = asyncio.ensure_future(self._run(writer, job, self._base(request, host)))
                    try:
                        await asyncio.wait({task})
                    finally:
                        if not task.done():  # this handler itself is cancelled: the client went away
                            task.cancel()
                        self._ended(job.host, job.event_id)
                    running.clear()
                    if task.cancelled():  # stopped by /cancel; the stream goes on
                        continue
                    if not task.result():
                        await writer.flush()
                        return resp  # the scenario cut the stream
                jobs = self._jobs.pop(session, [])
            await writer.send({"msg": "close_stream", "event_id": None})
            await writer.flush()
            await resp.write_eof()
        except asyncio.CancelledError:
            self._client_left(session)
            raise
        except ConnectionResetError:  # the client went away: expected (timeouts, Stop, interrupts)
            self._client_left(session)
        finally:
            if self._streams.get(session, (None,))[0] is writer:
                del self._streams[session]
        return resp

    def _client_left(self, session: str) -> None:
        """As Gradio does when a stream's client goes: every event of the session is dropped."""
        self.disconnects.append(session)
        for job in self._jobs.pop(session, []):
            self._ended(job.host, job.event_id)

    async def cancel(self, request: web.Request) -> web.Response:
        """Gradio's ``/cancel``: it stops the session's *running* job of that function, whichever event that
        is, drops the named event from the queue, and completes the named event on the stream."""
        self._space(request, "janus", "flux_dev")
        body = await request.json()
        session, fn, eid = body.get("session_hash"), body.get("fn_index"), body.get("event_id")
        self.cancels.append(eid)
        writer, running = self._streams.get(session, (None, {}))
        queued = self._jobs.get(session, [])
        pending = any(j.event_id == eid for j in queued) or running.get("job") is not None and running["job"].event_id == eid
        if running.get("job") is not None and running["job"].fn_index == fn:
            running["task"].cancel()
        self._jobs[session] = [j for j in queued if j.event_id != eid]
        for job in queued:
            if job.event_id == eid:
                self._ended(job.host, eid)
        if writer is not None and pending:
            with contextlib.suppress(ConnectionError):  # the stream's client may be gone already
                await writer.send({"msg": "process_completed", "event_id": eid, "output": {}, "success": True})
        return web.json_response({"success": True})

    def _image_file(self, host: str, prompt: str, seed: int, w: int, h: int, fmt: str, label: str = "") -> dict[str, Any]:
        data = placeholder(prompt, seed, w, h, fmt, label, by=_maker(host))
        ext = fmt.lower()
        path = f"/tmp/gradio/{hashlib.sha256(data).hexdigest()[:32]}/image.{ext}"
        served, ext, path, unsized = self._file_hook(data, ext, path, prompt, label)
        self._files[path] = (served, f"image/{ext}", unsized)
        self._files.move_to_end(path)
        while len(self._files) > MAX_FILES:
            self._files.popitem(last=False)
        return {"path": path, "url": None, "size": len(data), "orig_name": f"image.{ext}",
                "mime_type": f"image/{ext}", "is_stream": False, "meta": {"_type": "gradio.FileData"}}

    async def _run(self, w: "Writer", job: Job, base: str) -> bool:
        """Play one job's messages as Gradio does; False when a hook cut the stream."""
        eid, pace = job.event_id, self.pace
        if not await self._point_hook(w, job, "begin"):
            return False
        steps, stride, delay = self._steps_hook(job)
        run_eta = round(steps / stride * delay, 1) or 2.0
        ahead = max(1, pace.ahead)
        for rank in range(ahead, -1, -1):  # the rank counts down as the events ahead finish
            await w.send({"msg": "estimation", "event_id": eid, "rank": rank, "queue_size": rank + 1,
                          "rank_eta": round((rank + 0.5) * (pace.queue / ahead or 1.0), 1)})
            if rank == ahead and not await self._point_hook(w, job, "queued"):
                return False
            if rank:
                await asyncio.sleep(pace.queue / ahead)
        await w.send({"msg": "process_starts", "event_id": eid, "eta": run_eta})
        if not await self._point_hook(w, job, "started"):
            return False
        # A failure as Gradio 5/6 send it (tests/contract/recorded): gr.Error's fields in ``output``
        # and its title at the top too; an error hidden by show_error=False is ``{"error": null}``.
        failure = self._failure_hook(job)
        previews = pace.preview_steps(steps) if job.kind == "flux_dev" and failure is None else set()
        sent = 0
        for i in range(steps + 1):
            if i % stride == 0 or i == steps:
                await w.send({"msg": "progress", "event_id": eid, "progress_data": [
                    {"index": i, "length": steps, "unit": "steps", "progress": None,
                     "desc": "Sampling" if job.kind == "flux_dev" else None}]})
                await asyncio.sleep(delay)
            if i in previews:  # FLUX.1-dev yields its preview as the step ends
                await self._preview(w, job, base, sent)
                sent += 1
        await w.log(eid, "Model loaded on the local stand-in", "info")
        if not await self._point_hook(w, job, "logged"):
            return False
        await w.send({"msg": "heartbeat"})
        await w.send({"msg": "heartbeat"})
        if not await self._point_hook(w, job, "finishing"):
            return False
        if failure is not None:
            await w.send({"msg": "process_completed", "event_id": eid, "success": False, **failure})
            return True
        output = await self._outputs(w, job, base)
        await w.send({"msg": "process_completed", "event_id": eid, "success": True, "title": None,
                      "output": {"data": output, "is_generating": False, "duration": 1.2, "average_duration": 1.2,
                                 "render_config": None, "changed_state_ids": []}})
        return await self._point_hook(w, job, "completed")

    async def _preview(self, w: "Writer", job: Job, base: str, sent: int) -> None:
        """FLUX.1-dev's ``yield image, seed``: the first in full, the next ones as edits of it, as Gradio
        sends a generator's outputs (the seed unchanged)."""
        prompt, seed, width, height = str(job.data[0]), int(job.data[1]), int(job.data[3]), int(job.data[4])
        fd = self._file_url_hook(self._image_file(job.host, prompt, seed, max(32, width // 8), max(32, height // 8),
                                                  "WEBP", f"preview {sent + 1}"), job, base)
        data: list[Any] = [fd, seed] if not sent else \
            [[["replace", [k], fd[k]] for k in ("path", "url", "size") if k in fd], []]
        await w.send({"msg": "process_generating", "event_id": job.event_id, "success": True,
                      "output": {"data": data, "is_generating": True}})

    async def _outputs(self, w: "Writer", job: Job, base: str) -> list[Any]:
        """Stream text where the real Space does; return the final outputs."""
        eid, data = job.event_id, job.data

        def url(fd: dict[str, Any]) -> dict[str, Any]:
            return self._file_url_hook(fd, job, base)

        if job.kind == "chat":
            answer = self._answer_hook(job)
            words = answer.split(" ")
            await w.send({"msg": "process_generating", "event_id": eid, "success": True,
                          "output": {"data": [words[0]], "is_generating": True}})
            for word in words[1:]:
                await asyncio.sleep(self.pace.word)
                await w.send({"msg": "process_generating", "event_id": eid, "success": True,
                              "output": {"data": [[["append", [], " " + word]]], "is_generating": True}})
            return [answer]  # Gradio's completion carries full values, even after streamed edits
        if job.kind == "janus_image":
            prompt, seed = str(data[0]), int(data[1])
            return [[{"image": url(self._image_file(job.host, prompt, seed + i, 384, 384, "WEBP", f"#{i + 1}/5")),
                      "caption": None} for i in range(5)]]
        prompt, seed, width, height = str(data[0]), int(data[1]), int(data[3]), int(data[4])
        return [url(self._image_file(job.host, prompt, seed, width, height, "WEBP")), seed]

    def _answer(self, image: Any, prompt: str) -> str:
        turns = prompt.count("\nUser:") + prompt.startswith("User:")
        question = prompt.rsplit("User:", 1)[-1].split("\nAssistant:", 1)[0].strip()
        quoted = question if len(question) <= 300 else question[:299] + "…"  # a quoted document is not echoed whole
        text = f"Local stand-in reply (not a model). You asked: {quoted}"
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
        reader = await request.multipart()
        paths = []
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name != "files":
                continue
            raw = await part.read()
            path = f"/tmp/gradio/{hashlib.sha256(raw).hexdigest()[:32]}/{part.filename or 'upload'}"
            self._uploads[path] = raw
            paths.append(path)
        return web.json_response(paths)

    async def file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        item = self._files.get(path) or self._files.get("/" + path.lstrip("/"))
        if item is None:
            return web.json_response({"detail": "File not found"}, status=404)
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
        fd = self._image_file(host, prompt, seed, width, height, "PNG")
        fd["url"] = f"{self._base(request, host)}/file={fd['path']}"
        self._began(host, id(request))
        try:
            await asyncio.sleep(self.pace.queue + 4 * self.pace.step)  # a legacy call: no queue, no stream
        finally:
            self._ended(host, id(request))
        return web.json_response({"data": [fd, seed], "is_generating": False, "duration": 0.5})

    # -- control endpoints (for a Space in another process) -------------------------------------
    async def ctl_received(self, request: web.Request) -> web.Response:
        return web.json_response([asdict(r) for r in self.received])

    async def ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})


class Writer:
    """Writes a queue stream's messages as SSE (a test Space's writer bends the framing)."""

    eol = "\n"

    def __init__(self, resp: web.StreamResponse) -> None:
        self.resp = resp

    async def raw(self, line: str) -> None:
        await self._out(f"{line}{self.eol}{self.eol}".encode())

    async def log(self, event_id: str, text: str, level: str) -> None:
        """A ``gr.Info``/``gr.Warning`` line, with the fields Gradio 5/6 send."""
        await self.send({"msg": "log", "event_id": event_id, "log": text, "level": level, "duration": 10.0,
                         "visible": True, "title": level.capitalize()})

    async def send(self, msg: dict[str, Any]) -> None:
        await self.raw(f"data: {json.dumps(msg)}")

    async def _out(self, data: bytes) -> None:
        await self.resp.write(data)

    async def flush(self) -> None:
        return None


@contextlib.contextmanager
def in_thread(space: LocalSpace, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``space`` from a thread with its own loop (for code that runs its own loop or a kernel)."""
    with run_in_thread(serve(space, host, port), "localspace") as url:
        yield url


@contextlib.contextmanager
def run_in_thread(server: AsyncGenerator[str, None], name: str) -> Iterator[str]:
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


async def serve(space: LocalSpace, host: str = "127.0.0.1", port: int = 0) -> AsyncGenerator[str, None]:
    """Run ``space`` until the generator is closed; yields its base URL once."""
    runner = web.AppRunner(space.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr,attr-defined]
        bound = sockets[0].getsockname()[1] if sockets else port
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()
