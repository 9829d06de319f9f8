"""Hostile payloads are refused or neutralised with a clear message (each test fails without its guard)."""

from __future__ import annotations

import struct
import zlib

import pytest
from helpers import collect

from g4f_magic import StreamError
from g4f_magic.gradio import file_url
from g4f_magic.localspace import LocalSpace
from g4f_magic.prompts import chat_prompt, image_prompt
from g4f_magic.result import to_png


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (decompresses to gigabytes if decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [9000, 100_000])
def test_decompression_bomb_is_refused_before_decoding(side: int) -> None:
    with pytest.raises(StreamError) as info:
        to_png(png_declaring(side, side))
    assert "pixels" in str(info.value) or "DecompressionBomb" in str(info.value)


async def test_image_url_off_the_space_host_is_refused(space: LocalSpace, endpoint: str) -> None:
    space.arm("offhost_url")
    with pytest.raises(StreamError) as info:
        await collect("flux", "x")
    assert str(info.value) == "the Space pointed an image at another host (169.254.169.254); refused"
    assert not any(r.host == "169.254.169.254" for r in space.received)


@pytest.mark.parametrize("url", ["http://evil.example/x.png", "https://x.hf.space.evil.example/a.png",
                                 "http://127.0.0.1:1/x.png"])
def test_off_host_urls(url: str) -> None:
    with pytest.raises(StreamError, match="another host"):
        file_url({"url": url}, "https://x.hf.space")


def test_control_characters_in_prompts_are_dropped() -> None:
    assert image_prompt("a cat\x1b[31m in red\x00\x07") == "a cat[31m in red"
    assert chat_prompt("line one\nline\ttwo\x08") == "line one\nline\ttwo"
    with pytest.raises(Exception, match="the prompt is empty"):
        image_prompt("\x00\x1b\x07")


async def test_control_characters_never_reach_the_space(space: LocalSpace, endpoint: str) -> None:
    await collect("flux", "a boat\x1b]0;pwned\x07 at sea")
    join = space.requests(path="/gradio_api/queue/join")[0]
    assert join.body["data"][0] == "a boat]0;pwned at sea"
