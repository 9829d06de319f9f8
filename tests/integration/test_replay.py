"""The replay store: a seeded request is generated once; Run All replays it without a request."""

from __future__ import annotations

import multiprocessing
import re
from pathlib import Path
from typing import Any

import pytest
from IPython.utils.capture import capture_output

from g4f_magic.engine.replay import ReplayStore
from g4f_magic.engine.result import Result
from g4f_magic.localspace import LocalSpace


def cell(ip: Any, line: str, body: str) -> tuple[Any, Any]:
    with capture_output() as cap:
        value = ip.run_cell_magic("g4f", line, body)
    return value, cap


def joins(space: LocalSpace) -> int:
    return sum(r.path.endswith(("/queue/join", "/run/predict")) for r in space.received)


def _writer(folder: str, n: int, tag: int) -> None:
    store = ReplayStore(folder)
    for i in range(n):
        store.put("same", {"writer": tag, "i": i}, [("image/png", _png(tag, i))])


def _png(tag: int, i: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes([tag]) * (50_000 + i)  # the store checks the magic number


def test_two_processes_writing_the_same_key_leave_one_valid_entry(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), 40, tag)) for tag in (1, 2)]
    for p in procs:
        p.start()
    seen = 0
    store = ReplayStore(tmp_path, warn=lambda line: pytest.fail(f"a reader saw a damaged entry: {line}"))
    while any(p.is_alive() for p in procs):  # a reader meanwhile sees whole entries only
        entry = store.get("same")
        if entry is not None:
            seen += 1
            tag = entry.result["writer"]
            assert entry.parts[0][1] == _png(tag, entry.result["i"])
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["same.g4f"]  # one entry, no temporaries left
    entry = store.get("same")
    assert entry is not None and entry.result["i"] == 39 and seen > 0


# -- the magic -----------------------------------------------------------------------------------
def test_a_seeded_cell_is_generated_once_then_replayed(ip: Any, thread_space: LocalSpace) -> None:
    first, _ = cell(ip, "-m flux -s 42 -a 16:9", "a lighthouse")
    sent = joins(thread_space)
    assert sent == 1
    again, cap = cell(ip, "-m flux -s 42 -a 16:9", "a lighthouse")
    assert joins(thread_space) == sent  # no request, no quota
    assert isinstance(again, Result) and again.image is not None and first.image is not None
    assert again.image.data == first.image.data and again.image.mime == first.image.mime
    assert (again.model, again.seed, again.size) == ("flux", 42, "1360x760")
    [line] = [x for x in cap.stdout.splitlines() if x.startswith("flux ·")]
    assert re.fullmatch(r"flux · replayed \(generated \d{4}-\d\d-\d\d \d\d:\d\d\) · seed 42 · 1360x760 · \d+\.\ds", line)
    # anything else in the request is another request: the prompt, the size, the steps
    cell(ip, "-m flux -s 42 -a 1:1", "a lighthouse")
    cell(ip, "-m flux -s 42 -a 16:9 --steps 8", "a lighthouse")
    cell(ip, "-m flux -s 42 -a 16:9", "a lighthouse at night")
    assert joins(thread_space) == sent + 3
    # --refresh generates anew and replaces the entry; replay off always asks the Space
    cell(ip, "-m flux -s 42 -a 16:9 --refresh", "a lighthouse")
    assert joins(thread_space) == sent + 4
    ip.run_line_magic("config", "G4FMagics.replay = False")
    cell(ip, "-m flux -s 42 -a 16:9", "a lighthouse")
    assert joins(thread_space) == sent + 5
    ip.run_line_magic("config", "G4FMagics.replay = True")
    cell(ip, "-m flux -s 42 -a 16:9", "a lighthouse")
    assert joins(thread_space) == sent + 5


def test_an_unseeded_request_is_new_each_time_but_its_seed_replays(ip: Any, thread_space: LocalSpace) -> None:
    first, _ = cell(ip, "-m flux-schnell", "a red kite")
    second, _ = cell(ip, "-m flux-schnell", "a red kite")
    assert joins(thread_space) == 2 and first.seed != second.seed
    again, _ = cell(ip, f"-m flux-schnell -s {first.seed}", "a red kite")  # the seed it reported
    assert joins(thread_space) == 2 and again.image.data == first.image.data


def test_a_seeded_chat_replays_and_keeps_the_conversation(ip: Any, thread_space: LocalSpace) -> None:
    answer, _ = cell(ip, "-m janus-pro-7b -s 5000 --new", "what is a lighthouse?")
    sent = joins(thread_space)
    again, cap = cell(ip, "-m janus-pro-7b -s 5000 --new", "what is a lighthouse?")
    assert joins(thread_space) == sent and again.text == answer.text
    assert cap.stdout.count(answer.text) == 1 and "replayed (generated" in cap.stdout
    magics = ip.find_cell_magic("g4f").__self__
    assert [m["role"] for m in magics.chat.messages] == ["user", "assistant"]
    cell(ip, "-m janus-pro-7b -s 5000", "and who keeps it?")  # the transcript goes on: a new request
    assert joins(thread_space) == sent + 1


