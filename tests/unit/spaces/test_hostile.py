"""Hostile input refused or neutralised without a Space: control characters, bombs, encoded tags,
off-host URLs (each test fails without its guard)."""

from __future__ import annotations

import pytest
from support.faultyspace import png_declaring

from g4f_magic import StreamError
from g4f_magic.engine.result import to_png
from g4f_magic.errors import one_line
from g4f_magic.gradio.messages import file_url
from g4f_magic.spaces.prompts import chat_prompt, image_prompt


@pytest.mark.parametrize(("side", "declared"), [(9000, "9000x9000"), (100_000, "10,000,000,000")])
def test_decompression_bomb_is_refused_before_decoding(side: int, declared: str) -> None:
    """Past our limit, and past Pillow's own (which it enforces while opening): one message either way."""
    with pytest.raises(StreamError) as info:
        to_png(png_declaring(side, side))
    assert str(info.value) == f"the image declares {declared} pixels, more than this package decodes"


@pytest.mark.parametrize("url", ["http://evil.example/x.png", "https://x.hf.space.evil.example/a.png",
                                 "http://127.0.0.1:1/x.png"])
def test_off_host_urls(url: str) -> None:
    with pytest.raises(StreamError, match="another host"):
        file_url({"url": url}, "https://x.hf.space")


def test_entity_encoded_tags_do_not_survive_a_message() -> None:
    assert one_line("&lt;img src=x onerror=alert(1)&gt;GPU <b>exploded</b> &amp; gone") == "GPU exploded & gone"


def test_control_characters_in_prompts_are_dropped() -> None:
    assert image_prompt("a cat\x1b[31m in red\x00\x07") == "a cat[31m in red"
    assert chat_prompt("line one\nline\ttwo\x08") == "line one\nline\ttwo"
    with pytest.raises(Exception, match="the prompt is empty"):
        image_prompt("\x00\x1b\x07")


def test_network_text_loses_its_control_sequences_at_the_source() -> None:
    """The Gradio layer's log lines and errors, and a chat's text in the Spaces layer: no terminal control,
    valid Unicode, newlines and tabs kept."""
    from g4f_magic.errors import one_line, printable
    from g4f_magic.gradio.messages import QueueDecoder

    [log] = QueueDecoder("e").handle({"msg": "log", "event_id": "e", "log": "loaded \x1b]0;pwned\x07 model",
                                      "level": "info"})
    assert log.status == "loaded model"
    assert one_line("GPU \x1b[2Jexploded\x9b") == "GPU exploded"
    assert printable("line one\n\tline \x1b]52;c;eA==\x07two\ud800") == "line one\n\tline two?"
