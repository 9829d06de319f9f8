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


# -- the budgets: how deep and how large the fuzz goes (issue #23) --------------------------------
DEPTH_BUDGET = 200_000  # nesting levels: what made json.loads raise RecursionError in the shared stream
SIZE_BUDGET = 1 << 20  # bytes of one input: past every limit the client sets on a message, a reply, an error


def _nested(depth: int, kind: str, leaf: str, closed: bool) -> str:
    opener, closer = {"list": ("[", "]"), "dict": ('{"a":', "}"), "output": ('{"data":[', "]}")}[kind]
    return opener * depth + leaf + (closer * depth if closed else closer * (depth // 2))


deep_texts = st.builds(_nested, st.integers(1, DEPTH_BUDGET), st.sampled_from(["list", "dict", "output"]),
                       st.sampled_from(["0", '"x"', "null", "[]", "{}", ""]), st.booleans())
wide_texts = st.builds(lambda n, item: "[" + ",".join([item] * n) + "]", st.integers(0, SIZE_BUDGET // 8),
                       st.sampled_from(["0", '"abcdef"', "[]", "{}", "null"]))
big_texts = st.builds(lambda piece, n: (piece * n)[:SIZE_BUDGET], st.text(max_size=40), st.integers(1, 50_000))
any_json_text = deep_texts | wide_texts | st.text(max_size=300) | json_values.map(json.dumps)


def _one_line_error(exc: BaseException) -> None:
    assert isinstance(exc, G4FError) and str(exc) and "\n" not in str(exc), repr(exc)[:200]


@given(any_json_text)
def test_every_json_reader_within_the_depth_and_size_budget(text: str) -> None:
    """Whatever the nesting or the size: a value, or one of our one-line errors; never RecursionError."""
    from g4f_magic.http.session import _loads
    from g4f_magic.untrusted_json import MAX_DEPTH, read_json, too_deep

    for read in (read_json, lambda t: _loads(t.encode()), queue_message_or_none):
        try:
            value = read(text)
        except G4FError as exc:
            _one_line_error(exc)
            continue
        assert not too_deep(value, MAX_DEPTH)  # what is read can be walked, copied and shown
        copy.deepcopy(value), repr(value)


def queue_message_or_none(text: str) -> Any:
    from g4f_magic.gradio.messages import queue_message

    return queue_message(text)


@given(any_json_text, st.sampled_from(KINDS))
def test_the_queue_decoder_within_the_budget(output: str, kind: str) -> None:
    dec = QueueDecoder("E")
    for payload in (f'{{"msg": "{kind}", "event_id": "E", "output": {output}}}',
                    f'{{"msg": "{kind}", "event_id": "E", "log": {output}, "progress_data": {output}}}'):
        try:
            for item in dec.decode(payload):
                assert isinstance(item, (Reasoning, Generating, Completed))
        except G4FError as exc:
            _one_line_error(exc)


@given(st.integers(100, 599), st.text(max_size=30),
       st.sampled_from(["application/json", "text/html", "text/plain", ""]),
       any_json_text.map(str.encode) | st.binary(max_size=4000) | big_texts.map(str.encode))
def test_error_bodies_of_any_shape_are_one_line(status: int, reason: str, ctype: str, raw: bytes) -> None:
    from g4f_magic.http.status import status_error

    exc = status_error(status, reason, ctype, raw)
    _one_line_error(exc)


gradio_config = st.fixed_dictionaries({}, optional={
    "dependencies": st.lists(st.fixed_dictionaries({}, optional={
        "api_name": st.sampled_from(["infer", "generate_image", "x"]) | json_values, "id": json_values,
        "targets": json_values, "inputs": json_values, "outputs": json_values,
    }) | json_values, max_size=4) | json_values,
    "components": st.lists(st.fixed_dictionaries({}, optional={"id": json_values, "props": json_values}) | json_values,
                           max_size=4) | json_values,
})


@given(gradio_config | json_values)
def test_a_gradio_config_of_any_shape(config: Any) -> None:
    """``/config`` of a moved or hostile Space: a function found, or none; never a TypeError."""
    from g4f_magic.gradio.functions import FLUX_INFER, from_config

    found = from_config(config, FLUX_INFER)
    if found is not None:
        fn, labels = found
        assert isinstance(fn.index, int) and all(isinstance(label, str) for label in labels)


@given(json_values | st.fixed_dictionaries({}, optional={
    "name": json_values | st.text(max_size=10), "auth": json_values, "isPro": json_values, "orgs": json_values,
    "base": json_values, "current": json_values, "resetAt": json_values, "type": json_values}))
def test_the_hubs_account_replies_of_any_shape(body: Any) -> None:
    from g4f_magic.spaces.identity import parse_quota, parse_whoami

    for parse in (parse_whoami, parse_quota):
        try:
            parse(body)
        except G4FError as exc:
            _one_line_error(exc)


@given(st.text(max_size=400) | big_texts, st.none() | st.text(max_size=40))
def test_zerogpu_words_of_any_size(text: str, title: str | None) -> None:
    """ZeroGPU's refusals and toasts are read by regular expressions: any text, up to the size budget,
    gives an answer (no catastrophic backtracking: the test's timeout would say so)."""
    from g4f_magic.spaces.refusals import parse_timedelta, refusal, toast

    for found in (refusal(text, title), refusal(text)):
        assert found is None or (isinstance(found, G4FError) and "\n" not in str(found))
    said = toast(text)
    assert said is None or (isinstance(said.status, str) and "\n" not in said.status)
    assert parse_timedelta(text) is None or parse_timedelta(text) >= 0


@given(st.text(max_size=300) | big_texts)
def test_text_made_safe_for_a_terminal_at_any_size(text: str) -> None:
    from g4f_magic.errors import one_line, printable

    safe = printable(text)
    assert not any(ord(c) < 32 and c not in "\n\t" or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000
                   for c in safe)
    safe.encode("utf-8")  # valid Unicode for a kernel message
    line = one_line(text)
    assert "\n" not in line and len(line) <= 500


def _image(fmt: str) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, fmt)
    return out.getvalue()


IMAGES = [_image(f) for f in ("PNG", "JPEG", "WEBP", "GIF")]


@given(st.sampled_from(IMAGES), st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=6),
       st.integers(0, 4000), st.binary(max_size=64))
def test_image_bytes_mangled_any_way(image: bytes, flips: list[tuple[int, int]], cut: int, tail: bytes) -> None:
    """Served bytes are sniffed by magic number and their header read before anything decodes them:
    damaged, cut or padded, each gives its format and size, or one ``StreamError``."""
    from g4f_magic.media import checked, image_mime

    data = bytearray(image)
    for at, value in flips:
        if data:
            data[at % len(data)] = value
    mangled = bytes(data[: cut or len(data)]) + tail
    assert image_mime(mangled) in (None, "image/png", "image/jpeg", "image/gif", "image/webp")
    try:
        assert checked(mangled, (16, 16)) == mangled
    except StreamError as exc:
        _one_line_error(exc)


@given(st.binary(max_size=3000) | any_json_text.map(lambda t: t.encode() + b"\n") |
       st.builds(lambda h, body: json.dumps(h).encode() + b"\n" + body,
                 st.fixed_dictionaries({"v": st.just(1)}, optional={
                     "created": json_values, "result": json_values,
                     "parts": st.lists(st.fixed_dictionaries({}, optional={
                         "mime": st.sampled_from(["image/png", "text/html"]) | json_values,
                         "size": st.integers(-5, 50) | json_values, "sha256": st.text(max_size=64)}), max_size=3)
                     | json_values}),
                 st.binary(max_size=100)))
def test_a_replay_entry_of_any_bytes(raw: bytes) -> None:
    """An entry on disk is untrusted input: an entry whose parts are images, or a refusal the store turns
    into one warning (ValueError, KeyError, TypeError or one of ours), never anything else."""
    from g4f_magic.engine.replay import Entry, _decode
    from g4f_magic.media import image_mime

    try:
        entry = _decode(raw)
    except (ValueError, KeyError, TypeError, G4FError):
        return
    assert isinstance(entry, Entry) and isinstance(entry.result, dict)
    assert all(image_mime(data) == mime for mime, data in entry.parts)