def test_cache_subcommands_show_and_clear_the_store(ip: Any, replay_cache: Path) -> None:
    cell(ip, "-m flux -s 1", "a fox")
    cell(ip, "-m flux -s 2", "a fox")
    with capture_output() as cap:
        ip.run_line_magic("g4f", "cache")
    assert str(replay_cache) in cap.stdout and re.search(r"entries\s+2\b", cap.stdout)
    assert re.search(r"size\s+0\.\d+ MiB of 1024 MiB", cap.stdout) and "replay        on" in cap.stdout
    with capture_output() as cap:
        ip.run_line_magic("g4f", "cache clear")
    assert cap.stdout.startswith("deleted 2 replay entries") and not list(replay_cache.glob("*.g4f"))
    with capture_output() as cap:
        ip.run_line_magic("g4f", "history of caches")  # only the exact words are a subcommand
    assert "done" in cap.stdout


def test_run_all_of_a_seeded_notebook_makes_no_request(kernel_env: LocalSpace, tmp_path: Path) -> None:
    from kernels import html_outputs, run_notebook

    cells = ["%load_ext g4f_magic", "%%g4f -m flux -s 1\na lighthouse", "%%g4f -m flux-schnell -s 10002\na fox",
             "%%g4f -m flux -s 3,4 -a 1:1,16:9\na boat", "%%g4f -m janus-pro-7b -s 5000\nwhat is a boat?"]
    first = run_notebook(cells, tmp_path / "first.ipynb")
    sent = joins(kernel_env)
    assert sent == 1 + 1 + 4 + 1
    again = run_notebook(cells, tmp_path / "again.ipynb")  # Run All in a new kernel: same cells, same store
    assert joins(kernel_env) == sent
    assert html_outputs(again).count("replayed (generated") >= 4
    for a, b in zip(first.cells[1:4], again.cells[1:4]):
        from kernels import shown_images

        assert [d for _, d in shown_images(a)] == [d for _, d in shown_images(b)]  # the same pictures


# -- an entry is untrusted input (issue #23, item 3) -----------------------------------------------
def _forge(path: Path, change: Any) -> None:
    """Rewrite an entry's header with ``change`` (its hashes stay right: tampering, not damage)."""
    import json

    head, _, body = path.read_bytes().partition(b"\n")
    header = json.loads(head)
    change(header)
    path.write_bytes(json.dumps(header).encode() + b"\n" + body)


def _html(ip: Any, value: Any) -> str:
    data, _ = ip.display_formatter.format(value)
    return data.get("text/html", "")


@pytest.mark.parametrize("forgery, why", [
    (lambda h: h["parts"][0].update(mime='image/png" onerror="alert(document.domain)'), "not an image type"),
    (lambda h: h["result"].update(width="1360"), "its width is str"),
    (lambda h: h["result"].update(seed=True), "its seed is bool"),
    (lambda h: h["result"].update(log=[{"a": 1}]), "its log or its addresses are not text"),
    (lambda h: h["result"].update(width=64, height=64), "pixels for a 64x64 request"),
])
def test_a_tampered_entry_is_generated_anew_with_one_warning(ip: Any, thread_space: LocalSpace,
                                                              replay_cache: Path, forgery: Any, why: str) -> None:
    first, _ = cell(ip, "-m flux -s 42 -a 16:9", "a lighthouse")
    [entry] = replay_cache.glob("*.g4f")
    _forge(entry, forgery)
    again, cap = cell(ip, "-m flux -s 42 -a 16:9", "a lighthouse")
    assert joins(thread_space) == 2  # asked the Space again, no TypeError, nothing of the entry shown
    [warning] = [line for line in cap.stderr.splitlines() if "warning" in line]
    assert why in warning and "damaged" in warning and "onerror" not in warning
    assert again.replayed is None and again.image.data == first.image.data
    assert "onerror" not in _html(ip, again) and 'src="data:image/' in _html(ip, again)
    again, _ = cell(ip, "-m flux -s 42 -a 16:9", "a lighthouse")
    assert joins(thread_space) == 2 and again.replayed is not None  # the good entry stored anew replays


_KILLED_WRITER = """
import os, sys, time
from g4f_magic.engine.replay import ReplayStore
os.fsync = lambda fd: (print("written", flush=True), time.sleep(600))  # killed here, its bytes on disk
ReplayStore(sys.argv[1]).put("k", {}, [("image/png", b"\\x89PNG\\r\\n\\x1a\\n" + bytes(20_000_000))])
"""


def test_a_killed_writers_temporary_file_counts_then_goes_at_the_next_open(ip: Any, replay_cache: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(replay_cache)], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"written\n"
        with capture_output() as cap:
            ip.run_line_magic("g4f", "cache")
        assert re.search(r"size\s+19\.\d MiB", cap.stdout), cap.stdout  # a writer at work: its bytes count
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
    [temp] = replay_cache.glob(".tmp-*")
    old = temp.stat().st_mtime - 10
    os.utime(temp, (old, old))  # a kernel restarted a few seconds later
    with capture_output() as cap:
        ip.run_line_magic("g4f", "cache")
    assert not list(replay_cache.glob(".tmp-*")) and re.search(r"entries\s+0\b", cap.stdout), cap.stdout
    assert re.search(r"size\s+0 MiB", cap.stdout), cap.stdout
