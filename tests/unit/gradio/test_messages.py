"""Gradio queue messages → events; diffs; error texts; file URLs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.helpers import FLUX_DEV

from g4f_magic.errors import G4FError, GenerationError, QuotaExceeded, StreamError
from g4f_magic.events import Reasoning
from g4f_magic.gradio.messages import Completed, Generating, QueueDecoder, apply_diff, file_url, image_urls
from g4f_magic.spaces.refusals import refined


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def run(msgs: list[dict[str, Any]], event_id: str | None = "E", **kw: Any) -> list[Any]:
    dec = QueueDecoder(event_id, **kw)
    return [item for m in msgs for item in dec.decode(json.dumps(m))]


def read(msgs: list[dict[str, Any]]) -> list[Any]:
    """The decoder's events as the Spaces layer reads a failure: ZeroGPU's refusals typed (spaces.refusals)."""
    try:
        return run(msgs)
    except G4FError as exc:
        raise refined(exc) from exc


def test_status_messages_carry_structured_fields() -> None:
    items = run([
        {"msg": "estimation", "event_id": "E", "rank": 2, "queue_size": 5, "rank_eta": 12.34},
        {"msg": "process_starts", "event_id": "E", "eta": 3},
        {"msg": "progress", "event_id": "E", "progress_data": [
            {"index": 12, "length": 28, "unit": "steps", "progress": None, "desc": None}]},
        {"msg": "progress", "event_id": "E", "progress_data": [
            {"index": 3, "length": 10, "unit": "it", "desc": "Sampling"}]},
        {"msg": "progress", "event_id": "E", "progress_data": []},
        {"msg": "progress", "event_id": "E", "progress_data": [{"index": None, "progress": 0.5, "desc": None}]},
        {"msg": "log", "event_id": "E", "log": "loading <b>weights</b>", "level": "warning"},
    ])
    assert [str(i) for i in items] == [
        "In queue: position 3 of 5, ETA 12.3s", "Started (ETA 3.0s)", "12/28", "Sampling 3/10",
        "Generating", "50%", "loading weights",
    ]
    q = items[0]
    assert (q.kind, q.rank, q.queue_size, q.eta) == ("queue", 3, 5, 12.34)
    p = items[2]
    assert (p.kind, p.progress_index, p.progress_length, p.progress_unit) == ("progress", 12, 28, "steps")
    assert items[6].kind == "log" and items[6].level == "warning"
    assert all("None" not in str(i) for i in items)


def test_heartbeats_are_throttled() -> None:
    clock = Clock()
    dec = QueueDecoder("E", clock=clock, heartbeat_every=1.0)
    seen = []
    for step in range(30):  # 30 heartbeats over 3 seconds
        clock.t = 100.0 + step * 0.1
        seen += dec.decode('{"msg": "heartbeat"}')
    assert len(seen) == 3
    assert all(isinstance(s, Reasoning) and s.kind == "heartbeat" for s in seen)


def test_messages_of_other_events_are_ignored() -> None:
    items = run([
        {"msg": "process_completed", "event_id": "OTHER", "success": False, "output": {"error": "not ours"}},
        {"msg": "estimation", "event_id": "OTHER", "rank": 0},
        {"msg": "process_completed", "event_id": "E", "success": True, "output": {"data": ["ok"]}},
    ])
    assert items == [Completed(["ok"])]


def test_streamed_edits_then_a_full_completion() -> None:
    """Real Gradio (5.50, 6.31): previews as edits, then ``process_completed`` with the full values."""
    items = run([
        {"msg": "process_generating", "event_id": "E", "output": {"data": ["Hel", {"url": "a", "path": "p"}]}},
        {"msg": "process_generating", "event_id": "E", "output": {"data": [
            [["append", [], "lo"]], [["replace", ["url"], "b"], ["add", ["size"], 3]]]}},
        {"msg": "process_generating", "event_id": "E", "output": {"data": [[], []]}},
        {"msg": "process_completed", "event_id": "E", "success": True, "output": {"data": [
            "Hello!", {"url": "c", "path": "q"}]}},
    ])
    assert items == [Generating(["Hel", {"url": "a", "path": "p"}]), Generating(["Hello", {"url": "b", "path": "p",
                     "size": 3}]), Generating(["Hello", {"url": "b", "path": "p", "size": 3}]),
                     Completed(["Hello!", {"url": "c", "path": "q"}])]


def test_diff_against_wrong_path_is_a_stream_error() -> None:
    with pytest.raises(StreamError, match="does not fit"):
        apply_diff({"a": 1}, [["replace", ["missing", "deeper"], 2]])
    with pytest.raises(StreamError, match="unknown diff action"):
        apply_diff([1], [["explode", [0], 2]])


@pytest.mark.parametrize(
    ("output", "cls", "message"),
    [
        ({"error": "CUDA out of memory"}, GenerationError, "CUDA out of memory"),
        ({"error": "Went wrong <a href='x'>Upgrade</a>"}, GenerationError, "Went wrong"),
        ({"error": None}, GenerationError, "the Space reported an error without details"),
        ({"error": "GPU task aborted", "title": "ZeroGPU worker error"}, GenerationError,
         "ZeroGPU worker error: GPU task aborted"),
    ],
)
def test_failed_completion_errors(output: dict[str, Any], cls: type, message: str) -> None:
    with pytest.raises(cls) as info:
        read([{"msg": "process_completed", "event_id": "E", "success": False, "output": output}])
    assert str(info.value) == message and type(info.value) is cls


def test_a_title_only_at_the_top_of_the_message_counts() -> None:
    with pytest.raises(GenerationError) as info:
        read([{"msg": "process_completed", "event_id": "E", "success": False, "title": "ZeroGPU worker error",
              "output": {"error": "GPU task aborted"}}])
    assert str(info.value) == "ZeroGPU worker error: GPU task aborted"


def test_quota_texts_old_and_new() -> None:
    with pytest.raises(QuotaExceeded) as old:
        read([{"msg": "process_completed", "event_id": "E", "success": False, "output": {
            "error": "You have exceeded your GPU quota (150s left). Please retry in 0:04:12."}}])
    assert old.value.retry_after == 252.0
    with pytest.raises(QuotaExceeded) as new:
        read([{"msg": "process_completed", "event_id": "E", "success": False, "output": {
            "error": "You have exceeded your GPU quota (60s requested vs. 56s left). <a href='/p'>Sub</a>"}}])
    assert str(new.value) == "You have exceeded your GPU quota (60s requested vs. 56s left)."
    assert new.value.retry_after is None
    with pytest.raises(QuotaExceeded) as again:  # the newer ZeroGPU wording
        read([{"msg": "process_completed", "event_id": "E", "success": False, "output": {
            "error": "You have exceeded your GPU quota. Try again in 0:12:34."}}])
    assert again.value.retry_after == 754.0


def test_stream_errors() -> None:
    with pytest.raises(StreamError, match="malformed JSON"):
        QueueDecoder("E").decode('{"msg": ')
    with pytest.raises(StreamError, match="stream ended before the result"):
        run([{"msg": "close_stream", "event_id": None}])
    with pytest.raises(GenerationError, match="^404: Not Found$"):
        run([{"msg": "unexpected_error", "message": "404: Not Found", "session_not_found": True}])
    with pytest.raises(StreamError, match="without a result"):
        run([{"msg": "process_completed", "event_id": "E", "success": True, "output": {}}])
    assert QueueDecoder("E").decode("null") == []


def test_file_urls() -> None:
    base = "https://space.example"
    assert file_url({"url": "https://space.example/f.png"}, base) == "https://space.example/f.png"
    assert file_url({"url": "/gradio_api/file=/tmp/a.webp"}, base) == "https://space.example/gradio_api/file=/tmp/a.webp"
    assert file_url({"path": "/tmp/a.webp", "url": None}, base) == "https://space.example/gradio_api/file=/tmp/a.webp"
    assert file_url({"path": "/tmp/a.png"}, base, "file=") == "https://space.example/file=/tmp/a.png"
    with pytest.raises(StreamError, match="not http"):
        file_url({"url": "javascript:alert(1)"}, base)
    with pytest.raises(StreamError, match="no image URL"):
        file_url({"orig_name": "x"}, base)
    gallery = [{"image": {"url": f"{base}/{i}.webp"}, "caption": None} for i in range(5)]
    assert image_urls(gallery, base) == tuple(f"{base}/{i}.webp" for i in range(5))


def test_an_image_url_is_compared_by_origin_and_never_carries_a_login() -> None:
    base = "https://own.example"  # one's own server behind basic auth: the login goes by the session, not here
    assert file_url({"url": "https://OWN.example:443/f.png"}, base) == "https://OWN.example:443/f.png"
    assert file_url({"url": "https://eve:pw@own.example/f.png"}, base) == "https://own.example/f.png"
    with pytest.raises(StreamError, match=r"another port of own\.example \(8443, not 443\); refused$"):
        file_url({"url": "https://own.example:8443/f.png"}, base)  # what differs is said (issue #36, item 2)
    with pytest.raises(StreamError, match=r"another port of own\.example; refused$"):
        file_url({"url": "https://own.example:x/f.png"}, base)


def test_a_gateway_maps_the_spaces_own_urls_and_nothing_else() -> None:
    base, public = f"http://127.0.0.1:7860/{FLUX_DEV}", f"https://{FLUX_DEV}"
    own = f"{public}/gradio_api/file=/tmp/a.webp?x=1"
    assert file_url({"url": own}, base, public=public) == f"{base}/gradio_api/file=/tmp/a.webp?x=1"
    assert file_url({"url": f"{base}/gradio_api/file=/tmp/a.webp"}, base, public=public).startswith(base)
    with pytest.raises(StreamError, match="another host"):  # without the gateway there is nothing to map
        file_url({"url": own}, base)
    for elsewhere in ("http://127.0.0.1:7860/internal.example/secret.png",  # another host behind the gateway
                      f"{base}.evil/x.png",
                      "http://127.0.0.1:7860/gradio_api/file=/etc/passwd"):
        with pytest.raises(StreamError, match="outside its own address"):
            file_url({"url": elsewhere}, base, public=public)
    with pytest.raises(StreamError, match="another host"):
        file_url({"url": f"{public}.evil.example/a.png"}, base, public=public)


def test_a_message_nested_too_deeply_is_one_stream_error() -> None:
    """200,000 levels make json.loads raise RecursionError, which is no ValueError: still one line."""
    from g4f_magic.gradio.messages import queue_message

    deep = '{"msg": "process_generating", "event_id": "E", "output": ' + "[" * 200_000 + "]" * 200_000 + "}"
    with pytest.raises(StreamError, match="^the Space sent a message nested too deeply to read$"):
        queue_message(deep)


def test_an_edit_to_an_output_nested_too_deeply_is_one_stream_error() -> None:
    """600 levels read fine, but copying them for an edit recurses past Python's limit."""
    nested: Any = "x"
    for _ in range(600):
        nested = [nested]
    first = {"msg": "process_generating", "event_id": "E", "output": {"data": [nested]}}
    edit = {"msg": "process_generating", "event_id": "E", "output": {"data": [[["replace", [0], "y"]]]}}
    dec = QueueDecoder("E")
    dec.handle(first)
    with pytest.raises(StreamError, match="^the Space sent an output nested too deeply to update$"):
        with_limit(lambda: dec.handle(edit), 500)


