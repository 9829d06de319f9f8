"""A fresh kernel for the benchmarks that time cells (jupyter_client; no front end)."""

from __future__ import annotations

import contextlib
import queue
import time
from typing import Any, Iterator


def run(kc: Any, code: str, timeout: float = 120) -> tuple[float, str]:
    """Wall time from execute_request to idle, and the cell's stdout; an error in the cell raises."""
    started = time.perf_counter()
    msg_id = kc.execute(code)
    out = []
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"no reply for {code!r}") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
        if msg["msg_type"] == "error":
            raise RuntimeError(msg["content"]["evalue"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return time.perf_counter() - started, "".join(out)


@contextlib.contextmanager
def kernel() -> Iterator[Any]:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
