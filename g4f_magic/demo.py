"""The offline demo: run the quickstart notebook in a real kernel and write it out as HTML.

``python -m g4f_magic.demo`` with ``G4F_MAGIC_ENDPOINT`` unset, or set to ``local``, starts the local
Space. With ``--real`` (``make demo G4F_MAGIC_ENDPOINT=``) it leaves the variable unset and talks to
the real Spaces. With a URL, it uses that gateway.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from .spaces.endpoints import ENV_VAR


def _quickstart() -> Path:
    """In a wheel, notebooks/ ships as g4f_magic/notebooks; in a checkout it sits beside the package."""
    here = Path(__file__).resolve().parent
    installed = here / "notebooks" / "quickstart.ipynb"
    return installed if installed.is_file() else here.parent / "notebooks" / "quickstart.ipynb"


NOTEBOOK = _quickstart()


@contextlib.contextmanager
def _endpoint(choice: str) -> Iterator[str]:
    if choice == "local":
        from .localspace import LocalSpace, in_thread

        with in_thread(LocalSpace()) as url:  # a real Space's pace: its queue, sampling and previews show
            print(f"local Space (a stand-in, not a model) on {url}", flush=True)
            yield url
    else:
        yield choice


def run(notebook: Path, out: Path, choice: str, timeout: float) -> Path:
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    out.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(notebook, as_version=4)
    with _endpoint(choice) as url:
        if url:
            os.environ[ENV_VAR] = url  # the kernel inherits it
        else:
            os.environ.pop(ENV_VAR, None)
            print("no endpoint: talking to the real Hugging Face Spaces", flush=True)
        started = time.monotonic()
        # the kernel on local sockets (ipc), not TCP: nothing else on the machine can reach it, and
        # ipykernel has no reason to warn that its TCP traffic is not encrypted
        # (as configuration, so that nbclient still makes the kernel, and shuts it down on every exit)
        # (its socket files by absolute path: the kernel runs in the output folder, this process elsewhere)
        config = Config()
        config.KernelManager.transport = "ipc"
        sockets = tempfile.TemporaryDirectory(prefix="g4f-demo-kernel-")
        config.KernelManager.ip = os.path.join(sockets.name, "kernel")
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                                resources={"metadata": {"path": str(out)}}, config=config)
        with sockets:
            client.execute()
        print(f"executed {notebook.name} in {time.monotonic() - started:.1f}s", flush=True)
    executed = out / notebook.name
    nbformat.write(nb, executed)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    html = out / (notebook.stem + ".html")
    html.write_text(body, encoding="utf-8")
    return html


def _missing() -> list[str]:
    """The demo extra's packages this Python cannot import (a wheel installed without ``[demo]``)."""
    import importlib

    gone = []
    for name in ("nbformat", "nbclient", "nbconvert", "ipykernel"):
        try:
            importlib.import_module(name)
        except ImportError:
            gone.append(name)
    return gone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m g4f_magic.demo", description=__doc__)
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK)
    parser.add_argument("--out", type=Path, default=Path("build/demo"))
    parser.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    parser.add_argument("--real", action="store_true", help="the real Spaces (needs internet)")
    args = parser.parse_args(argv)
    missing = _missing()
    if missing:
        print(f"the demo runs a notebook, which needs the demo extra: pip install 'g4f_magic[demo]' "
              f"({', '.join(missing)} not installed)", file=sys.stderr)
        return 2
    choice = "" if args.real else (os.environ.get(ENV_VAR) or "local")
    try:
        html = run(args.notebook, args.out, choice, args.timeout)
    except Exception as exc:  # a failed cell: nbclient's CellExecutionError names the kernel's error
        what = (f"{getattr(exc, 'ename')}: {getattr(exc, 'evalue')}" if hasattr(exc, "ename")
                else f"{type(exc).__name__}: {exc}")
        print(f"demo failed: {what.strip().splitlines()[0] if what.strip() else type(exc).__name__}",
              file=sys.stderr)
        return 1
    print(f"HTML with the images inline: {html.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
