"""A stand-in for ZeroGPU's device API, so the ``spaces`` package's own code decides and words each refusal.

On a ZeroGPU Space, ``spaces.zero.client.schedule()`` asks the device API (``SPACES_ZERO_DEVICE_API_URL``)
for a GPU: ``POST /schedule`` answers 200 with a GPU, 429 with ``{"left", "wait"}`` and the
``X-Authenticated`` / ``X-Approve-Result`` headers, an event stream while queued (``ping``, then
``failed`` or ``succeeded``), 503 when no GPU is free, 401 when the proxy token expired
(``spaces/zero/api.py``). This server answers as the scenario says; ``schedule()`` then raises or toasts
exactly what it raises on Hugging Face. Runs in the Gradio venv under test (``apps.py`` imports it).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GPU = {"idle": True, "nvidiaIndex": 0, "nvidiaUUID": "GPU-contract", "allowToken": "allow-contract"}

# scenario → (status, headers, body or list of stream events, does the caller carry an X-IP-Token?)
SCENARIOS: dict[str, tuple[int, dict[str, str], Any, bool]] = {
    "quota-anonymous": (429, {}, {"left": 41, "wait": 754}, True),
    "quota-free": (429, {"X-Authenticated": "regular"}, {"left": 12, "wait": 93784}, True),
    "quota-pro": (429, {"X-Authenticated": "pro"}, {"left": 3, "wait": 5.5}, True),
    "runs": (429, {"X-Authenticated": "regular"}, {"left": 0, "wait": 0}, True),
    "space-limit": (429, {}, {"left": 0, "wait": 754}, False),
    "pending": (429, {"X-Approve-Result": "pending-overquota-exceeded"}, {"left": 30, "wait": 0}, True),
    "illegal-duration": (429, {"X-Authenticated": "regular"}, {"left": 300, "wait": -1}, True),
    "queue-timeout": (200, {"X-Queuing-Reason": "node"}, ["ping", "failed"], True),
    "queue-timeout-anonymous": (200, {"X-Queuing-Reason": "node"}, ["ping", "failed"], False),
    "no-gpu": (503, {}, None, True),
    "expired": (401, {}, None, True),
    "queued": (200, {"X-Queuing-Reason": "node"}, ["ping", "succeeded"], True),
    "slot": (200, {"X-Queuing-Reason": "concurrency"}, ["ping", "succeeded"], True),
    "ip-fallback": (200, {}, GPU, True),
    "granted": (200, {}, GPU, True),
}


def ip_token(error: str | None = None) -> str:
    """An X-IP-Token as the edge mints it (only its payload is read by ``spaces``)."""
    payload = {"ip": "127.0.0.1", "exp": int(time.time()) + 600, **({"error": error} if error else {})}
    raw = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{raw}.sig"


class Device:
    """The device API on a loopback port; ``scenario`` is set by the app before each ``schedule()``."""

    def __init__(self) -> None:
        self.scenario = "queued"
        device = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                if not self.path.startswith("/schedule"):
                    self.send_response(200)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                status, headers, body, _ = SCENARIOS[device.scenario]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if isinstance(body, list):  # queued: one event per read, as spaces' sse_stream expects
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("connection", "close")
                    self.end_headers()
                    for event in body:
                        data = f"\ndata: {json.dumps(GPU)}" if event == "succeeded" else ""
                        self.wfile.write(f"event: {event}{data}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(0.3)
                    return
                raw = json.dumps(body).encode() if body is not None else b""
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
