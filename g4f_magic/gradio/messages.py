"""Gradio queue messages → events, without I/O.

Facts from Gradio's server and clients: one SSE stream per ``session_hash`` carries messages for
every event of that session (each tagged ``event_id``, heartbeats and ``close_stream`` untagged);
``process_generating`` streams outputs, the first message full and later ones as lists of
``[action, path, value]`` edits (``[]`` for an output that did not change). ``process_completed``
always carries the full final values, never edits, even after edited previews: Gradio keeps the
last full value of each output and sends it on completion (observed on Gradio 4.44, 5.50 and 6.31;
``tests/contract/recorded/`` holds the streams).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, TypedDict, cast
from urllib.parse import SplitResult, urlsplit, urlunsplit

from ..errors import GenerationError, ResultShapeError, StreamError, one_line
from ..events import Reasoning
from ..untrusted_json import is_int, read_json

__all__ = [
    "Generating",
    "Completed",
    "QueueDecoder",
    "apply_diff",
    "file_url",
    "image_urls",
    "FileData",
    "upload_paths",
]


class FileData(TypedDict, total=False):
    path: str
    url: str | None
    orig_name: str | None
    size: int | None
    mime_type: str | None
    meta: dict[str, str]


@dataclass(frozen=True)
class Generating:
    """The outputs as they stand after a ``process_generating`` message (edits applied)."""

    data: list[Any]


@dataclass(frozen=True)
class Completed:
    """A successful ``process_completed``: the final outputs."""

    data: list[Any]


def _edit(target: Any, path: list[Any], action: str, value: Any) -> Any:
    if not path:
        if action == "replace":
            return value
        if action == "append":
            return target + value
        raise StreamError(f"cannot apply diff action {action!r} at the root")
    parent = target
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if action == "replace":
        parent[key] = value
    elif action == "append":
        parent[key] += value
    elif action == "add":
        if isinstance(parent, list):
            parent.insert(key, value)
        else:
            parent[key] = value
    elif action == "delete":
        del parent[key]
    else:
        raise StreamError(f"unknown diff action {action!r}")
    return target


def apply_diff(obj: Any, diff: Any) -> Any:
    """Apply Gradio's streamed edits; a malformed edit is a ``StreamError``, never a crash."""
    if not isinstance(diff, list):
        raise StreamError("a streamed update is not a list of edits")
    try:
        for edit in diff:
            action, path, value = edit
            if not isinstance(path, list):
                raise StreamError("a streamed edit has no path list")
            obj = _edit(obj, path, action, value)
    except StreamError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise StreamError(f"a streamed edit does not fit the output ({type(exc).__name__})") from exc
    return obj


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _fmt_num(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def queue_message(payload: str) -> dict[str, Any] | None:
    """One SSE ``data`` payload of the queue stream as a message; None for ``null``."""
    try:
        msg = read_json(payload)
    except StreamError as exc:
        if isinstance(exc.__cause__, ValueError):
            raise StreamError(f"the Space sent malformed JSON: {one_line(payload, 80)!r}") from exc.__cause__
        raise StreamError("the Space sent a message nested too deeply to read") from None
    if msg is not None and not isinstance(msg, dict):
        raise StreamError(f"the Space sent a {type(msg).__name__} where a message belongs")
    return msg


class QueueDecoder:
    """Turns one event's queue messages into ``Reasoning`` / ``Generating`` / ``Completed``.

    Errors are raised as the project's own exceptions; heartbeats are throttled so a UI is not
    flooded by a Space that sends one every few milliseconds.
    """

    def __init__(
        self,
        event_id: str | None = None,
        *,
        heartbeat_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.event_id = event_id
        self.done = False
        self._clock = clock
        self._started = clock()
        self._heartbeat_every = heartbeat_every
        self._last_heartbeat = -math.inf
        self._outputs: list[Any] | None = None

    def _elapsed(self) -> float:
        return self._clock() - self._started

    def decode(self, payload: str) -> list[Reasoning | Generating | Completed]:
        """Decode one SSE ``data`` payload."""
        msg = queue_message(payload)
        return [] if msg is None else self.handle(msg)

    def handle(self, msg: dict[str, Any]) -> list[Reasoning | Generating | Completed]:
        kind = msg.get("msg")
        eid = msg.get("event_id")
        if eid is not None and self.event_id is not None and eid != self.event_id:
            return []  # another event of the same session
        if kind == "close_stream":
            if not self.done:
                raise StreamError("stream ended before the result")
            return []
        if kind == "unexpected_error":
            raise GenerationError(one_line(msg.get("message") or "the Space reported an unexpected error"))
        if kind == "estimation":
            return [self._estimation(msg)]
        if kind == "process_starts":
            eta = _num(msg.get("eta"))
            text = f"Started (ETA {eta:.1f}s)" if eta is not None else "Started"
            return [Reasoning(text, "start", eta=eta, elapsed=self._elapsed())]
        if kind == "progress":
            return [self._progress(msg.get("progress_data"))]
        if kind == "log":
            text = one_line(msg.get("log", ""), 2000)
            level = msg.get("level")
            return [Reasoning(text, "log", level=str(level) if level is not None else None, elapsed=self._elapsed())]
        if kind == "heartbeat":
            now = self._clock()
            if now - self._last_heartbeat < self._heartbeat_every:
                return []
            self._last_heartbeat = now
            return [Reasoning("Generating…", "heartbeat", elapsed=now - self._started)]
        if kind == "process_generating":
            return [Generating(self._merge(msg))]
        if kind == "process_completed":
            return [self._completed(msg)]
        return []  # unknown message kinds (new Gradio features) are not errors

    def _estimation(self, msg: dict[str, Any]) -> Reasoning:
        rank = msg.get("rank")
        size = msg.get("queue_size")
        eta = _num(msg.get("rank_eta"))
        pos = cast(int, rank) + 1 if is_int(rank) else None
        qsize = size if is_int(size) else None
        text = "In queue"
        if pos is not None:
            text = f"In queue: position {pos}" + (f" of {qsize}" if qsize else "")
        if eta is not None:
            text += f", ETA {eta:.1f}s"
        return Reasoning(text, "queue", rank=pos, queue_size=qsize, eta=eta, elapsed=self._elapsed())

    def _progress(self, data: Any) -> Reasoning:
        unit_data = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
        if unit_data is None:
            return Reasoning("Generating", "progress", elapsed=self._elapsed())
        index = _num(unit_data.get("index"))
        length = _num(unit_data.get("length"))
        desc = unit_data.get("desc")
        unit = unit_data.get("unit")
        parts = [one_line(desc, 200)] if isinstance(desc, str) and desc.strip() else []
        if index is not None:
            parts.append(_fmt_num(index) + (f"/{_fmt_num(length)}" if length else ""))
        else:
            frac = _num(unit_data.get("progress"))
            if frac is not None:
                parts.append(f"{frac * 100:.0f}%")
        if not parts:
            parts.append("Generating")
        return Reasoning(
            " ".join(parts),
            "progress",
            progress_index=index,
            progress_length=length,
            progress_unit=one_line(unit, 40) if isinstance(unit, str) else None,
            elapsed=self._elapsed(),
        )

    def _merge(self, msg: dict[str, Any]) -> list[Any]:
        output = msg.get("output")
        data = output.get("data") if isinstance(output, dict) else None
        if not isinstance(data, list):
            raise StreamError("a streamed update has no output data")
        if self._outputs is None:
            self._outputs = list(data)
        else:
            if len(data) != len(self._outputs):
                raise StreamError("a streamed update does not match the outputs")
            # Edits work in place; copy so snapshots already handed out stay as they were.
            try:
                self._outputs = [apply_diff(copy.deepcopy(o), d) for o, d in zip(self._outputs, data)]
            except RecursionError:
                raise StreamError("the Space sent an output nested too deeply to update") from None
        return list(self._outputs)

    def _completed(self, msg: dict[str, Any]) -> Completed:
        output = msg.get("output")
        error = output.get("error") if isinstance(output, dict) else None
        if msg.get("success") is False or error is not None:
            found = dict(output) if isinstance(output, dict) else {}
            found.setdefault("title", msg.get("title"))  # Gradio 5/6 also put gr.Error's title at the top
            raise self._error(found)
        if not isinstance(output, dict) or not isinstance(output.get("data"), list):
            raise StreamError("the Space finished without a result")
        data = list(output["data"])  # full values: never apply a completion as edits
        self.done = True
        return Completed(data)

    @staticmethod
    def _error(output: dict[str, Any]) -> Exception:
        error = output.get("error")
        title = output.get("title")
        if error is None:
            return GenerationError("the Space reported an error without details")
        text = str(error)
        return GenerationError(one_line(text) or "the Space reported an error without details").saying(
            text, title if isinstance(title, str) else None)


def _origin(parts: SplitResult) -> tuple[str, str, int | None] | None:
    """Scheme, host and port (the scheme's default written out), without any user:password: one's own
    server behind basic auth builds its URLs without the credentials the user wrote in its address."""
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:  # a port that is not a number
        return None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _under(url: str, root: str) -> str | None:
    """The rest of ``url`` after the Space root ``root`` (scheme and host compared without case, the path
    prefix exactly), or ``None`` when ``url`` is not under it."""
    u, r = urlsplit(url), urlsplit(root.rstrip("/"))
    if _origin(u) is None or _origin(u) != _origin(r):
        return None
    prefix = r.path.rstrip("/")
    if u.path != prefix and not u.path.startswith(prefix + "/"):
        return None
    rest = u.path[len(prefix):]
    return rest + (f"?{u.query}" if u.query else "")


def file_url(value: Any, base: str, file_route: str = "gradio_api/file=", public: str | None = None) -> str:
    """The absolute http(s) URL of a Gradio FileData (or URL string); relative ones join ``base``.

    Gradio serves results under its own root, so a URL anywhere else (an internal address, another site,
    another host's folder in a gateway's ``/<host>/…`` layout) would make this client fetch whatever a
    hostile Space names: refused. ``public`` is the Space's own address when ``base`` is that Space
    through a gateway: a Space behind a proxy builds its URLs from its public host, and those are mapped
    through the gateway, as every other request is."""
    url: Any = None
    if isinstance(value, str):
        if not value.startswith(("http://", "https://", "/")) and "://" not in value:
            raise ResultShapeError("the result has no image URL")  # text where a file belongs
        url = value
    elif isinstance(value, dict):
        url = value.get("url")
        if not url and isinstance(value.get("path"), str):
            url = f"{base.rstrip('/')}/{file_route}{value['path']}"
    if not isinstance(url, str) or not url:
        raise ResultShapeError("the result has no image URL")
    if not urlsplit(url).scheme:  # relative to the Space root, which may sit under a path prefix
        url = f"{base.rstrip('/')}/{url.lstrip('/')}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise StreamError("the Space returned an image URL that is not http(s)")
    parts = _as_reached(parts, urlsplit(base))
    url = urlunsplit(parts)
    if _under(url, base) is not None:
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))  # credentials go by login
    rest = _under(url, public) if public else None
    if rest is not None:
        return base.rstrip("/") + rest
    if _origin(parts) == _origin(urlsplit(base)):
        raise StreamError("the Space pointed an image outside its own address; refused")
    raise StreamError(f"the Space pointed an image at {_elsewhere(parts, urlsplit(base))}; refused")


