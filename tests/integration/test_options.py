"""Sizes, ratios, prompts, seeds, media and unknown keywords: all checked before any request."""

from __future__ import annotations

import pytest

from g4f_magic import G4F, InvalidOption
from g4f_magic.localspace import LocalSpace


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        ("flux", {"colour": "red"}, "unknown option 'colour'"),
        ("flux", {"timout": 3}, "did you mean 'timeout'"),
        ("flux", {"aspect_ratio": "abc"}, "aspect ratio must be W:H"),
        ("flux", {"seed": -1}, "seed must be between 0 and 2147483647"),
        ("flux", {"seed": 2**31}, "seed must be between 0 and 2147483647"),
        ("flux-schnell", {"seed": "7"}, "seed must be a whole number"),
        ("flux", {"media": b"\x89PNG\r\n\x1a\n"}, "images are only read by janus-pro-7b"),
        ("janus-pro-7b", {"media": b"not an image"}, "not a PNG, JPEG, GIF or WebP"),
        ("janus-pro-7b", {"media": [b"\x89PNG\r\n\x1a\n", b"\x89PNG\r\n\x1a\n"]}, "one image per question"),
        ("flux", {"timeout": 0}, "timeout must be a number"),
        ("flux", {"proxy": "socks5://user:secret@h:1"}, "proxy must be an http(s) URL"),
        ("flux", {"conversation": "abc"}, "conversation must be the JsonConversation"),
        ("flux", {"guidance_scale": "high"}, "guidance_scale must be a number"),
        ("janus-pro-7b", {"messages": "  "}, "the prompt is empty"),
        ("flux", {"api_key": "hf_secret\r\nx-evil: 1"}, "api_key must be text with no line breaks or control"),
        ("janus-pro-7b-image", {"zerogpu_uuid": "u\n1"}, "zerogpu_uuid must be text with no line breaks"),
        ("flux", {"api_key": 123}, "api_key must be text"),
    ],
)
async def test_bad_options_fail_before_any_request(
    model: str, kwargs: dict, message: str, space: LocalSpace, endpoint: str
) -> None:
    kwargs = dict(kwargs)  # the parameters are shared by every run of this test
    messages = kwargs.pop("messages", "a cat")
    gen = G4F.create_async_generator(model, messages, **kwargs)
    with pytest.raises(InvalidOption) as info:
        await gen.__anext__()
    assert message in str(info.value)
    assert "secret" not in str(info.value)
    assert space.received == []
