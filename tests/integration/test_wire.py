"""What the local Space received, exactly, for every route (SPEC §5, §6)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from leakscan import COOKIE, TOKEN
from support.helpers import FLUX_DEV, HUB, JANUS, PREDICT, collect

from g4f_magic import ImageResponse, JsonConversation, Reasoning
from g4f_magic.localspace import LocalSpace, Pace


def one(space: LocalSpace, host: str, path: str, method: str | None = None) -> Any:
    rows = [r for r in space.requests(host, path) if method is None or r.method == method]
    assert len(rows) == 1, [(r.method, r.host, r.path) for r in space.received]
    return rows[0]


def final(events: list[Any]) -> ImageResponse:
    [img] = [e for e in events if isinstance(e, ImageResponse)]
    return img


async def test_flux_dev_join_body_query_and_headers(space: LocalSpace, endpoint: str) -> None:
    events = await collect("flux", "a lighthouse", aspect_ratio="16:9", seed=42)
    page = one(space, HUB, "/spaces/roxky/FLUX.1-dev")
    assert "cookie" not in page.headers
    join = one(space, FLUX_DEV, "/gradio_api/queue/join")
    sh = join.body["session_hash"]
    assert join.body == {
        "data": ["a lighthouse", 42, False, 1360, 760, 3.5, 28],
        "event_data": None, "fn_index": 2, "trigger_id": 4, "session_hash": sh,
    }
    assert re.fullmatch(r"[0-9a-f]{12}", sh)
    assert join.query == {"__theme": "light"}
    assert join.headers["x-zerogpu-token"] == space.tokens_issued[0]
    assert join.headers["x-zerogpu-uuid"]
    assert join.headers["content-type"].startswith("application/json")
    data = one(space, FLUX_DEV, "/gradio_api/queue/data")
    assert data.query == {"session_hash": sh}
    assert data.headers["accept"] == "text/event-stream"
    assert not any(h.startswith("x-zerogpu") for h in data.headers)
    img = final(events)
    assert (img.model, img.seed, img.width, img.height, img.alt) == ("flux", 42, 1360, 760, "a lighthouse")
    assert img.urls[0].startswith(f"{endpoint}/{FLUX_DEV}/gradio_api/file=") and img.urls[0].endswith(".webp")
    assert str(img) == f"[![a lighthouse]({img.urls[0]})]({img.urls[0]})"


async def test_flux_dev_picks_and_reports_a_seed_when_none_given(space: LocalSpace, endpoint: str) -> None:
    img = final(await collect("flux-dev", "x"))
    join = one(space, FLUX_DEV, "/gradio_api/queue/join")
    sent = join.body["data"][1]
    assert join.body["data"][2] is False  # randomize_seed off: the seed is ours and reproducible
    assert 0 <= sent <= 2147483647 and img.seed == sent and img.model == "flux-dev"


async def test_janus_chat_body_headers_and_conversation(space: LocalSpace, endpoint: str) -> None:
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "what is 2+2?"}]
    events = await collect("janus-pro-7b", msgs, seed=1234)
    conv = events[1]
    assert isinstance(events[0], Reasoning) and events[0].kind == "token"
    assert isinstance(conv, JsonConversation)
    join = one(space, JANUS, "/gradio_api/queue/join")
    assert join.body == {
        "data": [None, "User: hi\nAssistant: hello\nUser: what is 2+2?\nAssistant:", 1234, 0.95, 0.1],
        "event_data": None, "fn_index": 2, "trigger_id": 10, "session_hash": conv.session_hash,
    }
    assert join.headers["referer"] == f"{endpoint}/{JANUS}?__theme=light"
    assert join.headers["x-zerogpu-token"] == conv.zerogpu_token
    assert join.headers["x-zerogpu-uuid"] == conv.zerogpu_uuid
    data = one(space, JANUS, "/gradio_api/queue/data")
    assert data.headers["referer"] == f"{endpoint}/{JANUS}?__theme=light"
    assert not any(h.startswith("x-zerogpu") for h in data.headers)
    text = "".join(e for e in events if isinstance(e, str))
    assert text == "Local stand-in reply (not a model). You asked: what is 2+2? (this conversation has 2 user turns)"
    assert sum(isinstance(e, str) for e in events) > 5  # streamed, not one block
    assert repr(conv).count("***") == 1 and conv.zerogpu_token not in repr(conv)


async def test_janus_chat_continues_with_the_same_session(space: LocalSpace, endpoint: str) -> None:
    first = await collect("janus-pro-7b", "hello")
    conv = first[1]
    await collect("janus-pro-7b", "again", conversation=conv)
    joins = space.requests(JANUS, "/gradio_api/queue/join")
    assert [j.body["session_hash"] for j in joins] == [conv.session_hash] * 2


async def test_janus_vision_upload_then_join_with_file_data(space: LocalSpace, endpoint: str, tmp_path: Any) -> None:
    from g4f_magic.localspace.images import placeholder

    path = tmp_path / "cat.png"
    path.write_bytes(placeholder("cat", 1, 64, 48, "PNG"))
    events = await collect("janus-pro-7b", "what is this?", media=str(path))
    up = one(space, JANUS, "/gradio_api/upload")
    conv = next(e for e in events if isinstance(e, JsonConversation))
    assert up.query == {"upload_id": conv.session_hash}
    assert up.headers["content-type"].startswith("multipart/form-data")
    assert not any(h.startswith("x-zerogpu") for h in up.headers)
    join = one(space, JANUS, "/gradio_api/queue/join")
    image = join.body["data"][0]
    assert image == {
        "path": image["path"], "url": f"{endpoint}/{JANUS}/gradio_api/file={image['path']}",
        "orig_name": "cat.png", "size": path.stat().st_size, "mime_type": "image/png",
        "meta": {"_type": "gradio.FileData"},
    }
    text = "".join(e for e in events if isinstance(e, str))
    assert "I see a 64x48 PNG image named cat.png." in text


async def test_janus_image_body_and_five_image_gallery(space: LocalSpace, endpoint: str) -> None:
    img = final(await collect("janus-pro-7b-image", "a red fox", seed=5000))
    join = one(space, JANUS, "/gradio_api/queue/join")
    assert join.body == {"data": ["a red fox", 5000, 5, 1], "event_data": None, "fn_index": 3,
                         "trigger_id": 20, "session_hash": join.body["session_hash"]}
    assert len(img.urls) == 5 and len(set(img.urls)) == 5
    assert (img.model, img.seed) == ("janus-pro-7b-image", 5000)


async def test_run_predict_body_headers_and_status_lines(space: LocalSpace, endpoint: str) -> None:
    space.arm("predict_slow")
    events = await collect("flux-schnell", "a boat", aspect_ratio="9:16", seed=123456)
    pred = one(space, PREDICT, "/run/predict")
    assert pred.body == {"data": ["a boat", 123456, 760, 1360, True, 1], "event_data": None,
                         "fn_index": 3, "session_hash": pred.body["session_hash"], "trigger_id": 10}
    assert re.fullmatch(r"[a-z0-9]{10}", pred.body["session_hash"])
    assert pred.headers["x-zerogpu-token"] == space.tokens_issued[0]
    assert one(space, HUB, "/spaces/roxky/g4f-flux")  # the token of the Space it calls
    statuses = [e.status for e in events if isinstance(e, Reasoning) and e.kind == "generating"]
    assert len(statuses) >= 4 and all(re.fullmatch(r"Generating \d+\.\d\ds", s) for s in statuses)
    assert isinstance(events[-2], Reasoning) and re.fullmatch(r"Finished \d+\.\d\ds", events[-2].status)
    img = final(events)
    assert events[-1] is img  # Finished, then the image: the same order as the queue routes
    assert (img.model, img.seed, img.width, img.height) == ("flux-schnell", 123456, 760, 1360)
    assert img.urls[0].startswith(f"{endpoint}/{PREDICT}/file=")


async def test_run_predict_seed_range(space: LocalSpace, endpoint: str) -> None:
    img = final(await collect("flux-schnell", "x"))
    assert 9999 <= img.seed <= 2**32 - 1


async def test_a_zerogpu_api_key_is_the_token_and_the_hub_is_not_asked(space: LocalSpace, endpoint: str) -> None:
    zerogpu = TOKEN[3:]  # not of the hf_ kind: a ZeroGPU JWT given by hand
    await collect("flux", "x", api_key=zerogpu, zerogpu_uuid="my-uuid")
    assert space.requests(HUB) == []
    join = one(space, FLUX_DEV, "/gradio_api/queue/join")
    assert join.headers["x-zerogpu-token"] == zerogpu
    assert join.headers["x-zerogpu-uuid"] == "my-uuid" and "authorization" not in join.headers


async def test_an_hf_api_key_is_the_account(space: LocalSpace, endpoint: str) -> None:
    """g4f users pass their HF token as api_key: the hub's jwt is asked as the account, and the Space's
    own host gets the token the documented way; the page (an anonymous browser's token) is not asked."""
    await collect("flux", "x", api_key=TOKEN, seed=1)
    jwt = one(space, HUB, "/api/spaces/roxky/FLUX.1-dev/jwt")
    assert jwt.headers["authorization"] == f"Bearer {TOKEN}" and "cookie" not in jwt.headers
    assert space.requests(HUB, "/spaces/roxky/FLUX.1-dev") == []
    join = one(space, FLUX_DEV, "/gradio_api/queue/join")
    assert join.headers["authorization"] == f"Bearer {TOKEN}"
    assert join.headers["x-zerogpu-token"] == space.tokens_issued[-1]
    stream = one(space, FLUX_DEV, "/gradio_api/queue/data")
    assert stream.headers["authorization"] == f"Bearer {TOKEN}"


async def test_none_uuid_header_is_left_out(space: LocalSpace, endpoint: str) -> None:
    await collect("flux", "x", api_key=TOKEN, zerogpu_uuid=None)
    join = one(space, FLUX_DEV, "/gradio_api/queue/join")
    assert "x-zerogpu-uuid" not in join.headers


async def test_page_without_token_falls_back(space: LocalSpace, endpoint: str) -> None:
    space.arm("page_no_token")
    await collect("flux", "x")
    join = one(space, FLUX_DEV, "/gradio_api/queue/join")
    assert join.headers["x-zerogpu-token"] == "[object Object]"
    assert "x-zerogpu-uuid" not in join.headers


async def test_cookies_go_to_the_hub_only_and_jwt_wins(space: LocalSpace, endpoint: str) -> None:
    cookies = {"token": COOKIE}
    events = await collect("flux", "x", cookies=cookies)
    page = one(space, HUB, "/spaces/roxky/FLUX.1-dev")
    jwt = one(space, HUB, "/api/spaces/roxky/FLUX.1-dev/jwt")
    assert page.headers["cookie"] == jwt.headers["cookie"] == f"token={COOKIE}"
    assert jwt.query["include_pro_status"] == "true"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", jwt.query["expiration"])
    for r in space.received:
        if r.host != HUB:
            assert "cookie" not in r.headers, r.path
            assert COOKIE not in repr(r.headers) + repr(r.body)
    join = one(space, FLUX_DEV, "/gradio_api/queue/join")
    assert join.headers["x-zerogpu-token"] == space.tokens_issued[-1]  # the jwt's, not the page's
    assert "#pro" in __import__("base64").urlsafe_b64decode(space.tokens_issued[-1].split(".")[1] + "==").decode()
    assert COOKIE not in repr(events)


@pytest.mark.parametrize("fault", ["jwt_401", "jwt_html"])
async def test_jwt_refused_keeps_the_page_token(space: LocalSpace, endpoint: str, fault: str) -> None:
    space.arm(fault)
    events = await collect("flux", "x", cookies={"token": COOKIE})
    join = one(space, FLUX_DEV, "/gradio_api/queue/join")
    assert join.headers["x-zerogpu-token"] == space.tokens_issued[0]
    assert final(events)


async def test_token_is_cached_per_space_and_connection_reused(space: LocalSpace, endpoint: str) -> None:
    await collect("flux", "one")
    await collect("flux", "two")
    await collect("janus-pro-7b-image", "three")
    assert [r.path for r in space.requests(HUB)] == ["/spaces/roxky/FLUX.1-dev", "/spaces/roxky/Janus-Pro-7B"]
    joins = space.requests(FLUX_DEV, "/gradio_api/queue/join")
    assert joins[0].headers["x-zerogpu-token"] == joins[1].headers["x-zerogpu-token"]
    ports = {r.peer_port for r in space.received}
    # keep-alive: the three calls over two connections, the second one opened when the second call's
    # stream went out beside its join (its session known to the Space by then)
    assert len(ports) == 2, ports


async def test_expired_token_is_fetched_again(space: LocalSpace, endpoint: str) -> None:
    space.token_ttl = 20  # expires inside the cache's safety margin
    await collect("flux", "one")
    await collect("flux", "two")
    assert len(space.requests(HUB)) == 2


async def test_relative_and_path_only_urls_resolve_against_the_space(space: LocalSpace, endpoint: str) -> None:
    for fault in ("relative_url", "path_only"):
        space.arm(fault)
        img = final(await collect("flux", "x"))
        assert img.urls[0].startswith(f"{endpoint}/{FLUX_DEV}/gradio_api/file=/tmp/gradio/")
    space.arm("predict_relative")
    img = final(await collect("flux-schnell", "x"))
    assert img.urls[0].startswith(f"{endpoint}/{PREDICT}/file=/tmp/gradio/")


async def test_previews_follow_diffs(space: LocalSpace, endpoint: str) -> None:
    from g4f_magic import ImagePreview

    events = await collect("flux", "x")
    previews = [e for e in events if isinstance(e, ImagePreview)]
    assert len(previews) == 2 and previews[0].urls != previews[1].urls
    assert str(previews[0]) == ""
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ImagePreview") < kinds.index("ImageResponse")


async def test_a_real_paced_space_queues_samples_and_previews_throughout(space: LocalSpace, endpoint: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #24, item 3: in its default pace (here with its waits shortened) the local Space shows what a real
    FLUX.1-dev Space shows: a queue position counting down, every sampling step, and a preview after each step
    as FLUX.1-dev yields them, not all at the end."""
    from g4f_magic import ImagePreview

    monkeypatch.setattr(space, "pace", Pace(step=0.002, queue=0.01))
    events = await collect("flux", "x", seed=3)
    queue = [e.rank for e in events if isinstance(e, Reasoning) and e.kind == "queue"]
    assert queue == [4, 3, 2, 1]
    steps = [e.progress_index for e in events if isinstance(e, Reasoning) and e.kind == "progress"]
    assert steps == list(range(29))
    order = ["P" if isinstance(e, ImagePreview) else "S" for e in events
             if isinstance(e, ImagePreview) or isinstance(e, Reasoning) and e.kind == "progress"]
    assert "".join(order) == "S" + "SP" * 28  # each step's preview before the next step
    assert isinstance(events[-1], ImageResponse)


async def test_previews_slower_than_a_step_are_skipped_not_queued(space: LocalSpace, endpoint: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A preview per step (FLUX.1-dev) whose downloads take longer than a step: the newest waiting one is
    fetched, the ones it overtook are not, so the previews never hold the stream or the result back."""
    import io

    from g4f_magic.engine.job import Job
    from g4f_magic.engine.run import run_job
    from g4f_magic.notebook.views import PlainView

    class Seen(PlainView):
        shown: list[bytes] = []

        def preview(self, index: int, data: bytes, mime: str) -> None:
            self.shown.append(data)

    monkeypatch.setattr(space, "pace", Pace(step=0.03, queue=0.0))  # 28 previews in under a second
    monkeypatch.setattr(space, "file_delay", 0.2)  # each preview served 0.2 s after it is asked for
    view = Seen("flux", out=io.StringIO())
    result = await run_job(Job("flux", "x [fault:previews_slow]", seed=5), view)
    files = [r for r in space.requests(FLUX_DEV) if "/gradio_api/file=" in r.path]
    assert 2 <= len(files) <= 1 + 8, len(files)  # the final image and a few of the 28 previews
    assert view.shown and result.image is not None and result.image.data not in view.shown


async def test_urls_on_the_spaces_own_host_go_through_the_gateway(space: LocalSpace, endpoint: str) -> None:
    """A real Space behind a gateway (or any reverse proxy) builds file URLs from its public host."""
    from g4f_magic import fetch_image

    space.arm("public_url")
    img = final(await collect("flux", "x", seed=1))
    assert img.urls[0].startswith(f"{endpoint}/{FLUX_DEV}/gradio_api/file=/tmp/gradio/")
    space.arm("predict_public_url")
    img2 = final(await collect("flux-schnell", "x", seed=12345))
    assert img2.urls[0].startswith(f"{endpoint}/{PREDICT}/file=/tmp/gradio/")
    for url in (img.urls[0], img2.urls[0]):
        data, mime = await fetch_image(url)
        assert mime in ("image/webp", "image/png") and len(data) > 100


async def test_another_host_inside_the_gateway_layout_is_refused(space: LocalSpace, endpoint: str) -> None:
    from g4f_magic.errors import StreamError

    space.arm("gateway_other_host")  # http://GATEWAY/internal.service.example/secret.png
    with pytest.raises(StreamError, match=r"^the Space pointed an image outside its own address; refused$"):
        await collect("flux", "x", seed=1)
    assert not [r for r in space.received if r.host == "internal.service.example"]


async def test_run_predict_takes_an_image_without_a_seed(space: LocalSpace, endpoint: str) -> None:
    space.arm("predict_image_only")  # upstream reads data[0] only
    img = final(await collect("flux-schnell", "x", seed=12345, width=256, height=256))
    assert img.seed == 12345 and img.urls[0].startswith(f"{endpoint}/{PREDICT}/file=")
