"""The magic in real kernels: a notebook executed with nbclient, an interrupt, and --bg."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from kernels import Kernel, run_notebook, shown_images, widget_values
from leakscan import TOKEN

from g4f_magic.localspace import LocalSpace


@pytest.mark.timeout(120)
def test_notebook_runs_in_a_real_kernel(kernel_env: LocalSpace, tmp_path: Any) -> None:
    sources = [
        "%load_ext g4f_magic",
        "style = 'oil painting'",
        "%%g4f -m flux -a 16:9 -s 42 -o pic\na lighthouse in a storm, {style}",
        "%%g4f -m flux-schnell -n 2 -s 500\ntwo foxes",
        "%%g4f -m janus-pro-7b\nhello",
        "%%g4f -m janus-pro-7b\nand again?",
        "print(type(pic).__name__, pic.seed, pic.prompt)",
        "%%g4f -m janus-pro-7b --new\n<img src=x onerror=alert(1)>",
    ]
    path = tmp_path / "run.ipynb"
    nb = run_notebook(sources, path)
    saved = path.read_text()

    def plain(cell: Any) -> list[Any]:
        return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]

    # each run is one plain output in the end: its line, the Space's own bytes, the log; no widget,
    # no Out[n] repeating it, no PNG re-encoding
    [out] = plain(nb.cells[2])
    assert out.output_type == "display_data" and set(out.data) == {"text/html", "text/plain"}
    settled = out.data["text/html"]
    assert settled.count("data:image/webp;base64,") == 1 and 'width="512"' in settled
    assert re.fullmatch(r"flux · done · seed 42 · 1360x760 · \d+\.\ds", out.data["text/plain"])
    assert 'data-state="done"' in settled and "Model loaded on the local stand-in" in settled  # the log
    [grid] = plain(nb.cells[3])
    assert len(shown_images(nb.cells[3])) == 2 and "<table" in grid.data["text/html"]
    assert "seed 500 · 1024x1024" in grid.data["text/html"] and "seed 501" in grid.data["text/html"]
    assert nb.cells[6].outputs[0].text == "Result 42 a lighthouse in a storm, oil painting\n"

    values = widget_values(nb)  # what the widgets sent while they were live (nbclient keeps it)
    assert any("flux · done · seed 42 · 1360x760" in v and 'data-state="done"' in v for v in values)
    answer = "You asked: and again? (this conversation has 2 user turns)"
    [result] = plain(nb.cells[5])
    assert answer in result.data["text/html"] and result.data["text/plain"].startswith("janus-pro-7b · done · ")
    assert not any(answer in v for v in values)  # streamed live, then kept once: in the output
    # a preview was shown while generating, then emptied: each image is stored once
    images = [v for v in nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"].values()
              if v["model_name"] == "ImageModel"]
    assert images and all(b["data"] == "" for v in images for b in v.get("buffers", []))
    html = [o["data"]["text/html"] for o in nb.cells[7].outputs if "onerror" in o.get("data", {}).get("text/html", "")]
    html += [v for v in widget_values(nb) if "onerror" in v]
    assert html and all("<img src=x" not in h and "&lt;img src=x onerror=alert(1)&gt;" in h for h in html)
    assert TOKEN not in saved
    join = kernel_env.requests(path="/gradio_api/queue/join")[0]
    assert join.headers["authorization"] == f"Bearer {TOKEN}"  # it was used, and still never saved


@pytest.mark.timeout(120)
def test_a_finished_cell_leaves_no_live_widgets(kernel: Kernel) -> None:
    count = "len(__import__('ipywidgets').widgets.widget._instances)"
    before = kernel.value(count)
    assert kernel.execute("%%g4f -m flux -s 5\na cat")["status"] == "ok"
    assert kernel.execute("%%g4f -m janus-pro-7b --new\nhello")["status"] == "ok"
    failed = kernel.execute("%%g4f -m flux -s 1\nbroken [fault:error_string]")
    assert (failed["status"], failed["ename"]) == ("error", "GenerationError")
    assert kernel.value(count) == before  # each live view was closed when its run ended
    kernel.drain(0.3)
    updates = [m["content"]["data"]["text/html"] for m in kernel.iopub if m["msg_type"] == "update_display_data"]
    assert len(updates) == 3 and 'data-state="done"' in updates[0]
    # a failed run says so once: the error's own line (its class, no traceback); its output keeps the log
    [error] = [m["content"] for m in kernel.iopub if m["msg_type"] == "error"]
    assert len(error["traceback"]) == 1 and error["traceback"][0].startswith("GenerationError: ")
    assert "CUDA out of memory" in error["traceback"][0]
    assert "g4f-status" not in updates[2] and "log (1)" in updates[2]


@pytest.mark.timeout(120)
def test_interrupt_cancels_cleanly_and_the_next_cell_runs(kernel: Kernel, kernel_env: LocalSpace) -> None:
    msg_id = kernel.kc.execute("%%g4f -m flux\na slow one [fault:slow]")
    deadline = time.monotonic() + 30
    while not kernel_env.requests(path="/gradio_api/queue/data") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the stream
    kernel.km.interrupt_kernel()
    reply = kernel.kc.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "RunCancelled"
    kernel.drain(0.5)
    deadline = time.monotonic() + 10  # the Space sees the close a moment after the kernel replies
    while not kernel_env.disconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kernel_env.disconnects, "the connection was not closed"
    # one line that says it was cancelled: no traceback of the rewritten cell
    [error] = [m["content"] for m in kernel.iopub if m["msg_type"] == "error"]
    assert len(error["traceback"]) == 1 and re.fullmatch(r"RunCancelled: flux · cancelled · \d+\.\ds",
                                                         error["traceback"][0])
    assert issubclass(__import__("g4f_magic").errors.RunCancelled, KeyboardInterrupt)
    updates = [json.dumps(m["content"]) for m in kernel.iopub if m["msg_type"] == "comm_msg"]
    assert any("cancelled" in u for u in updates)
    assert kernel.value("6 * 7") == "42"
    assert kernel.execute("%%g4f -m flux -s 3\nafter the interrupt")["status"] == "ok"
    assert kernel.value("_g4f.seed") == "3"


@pytest.mark.timeout(120)
def test_bg_leaves_the_kernel_free_and_still_completes(kernel: Kernel, kernel_env: LocalSpace) -> None:
    kernel_env.slow_delay = 0.01  # 400 steps: about 4 s of streaming
    try:
        started = time.monotonic()
        assert kernel.execute("%%g4f --bg -m flux -s 77 -o later\nin the background [fault:slow]")["status"] == "ok"
        assert kernel.value("6 * 7") == "42"
        quick = time.monotonic() - started
        assert kernel.value("'later' in dir()") == "False"  # the first run is still streaming
        deadline = time.monotonic() + 60
        while kernel.value("'later' in dir()") != "True":
            assert time.monotonic() < deadline, "the background run never finished"
            time.sleep(0.2)
        assert kernel.value("later.seed") == "77"
        kernel.drain(0.5)
        updates = [json.dumps(m["content"]) for m in kernel.iopub if m["msg_type"] == "comm_msg"]
        assert any("done" in u and "seed 77" in u for u in updates)
        # the shown widget became a plain output, after the cell had returned: the notebook keeps it
        [final] = [m["content"] for m in kernel.iopub if m["msg_type"] == "update_display_data"]
        assert "data:image/webp;base64," in final["data"]["text/html"]
        assert final["data"]["text/plain"].startswith("flux · done · seed 77 · 1024x1024 · ")
        assert quick < 30
    finally:
        kernel_env.slow_delay = 0.05


@pytest.mark.timeout(120)
def test_a_cell_completes_while_a_panel_generation_runs(kernel: Kernel, kernel_env: LocalSpace) -> None:
    kernel_env.slow_delay = 0.01
    try:
        content, _ = kernel.run("%g4f panel")
        assert content["status"] == "ok"
        assert any(m["msg_type"] == "display_data" and "application/vnd.jupyter.widget-view+json"
                   in m["content"]["data"] for m in kernel.iopub)
        setup = ("from g4f_magic import Panel\n"
                 "p = Panel()\n"
                 "p.prompt.value = 'panel run [fault:slow]'\n"
                 "p.generate_button.click()\n"
                 "len(p.tasks)")
        assert kernel.execute(setup)["status"] == "ok"
        assert kernel.value("(6 * 7, len(p.tasks))") == "(42, 1)"  # answered while the run streams
        deadline = time.monotonic() + 60
        while kernel.value("len(p.results)") != "1":
            assert time.monotonic() < deadline, "the panel run never finished"
            time.sleep(0.2)
        assert kernel.value("p.stop_button.disabled") == "True"
    finally:
        kernel_env.slow_delay = 0.05


@pytest.mark.timeout(120)
def test_cells_queued_at_once_like_run_all(kernel: Kernel, kernel_env: LocalSpace) -> None:
    """JupyterLab's Run All sends every execute request at once. A nested event loop would let
    ipykernel 7 handle the next request inside the running one ("cannot enter context")."""
    cells = ["%%g4f -m flux -s 1\nfirst", "%%g4f -m flux-schnell -s 10000\nsecond",
             "%%g4f -m janus-pro-7b --new\nthird", "%g4f -m flux -s 2 fourth", "6 * 7"]
    ids = [kernel.kc.execute(c) for c in cells]
    replies = {}
    deadline = time.monotonic() + 90
    while len(replies) < len(ids):
        assert time.monotonic() < deadline, f"only {len(replies)} of {len(ids)} cells answered"
        msg = kernel.kc.get_shell_msg(timeout=60)
        replies[msg["parent_header"]["msg_id"]] = msg["content"]
    assert [replies[i]["status"] for i in ids] == ["ok"] * len(ids)
    kernel.drain(0.5)
    errors = [m["content"].get("text", "") for m in kernel.iopub if m["msg_type"] == "stream"
              and m["content"]["name"] == "stderr"]
    assert not any("already entered" in e or "Task was destroyed" in e for e in errors), errors
    assert kernel.value("_g4f.seed") == "2"


@pytest.mark.timeout(120)
def test_help_syntax_shows_help_and_a_question_is_asked(kernel: Kernel, kernel_env: LocalSpace) -> None:
    for code in ("%%g4f?", "%g4f?", "%%g4f??"):
        content, _ = kernel.run(code)
        assert content["status"] == "ok", code
        pages = [p["data"]["text/plain"] for p in content.get("payload", []) if p.get("source") == "page"]
        assert pages and "Generate images or chat on Hugging Face Spaces" in pages[0], code
    assert kernel_env.requests() == []  # help, not a generation with the prompt "?"
    content, _ = kernel.run("%g4f -m janus-pro-7b what is a lighthouse?")  # IPython's help syntax ends in ? too
    assert content["status"] == "ok"
    [join] = kernel_env.requests(path="/gradio_api/queue/join")
    assert join.body["data"][1] == "what is a lighthouse?"


@pytest.mark.timeout(60)
def test_tab_completion_in_a_real_kernel(kernel: Kernel) -> None:
    for code, expected in (("%%g4f -m flux", "flux-schnell"), ("%g4f --aspect", "--aspect-ratio"), ("%g4f his", "history")):
        msg_id = kernel.kc.complete(code, len(code))
        reply = kernel.kc.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kernel.kc.get_shell_msg(timeout=30)
        assert expected in reply["content"]["matches"], (code, reply["content"]["matches"])


def test_the_first_runs_imports_load_in_the_background_after_load_ext(kernel: Kernel) -> None:
    # the fixture ran %load_ext; the warm-up starts once that cell is over, on a thread of its own
    deadline = time.monotonic() + 30
    loaded = "False"
    while loaded != "True" and time.monotonic() < deadline:
        loaded = kernel.value("all(m in __import__('sys').modules for m in ('aiohttp', 'ipywidgets', 'PIL.Image', "
                              "'markdown_it', 'g4f_magic.engine.run'))")
        time.sleep(0.2)
    assert loaded == "True"


def test_tab_in_a_real_kernel_offers_the_magics_words_only_with_their_types(kernel: Kernel) -> None:
    """What JupyterLab gets on Tab (issue #24, item 1): after ``-m`` the models typed "model", first and
    alone; ``--st`` gives ``--steps``, not ``--staticmethod``; no Python keyword anywhere on the line."""
    from g4f_magic import G4F

    assert kernel.complete("%%g4f -m ") == [(m, "model") for m in G4F.models]
    assert kernel.complete("%%g4f -m flux -a ")[0] == ("1:1", "ratio")
    assert {t for _, t in kernel.complete("%%g4f -m flux -a ")} == {"ratio"}
    assert kernel.complete("%%g4f -m flux --st") == [("--steps", "option")]
    line = kernel.complete("%g4f ")
    assert ("models", "subcommand") in line and ("--aspect-ratio", "option") in line
    assert not {"and", "if", "in", "is", "not", "or"} & {m for m, _ in line}
    assert kernel.complete("%%g4f -m flux\na red ki") == [("ki", "text")]  # the prompt: nothing to offer
    assert ("print", "function") in kernel.complete("pri")  # other lines keep Python's completions
