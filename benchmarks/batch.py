"""A 1,000-item batch in a real kernel, and a batch resumed after its kernel was killed (issue #25).

The batch runs through nbclient against the local Space (its labelled 1024² placeholder WebP, no step
delay; photograph-like images would make the Space, in this process, the bottleneck), so the figures are
the client's own costs: the kernel's
resident set before and after, its CPU time per item (getrusage, every thread), the saved notebook's bytes.
Then a 200-item batch at 0.1 s an image is started in a kernel that is SIGKILLed half way; the rerun in a
fresh kernel is counted at the Space.

    python -m benchmarks.batch          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

from benchmarks.kernels import kernel, run
from benchmarks.sections import cli
from g4f_magic.localspace import LocalSpace, Pace, in_thread

SECTION = "## 16. A 1,000-item batch in a kernel, and resuming one"
PROBE = ("import resource, os\nu = resource.getrusage(resource.RUSAGE_SELF)\n"
         "print(int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE'), u.ru_utime + u.ru_stime)")
JOIN = "/gradio_api/queue/join"


def big_batch(count: int, folder: Path) -> list[str]:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        "%load_ext g4f_magic\nwarm = ['a', 'b', 'c']",
        "%%g4f -m flux --each warm -s 99\na warm-up photograph, {item}",
        f"items = [f'scene {{i}}' for i in range({count})]",
        PROBE,
        "%%g4f -m flux --each items -s 1 -o res\na photograph of {item}",
        PROBE,
        "print(res.counts)",
    )]
    started = time.perf_counter()
    NotebookClient(nb, timeout=3600, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    wall = time.perf_counter() - started
    path = folder / "batch.ipynb"
    nbformat.write(nb, path)
    (rss0, cpu0), (rss1, cpu1) = ([float(x) for x in nb.cells[i].outputs[0]["text"].split()] for i in (3, 5))
    counts = nb.cells[6].outputs[0]["text"].strip()
    mib = 2 ** 20
    return [
        f"{count:,} items, `%%g4f -m flux --each items` in a kernel run by nbclient (widget state stored, as a "
        "front end would save it); each image the local Space's 1024² placeholder WebP, no step delay. "
        f"Outcome: `{counts}`, {wall:.0f} s for the whole notebook.",
        "",
        "| measure | value | goal |", "|---|---|---|",
        f"| kernel RSS growth over the batch | **{(rss1 - rss0) / mib:.1f} MiB** ({rss0 / mib:.0f} → {rss1 / mib:.0f} MiB) "
        "| ≤ 50 MiB |",
        f"| saved notebook | **{path.stat().st_size / 1e6:.2f} MB** | ≤ 2 MB |",
        f"| client CPU per item (kernel process, every thread; the image saved to the batch's folder included) "
        f"| **{(cpu1 - cpu0) / count * 1000:.1f} ms** | — |",
        "| replay store write at 20,000 entries | see §15 | ≤ 5 ms |",
    ]


def resume(count: int) -> list[str]:
    space = LocalSpace(pace=Pace.fast(0.02))  # 5 progress messages 0.02 s apart: 0.1 s an image
    with tempfile.TemporaryDirectory() as store, tempfile.TemporaryDirectory() as work, in_thread(space) as url:
        os.environ["G4F_MAGIC_ENDPOINT"], os.environ["G4F_MAGIC_CACHE"] = url, store
        cell = "%%g4f -m flux --each items -s 5\na study of {item}"
        setup = f"%load_ext g4f_magic\nimport os\nos.chdir({work!r})\nitems = [f'subject {{i}}' for i in range({count})]"
        from jupyter_client.manager import start_new_kernel

        km, kc = start_new_kernel(kernel_name="python3")
        try:
            run(kc, setup)
            kc.execute(cell)
            while len(space.requests(path=JOIN)) < count // 2:
                time.sleep(0.02)
            km.signal_kernel(signal.SIGKILL)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        finished = len(list(Path(store).glob("*.g4f")))
        space.reset()
        with kernel() as again:
            run(again, setup)
            took, _ = run(again, cell, timeout=600)
        asked = len(space.requests(path=JOIN))
    return [
        "",
        f"Resumed: a {count}-item batch at 0.1 s an image, its kernel SIGKILLed once half the requests were sent, "
        "then the same cell in a fresh kernel. Requests counted at the Space.",
        "",
        "| items | stored before the kill | requests on the rerun | items not finished | rerun wall time |",
        "|---|---|---|---|---|",
        f"| {count} | {finished} | **{asked}** | {count - finished} | {took:.1f} s |",
    ]


def figures(count: int, resume_count: int) -> list[str]:
    with tempfile.TemporaryDirectory() as store, tempfile.TemporaryDirectory() as folder, \
            in_thread(LocalSpace(pace=Pace.fast(0.0))) as url:
        os.environ["G4F_MAGIC_ENDPOINT"], os.environ["G4F_MAGIC_CACHE"] = url, store
        lines = big_batch(count, Path(folder))
    return lines + resume(resume_count)


def main(argv: list[str] | None = None) -> int:
    return cli("batch", __doc__, SECTION, figures, [("count", 1000, "items in the big batch"),
               ("resume_count", 200, "items in the batch that is killed and resumed")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