def _as_reached(url: SplitResult, base: SplitResult) -> SplitResult:
    """``url`` over https when the Space is reached over https and ``url`` names the same host and port over
    http: a TLS front that does not tell Gradio it is on https (no ``X-Forwarded-Proto``: stunnel, a default
    ``proxy_pass``) makes Gradio write its own file URLs that way. Never the other way round."""
    try:
        same_port = url.port == base.port
    except ValueError:  # a port that is not a number
        return url
    if (url.scheme.lower(), base.scheme.lower()) == ("http", "https") and same_port \
            and (url.hostname or "").lower() == (base.hostname or "").lower():
        return url._replace(scheme="https")
    return url


def _elsewhere(url: SplitResult, base: SplitResult) -> str:
    """Where an image URL points that is not the Space: what differs from the Space's own address."""
    host = one_line(url.hostname or "?", 80)
    if host.lower() != (base.hostname or "").lower():
        return f"another host ({host})"
    if _origin(url) is None or _origin(base) is None:
        return f"another port of {host}"
    got, want = cast(tuple[str, str, int], _origin(url)), cast(tuple[str, str, int], _origin(base))
    if got[2] != want[2]:
        return f"another port of {host} ({got[2]}, not {want[2]})"
    return f"{got[0]}, not {want[0]}, on {host}"


def upload_paths(reply: Any) -> list[str]:
    """The server paths of a ``/gradio_api/upload`` reply."""
    if not isinstance(reply, list) or not reply or not all(isinstance(p, str) and p for p in reply):
        raise StreamError("the upload reply is not a list of server paths")
    return reply


def image_urls(value: Any, base: str, file_route: str = "gradio_api/file=",
               public: str | None = None) -> tuple[str, ...]:
    """URLs of a gallery (``[{"image": FileData, "caption"}]``), a list of files, or one file."""
    items = value if isinstance(value, list) else [value]
    urls = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("image"), (dict, str)):
            item = item["image"]
        elif isinstance(item, (list, tuple)) and item:  # older galleries: [file, caption]
            item = item[0]
        urls.append(file_url(item, base, file_route, public))
    if not urls:
        raise ResultShapeError("the result has no image")
    return tuple(urls)
