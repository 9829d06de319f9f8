"""Property tests of every parser that eats network bytes: each input gives valid results or one of
the project's own errors — never another exception, never a hang. ``make fuzz`` runs them longer."""

from __future__ import annotations

import base64
import copy
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from g4f_magic.errors import G4FError, StreamError
from g4f_magic.events import Reasoning
from g4f_magic.gradio.messages import Completed, Generating, QueueDecoder, apply_diff, image_urls, upload_paths
from g4f_magic.http.sse import SSEDecoder, SSEEvent
from g4f_magic.spaces.zerogpu import jwt_expiry, parse_jwt_reply, parse_space_page

settings.register_profile("default", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


settings.register_profile("long", max_examples=2_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


KINDS = ["estimation", "process_starts", "progress", "log", "heartbeat", "process_generating",
         "process_completed", "unexpected_error", "close_stream", "send_hash", "other"]


message = st.fixed_dictionaries(
    {"msg": st.sampled_from(KINDS)},
    optional={"event_id": st.sampled_from(["E", "X", None]), "rank": json_values, "queue_size": json_values,
              "rank_eta": json_values, "eta": json_values, "log": json_values, "level": json_values,
              "progress_data": json_values, "output": json_values, "success": json_values,
              "message": json_values},
)


@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=8))
def test_sse_any_bytes_any_split(data: bytes, cuts: list[int]) -> None:
    dec = SSEDecoder(max_event_bytes=1500)
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    try:
        for a, b in zip(bounds, bounds[1:]):
            for ev in dec.feed(data[a:b]):
                assert isinstance(ev, SSEEvent) and isinstance(ev.data, str)
    except StreamError as exc:  # only an event past its size limit, said in one line
        assert "\n" not in str(exc) and "1500" in str(exc), str(exc)


@given(st.lists(st.tuples(st.sampled_from(["data", "event", "id", ":c", "retry"]), st.text(max_size=30)),
                max_size=10), st.sampled_from(["\n", "\r\n", "\r"]), st.integers(1, 50))
def test_sse_splitting_never_changes_the_events(fields: list[tuple[str, str]], eol: str, step: int) -> None:
    lines = [f"{k}: {v.replace(chr(13), ' ').replace(chr(10), ' ')}" for k, v in fields] + ["", ""]
    raw = eol.join(lines).encode()
    whole = [(e.data, e.event) for e in SSEDecoder().feed(raw)]
    dec = SSEDecoder()
    pieces = [(e.data, e.event) for i in range(0, len(raw), step) for e in dec.feed(raw[i:i + step])]
    assert pieces == whole


@given(st.lists(message, max_size=12))
def test_gradio_messages_give_events_or_our_errors(messages: list[dict[str, Any]]) -> None:
    dec = QueueDecoder("E")
    try:
        for m in messages:
            for item in dec.decode(json.dumps(m)):
                assert isinstance(item, (Reasoning, Generating, Completed))
                if isinstance(item, Reasoning):
                    assert isinstance(item.status, str) and "\n" not in item.status
    except G4FError as exc:  # the Space's failure, or a broken stream: said in one non-empty line
        assert str(exc) and "\n" not in str(exc), str(exc)


@given(st.text(max_size=200))
def test_gradio_payload_text(payload: str) -> None:
    try:
        parsed: Any = json.loads(payload)
    except ValueError:
        parsed = ValueError
    try:
        QueueDecoder("E").decode(payload)
    except StreamError:  # what is not JSON, or JSON that is not a message, is a broken stream
        assert parsed is ValueError or not isinstance(parsed, (dict, type(None)))
    except G4FError:  # a message that says the event failed
        assert isinstance(parsed, dict) and parsed.get("msg") in ("process_completed", "unexpected_error")
    else:
        assert parsed is not ValueError


@given(json_values, st.lists(st.tuples(st.sampled_from(["replace", "append", "add", "delete", "boom"]),
                                        st.lists(st.integers(-2, 3) | st.text(max_size=3), max_size=3),
                                        json_values), max_size=4))
def test_diffs_against_any_shape(obj: Any, diff: list[Any]) -> None:
    """Where our edits succeed, Gradio's own client (``gradio_client.utils.apply_diff``) agrees; where they
    fail, the failure is a ``StreamError``."""
    from gradio_client.utils import apply_diff as reference

    edits = [list(d) for d in diff]
    try:
        expected = repr(reference(copy.deepcopy(obj), copy.deepcopy(edits)))  # repr: NaN equals itself
    except Exception:  # noqa: BLE001 - the reference fails on what ours must refuse
        expected = None
    try:
        got = apply_diff(copy.deepcopy(obj), edits)
    except StreamError:
        return
    assert repr(got) == expected


@given(json_values)
def test_result_and_upload_shapes(value: Any) -> None:
    for parse in (lambda v: image_urls(v, "https://x.hf.space"), upload_paths):
        try:
            out = parse(value)
        except G4FError:
            continue
        assert all(isinstance(u, str) for u in out)
        if parse is not upload_paths:
            assert all(u.startswith("https://x.hf.space/") for u in out)


@given(st.text(max_size=400), json_values, st.text(max_size=100), st.integers(0, 2**40))
def test_zerogpu_parsers(page: str, reply: Any, token: str, exp: int) -> None:
    t, u = parse_space_page("&quot;token&quot;:&quot;" + token + "&quot;" + page)
    if token and "&" not in token:  # the token the page carries, exactly, whatever follows it
        assert t == token
    assert u is None or isinstance(u, str)
    parsed = parse_jwt_reply(reply)
    wanted = reply.get("token") if isinstance(reply, dict) else None
    assert parsed == (wanted if isinstance(wanted, str) and wanted else None)
    body = base64.urlsafe_b64encode(json.dumps({"exp": exp, "sub": token}).encode()).decode().rstrip("=")
    assert jwt_expiry(f"eyJhbGciOiJIUzI1NiJ9.{body}.sig") == float(exp)
    assert jwt_expiry(token) is None or "." in token
