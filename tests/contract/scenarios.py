"""Scenarios played against real Gradio (``record.py``) and against the local Space (``test_recorded``).

Each names the request as the provider sends it, the prompt that steers the contract app, and the
prompt that steers the local Space to the same behaviour. :func:`capture` reads the raw queue
messages (not through the client: the point is what is on the wire); :func:`shape` reduces a stream
to what must agree: message order, ids, success, and per output full value / edits / unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Scenario:
    app: str  # apps.py app name
    fn_index: int
    trigger_id: int
    data: tuple[Any, ...]
    prompt_at: int  # where the prompt sits in data
    real_prompt: str
    local_prompt: str
    preopened: bool = False  # a known session's stream opened before the join (after a first event)


SCENARIOS = {
    "flux_dev_generator": Scenario("flux_dev", 2, 4, ("", 42, False, 256, 256, 3.5, 6), 0,
                                   "a lighthouse", "a lighthouse"),
    "janus_chat_stream": Scenario("janus", 2, 10, (None, "", 7, 0.95, 0.1), 1,
                                  "what is a lighthouse?", "what is a lighthouse?"),
    "janus_gallery": Scenario("janus", 3, 20, ("", 1234, 5, 1), 0, "a red bicycle", "a red bicycle"),
    "gr_error": Scenario("flux_dev", 2, 4, ("", 1, False, 256, 256, 3.5, 2), 0,
                         "gr.Error please", "[fault:error_string]"),
    "quota": Scenario("janus", 3, 20, ("", 1000, 5, 1), 0, "quota", "[fault:quota_new]"),
    "error_hidden": Scenario("janus", 3, 20, ("", 1000, 5, 1), 0, "plain exception", "[fault:error_null]"),
    "log_lines": Scenario("janus", 3, 20, ("", 1000, 5, 1), 0, "warn and info", "[fault:log_html]"),
    "preopened_stream": Scenario("flux_dev", 2, 4, ("", 43, False, 256, 256, 3.5, 3), 0,
                                 "a lighthouse", "a lighthouse", preopened=True),
}

TIMINGS = {"duration", "average_duration", "rank_eta", "eta", "cache_duration", "avg_time"}


def request_body(sc: Scenario, prompt: str, session_hash: str) -> dict[str, Any]:
    data = list(sc.data)
    data[sc.prompt_at] = prompt
    return {"data": data, "event_data": None, "fn_index": sc.fn_index, "trigger_id": sc.trigger_id,
            "session_hash": session_hash}


async def capture(http: aiohttp.ClientSession, base: str, sc: Scenario, prompt: str) -> list[dict[str, Any]]:
    """Join, then every message of the session's ``queue/data`` stream until it ends. ``preopened``: a
    first event streamed to its end, then the stream opened (its headers in) before the next join."""
    session_hash = f"recorded{'02' if sc.preopened else '01'}"

    async def join() -> None:
        async with http.post(f"{base}/gradio_api/queue/join", json=request_body(sc, prompt, session_hash)) as r:
            assert r.status == 200, await r.text()

    await join()
    messages = await _read(http, base, session_hash)
    if sc.preopened:  # the Space knows the session now: open its stream, then join
        messages = await _read(http, base, session_hash, join)
    return messages


async def _read(http: aiohttp.ClientSession, base: str, session_hash: str, after_headers: Any = None
                ) -> list[dict[str, Any]]:
    messages = []
    async with http.get(f"{base}/gradio_api/queue/data", params={"session_hash": session_hash}) as r:
        if after_headers is not None:
            await after_headers()
        buffer = b""
        async for chunk in r.content.iter_any():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.startswith(b"data:"):
                    messages.append(json.loads(line[5:]))
    return messages


def normalised(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable for a diff: ids, file paths, hosts and timings replaced; heartbeats dropped; one progress
    message per run of them."""
    ids: dict[str, str] = {}

    def clean(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: clean(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if key == "event_id" and isinstance(value, str):
            return ids.setdefault(value, f"<event {len(ids) + 1}>")
        if key in TIMINGS and isinstance(value, (int, float)):
            return 1.0
        if isinstance(value, str):
            value = re.sub(r"(https?://)[^/\s\"]+", r"\1<host>", value)
            value = re.sub(r"/tmp/[^\s\"]*?/([^/\s\"]+)$", r"<tmp>/\1", value)
        return value

    kept = [clean(m) for m in messages if m.get("msg") != "heartbeat"]
    # Gradio throttles progress by time, so how many arrive in a row varies: keep the last of each run
    return [m for i, m in enumerate(kept)
            if not (m.get("msg") == "progress" and i + 1 < len(kept) and kept[i + 1].get("msg") == "progress")]


def _output(value: Any) -> str:
    if isinstance(value, list) and not value:
        return "unchanged"
    if isinstance(value, list) and all(isinstance(e, list) and len(e) == 3 and isinstance(e[0], str)
                                       and isinstance(e[1], list) for e in value):
        return "edits"
    if isinstance(value, list) and value and all(isinstance(e, dict) and "image" in e for e in value):
        return "gallery of " + _output(value[0]["image"])
    if isinstance(value, dict) and "path" in value:
        url = value.get("url") or ""
        kind = "absolute" if re.match(r"https?://", url) else ("relative" if url else "no")
        return f"file ({kind} url)"
    return type(value).__name__


def shape(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What client and local Space must agree on; progress and log lines (timing, app) are left out
    here and compared by their keys instead. Consecutive repeats collapse."""
    out: list[tuple[Any, ...]] = []
    for m in messages:
        kind = m.get("msg")
        if kind in ("heartbeat", "progress", "log"):
            continue
        output = m.get("output") if isinstance(m.get("output"), dict) else {}
        if "data" in output:
            detail: Any = tuple(_output(v) for v in output["data"])
        elif "error" in output:
            detail = ("error", type(output["error"]).__name__)
        else:
            detail = None
        item = (kind, type(m.get("event_id")).__name__, m.get("success"), detail)
        if not out or out[-1] != item:
            out.append(item)
    return out


def keys_of(messages: list[dict[str, Any]], kind: str) -> set[str]:
    return {k for m in messages if m.get("msg") == kind for k in m}