def with_limit(call: Any, limit: int) -> Any:
    """``call()`` under a lower recursion limit (the deep copy's depth depends on the stack already in use)."""
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        return call()
    finally:
        sys.setrecursionlimit(old)



def test_a_server_behind_a_tls_front_that_writes_http_urls_is_fetched_over_https() -> None:
    """Issue #36, item 2: behind a TLS front that does not tell Gradio it is on https, Gradio writes its file URLs
    as http:// on the same host and port; they are fetched the way the Space is reached. A different port or host
    stays refused, and the message says which differed; an https URL is never made http."""
    from g4f_magic.gradio.messages import file_url

    base = "https://127.0.0.1:8443"
    fd = {"path": "/tmp/gradio/x.webp", "url": "http://127.0.0.1:8443/gradio_api/file=/tmp/gradio/x.webp"}
    assert file_url(fd, base) == "https://127.0.0.1:8443/gradio_api/file=/tmp/gradio/x.webp"
    assert file_url({"url": "http://my.host/gradio_api/file=a.png"}, "https://my.host") == \
        "https://my.host/gradio_api/file=a.png"  # both on their scheme's port: the front's 443, Gradio's 80 in its words
    with pytest.raises(StreamError, match=r"^the Space pointed an image at another port of 127\.0\.0\.1 \(7860, not "
                                          r"8443\); refused$"):
        file_url({"url": "http://127.0.0.1:7860/gradio_api/file=x.webp"}, base)
    with pytest.raises(StreamError, match=r"^the Space pointed an image at another host \(10\.0\.0\.2\); refused$"):
        file_url({"url": "http://10.0.0.2:8443/gradio_api/file=x.webp"}, base)
    with pytest.raises(StreamError, match=r"^the Space pointed an image at https, not http, on 127\.0\.0\.1; refused$"):
        file_url({"url": "https://127.0.0.1:8443/gradio_api/file=x.webp"}, "http://127.0.0.1:8443")
