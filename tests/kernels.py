"""Real kernels for tests: a bare one driven with jupyter_client, and notebooks run with nbclient.
Everything a kernel sends back goes through the secrets scan."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import start_new_kernel
from leakscan import SCANNER
from nbclient import NotebookClient


class Kernel:
    """A bare kernel driven with jupyter_client, collecting every iopub message."""

    def __init__(self) -> None:
        self.km, self.kc = start_new_kernel(kernel_name="python3")
        self.iopub: list[dict[str, Any]] = []

    def run(self, code: str, timeout: float = 60) -> tuple[dict[str, Any], str]:
        """Execute; keep every iopub message (a background run's output has another parent)."""
        msg_id = self.kc.execute(code)
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            assert time.monotonic() < deadline, f"no idle status for {code!r}"
            try:
                msg = self.kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            self._keep(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        SCANNER.scan("kernel reply", json.dumps(reply["content"], default=str), reply["msg_type"])
        return reply["content"], "".join(out)

    def _keep(self, msg: dict[str, Any]) -> None:
        self.iopub.append(msg)
        SCANNER.scan("kernel output", json.dumps(msg["content"], default=str), msg["msg_type"])

    def execute(self, code: str, timeout: float = 60) -> dict[str, Any]:
        return self.run(code, timeout)[0]

    def drain(self, wait: float = 0.2) -> None:
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                self._keep(self.kc.get_iopub_msg(timeout=0.05))
            except queue.Empty:
                pass

    def complete(self, code: str, cursor: int | None = None) -> list[tuple[str, str]]:
        """A ``complete_request`` as JupyterLab sends it on Tab: (match, its type) from the reply."""
        reply = self.kc.complete(code, len(code) if cursor is None else cursor, reply=True, timeout=30)
        content = reply["content"]
        types = {(t["start"], t["end"], t["text"]): t["type"]
                 for t in content["metadata"].get("_jupyter_types_experimental", [])}
        return [(m, types.get((content["cursor_start"], content["cursor_end"], m), "?")) for m in content["matches"]]

    def value(self, expr: str) -> str:
        content, out = self.run(f"print(repr({expr}))", timeout=30)
        assert content["status"] == "ok", content
        return out.strip()

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def run_notebook(sources: list[str], path: Path, *, allow_errors: bool = False, timeout: int = 90) -> Any:
    """Execute ``sources`` as a notebook in a fresh kernel (widget state kept), save it to ``path``,
    and scan the saved file for secrets."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   allow_errors=allow_errors).execute()
    nbformat.write(nb, path)
    SCANNER.scan("notebook", path.read_text(), str(path.name))
    return nb


def widget_values(nb: Any) -> list[str]:
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    return [v["state"]["value"] for v in state.values() if isinstance(v["state"].get("value"), str)]


def html_outputs(nb: Any) -> str:
    """What a front end renders as HTML: every text/html output and all widget state, as one text."""
    html = [o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    return "\n".join(html + widget_values(nb))


def html_images(html: str) -> list[tuple[str, bytes]]:
    """(MIME type, bytes) of every ``<img>`` with a data URL in ``html``."""
    import base64
    import re

    found = re.findall(r'<img [^>]*src="data:(image/\w+);base64,([A-Za-z0-9+/=]+)"', html)
    return [(mime, base64.b64decode(data)) for mime, data in found]


def shown_images(cell: Any) -> list[tuple[str, bytes]]:
    """Every image a cell's plain outputs show."""
    return [image for o in cell.outputs for image in html_images(o.get("data", {}).get("text/html", ""))]
