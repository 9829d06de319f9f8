"""Sizes, ratios, prompts, image bytes and ZeroGPU token parsing: the checks made before any request."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from g4f_magic import InvalidOption
from g4f_magic.localspace.app import _jwt
from g4f_magic.media import image_mime, load_media
from g4f_magic.spaces.endpoints import HUB_URL
from g4f_magic.spaces.prompts import chat_prompt, image_prompt
from g4f_magic.spaces.sizes import image_size
from g4f_magic.spaces.zerogpu import TokenCache, cookie_header, jwt_expiry, jwt_url, parse_jwt_reply, parse_space_page


@pytest.mark.parametrize(
    ("ratio", "size"),
    [("1:1", (1024, 1024)), ("16:9", (1360, 760)), ("9:16", (760, 1360)), ("4:3", (1176, 880)),
     ("3:2", (1248, 832)), ("1:4", (512, 2048)), ("1000:1", (4096, 32))],
)
def test_ratio_sizes_are_about_one_megapixel_multiples_of_8(ratio: str, size: tuple[int, int]) -> None:
    w, h = image_size(ratio)
    assert (w, h) == size
    assert w % 8 == 0 and h % 8 == 0 and min(w, h) >= 32


def test_explicit_sides_win_and_one_side_follows_the_ratio() -> None:
    assert image_size("16:9", 1000, 500) == (1000, 496)
    assert image_size("16:9", width=1280) == (1280, 720)
    assert image_size("16:9", height=720) == (1280, 720)
    assert image_size("1:1", width=33) == (32, 32)


@pytest.mark.parametrize("ratio", ["abc", "0:1", "1:0", "16:", "-1:2", "1.5:1", ""])
def test_malformed_ratio_is_a_clear_error(ratio: str) -> None:
    with pytest.raises(InvalidOption, match="aspect ratio must be W:H"):
        image_size(ratio)


@pytest.mark.parametrize("width", [0, -8, 5000, 12.5, True, "512"])
def test_bad_width(width: object) -> None:
    with pytest.raises(InvalidOption, match="width"):
        image_size("1:1", width=width)  # type: ignore[arg-type]


def test_chat_prompt() -> None:
    assert chat_prompt("hi there") == "hi there"
    assert chat_prompt([{"role": "user", "content": "only"}]) == "only"
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
            {"role": "assistant", "content": " "}, {"role": "user", "content": "and?"}]
    assert chat_prompt(msgs) == "System: be brief\nUser: hi\nUser: and?\nAssistant:"
    with pytest.raises(InvalidOption, match="the prompt is empty"):
        chat_prompt("   ")


def test_image_prompt_takes_the_trailing_user_run() -> None:
    msgs = [{"role": "user", "content": "old"}, {"role": "assistant", "content": "ok"},
            {"role": "user", "content": " a cat "}, {"role": "user", "content": "in space"}]
    assert image_prompt(msgs) == "a cat\nin space"
    assert image_prompt(msgs, prompt="explicit") == "explicit"
    assert image_prompt(["one", "two"]) == "one\ntwo"
    with pytest.raises(InvalidOption, match="empty"):
        image_prompt([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}])


def test_image_magic_bytes() -> None:
    assert image_mime(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert image_mime(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert image_mime(b"GIF89a...") == "image/gif"
    assert image_mime(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert image_mime(b"<html>") is None
    with pytest.raises(InvalidOption, match="not a PNG, JPEG, GIF or WebP"):
        load_media(b"%PDF-1.4")
    with pytest.raises(InvalidOption, match="cannot read image"):
        load_media("/nonexistent/x.png")
    [item] = load_media((b"\x89PNG\r\n\x1a\nxx", "cat.png"))
    assert (item.name, item.mime_type) == ("cat.png", "image/png")


def test_zerogpu_page_and_jwt_parsing() -> None:
    page = 'x data-props="{&quot;token&quot;:&quot;eyJ.abc.def&quot;,&quot;sessionUuid&quot;:&quot;u-1&quot;}"'
    assert parse_space_page(page) == ("eyJ.abc.def", "u-1")
    assert parse_space_page("<html>no token</html>") == (None, None)
    assert parse_jwt_reply({"token": "t"}) == "t"
    assert parse_jwt_reply({"error": "x"}) is None and parse_jwt_reply(["t"]) is None
    tok = _jwt("s", 600)
    exp = jwt_expiry(tok)
    assert exp is not None and exp > datetime.now(timezone.utc).timestamp() + 500
    assert jwt_expiry("[object Object]") is None and jwt_expiry("a.b.c") is None


def test_jwt_url_is_quoted_iso_with_milliseconds() -> None:
    now = datetime(2026, 11, 25, 6, 0, 0, 123000, tzinfo=timezone.utc)
    assert jwt_url(HUB_URL, "roxky/FLUX.1-dev", now) == (
        f"{HUB_URL}/api/spaces/roxky/FLUX.1-dev/jwt"
        "?expiration=2026-11-25T06%3A10%3A00.123%2B00%3A00&include_pro_status=true"
    )


def test_token_cache_expires_before_exp() -> None:
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    item = cache.put(("hub", "s", ""), "[object Object]", None)
    assert cache.get(("hub", "s", "")) is item
    assert "***" in repr(item) and "object" not in repr(item)
    now[0] += 61
    assert cache.get(("hub", "s", "")) is None


def test_cookie_header_refuses_header_splitting() -> None:
    assert cookie_header({"token": "hf_abc", "x": "1"}) == "token=hf_abc; x=1"
    with pytest.raises(ValueError):
        cookie_header({"token": "a\r\nX-Evil: 1"})


def test_credentials_in_a_url_are_masked_wherever_it_is_shown() -> None:
    from g4f_magic.errors import InvalidOption
    from g4f_magic.spaces.endpoints import check_base_url, masked
    from g4f_magic.spaces.mirrors import Mirror

    assert masked("https://me:s3cret@own.example:8443/x?y=1") == "https://***@own.example:8443/x?y=1"
    assert masked("https://hf_token@own.example/") == "https://***@own.example/"
    assert masked("https://own.example/") == "https://own.example/"
    assert Mirror("https://me:s3cret@own.example", None, "flux_dev", own=True).label == "https://***@own.example"
    with pytest.raises(InvalidOption) as bad:
        check_base_url("ftp://me:s3cret@own.example", "flux_dev_url")
    assert "s3cret" not in str(bad.value) and "me" not in str(bad.value).split("got")[1]


def test_a_login_in_a_url_leaves_every_url_of_the_access() -> None:
    """The user:password goes to the session by URL (HttpSession.login); no URL the Access holds keeps it."""
    from g4f_magic.spaces.providers import G4F

    own = "https://me:s3cr%40t@own.example:8443/flux"
    access = G4F.access(G4F.model("flux-dev"), flux_dev_url=own, mirrors={"flux-dev": ["http://you:pw@two.example"]},
                        send_hf_token_to=[own])
    assert access.logins == (("https://own.example:8443/flux", ("me", "s3cr@t")), ("http://two.example", ("you", "pw")))
    assert [m.base for m in access.mirrors] == ["https://own.example:8443/flux", "http://two.example"]
    assert access.hf_token_to == frozenset({"https://own.example:8443/flux"})
    assert "s3cr" not in repr(access) and "@" not in repr(access.endpoints)
