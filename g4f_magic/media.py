"""Image bytes: what format they are (by magic numbers, never by name) and vision inputs."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import Any

from .errors import InvalidOption, StreamError

__all__ = ["image_mime", "thumbnail", "decoded", "checked", "MediaItem", "load_media", "EXTENSIONS", "MAX_IMAGE_BYTES",
           "MAX_MEDIA_BYTES", "MAX_PIXELS"]

MAX_IMAGE_BYTES = 32 * 1024 * 1024  # the largest image accepted from a Space
MAX_MEDIA_BYTES = 20 * 1024 * 1024  # the largest image sent to a Space (checked before it is read)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
MAX_PIXELS = 64 * 1024 * 1024  # a declared size past this is refused before decoding (decompression bombs)


def decoded(data: bytes) -> Any:
    """A Pillow image opened lazily on ``data``: only its header is read, and a declared size past ``MAX_PIXELS``
    is refused before any pixel is."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # Pillow's own limit, hit while opening: the same bomb
        size = re.search(r"\((\d+) pixels\)", str(exc))
        raise StreamError(f"the image declares {int(size.group(1)):,} pixels, more than this package decodes" if size
                          else "the image declares more pixels than this package decodes") from exc
    except Exception as exc:  # Pillow raises many types for bad bytes
        raise StreamError(f"the image cannot be decoded ({type(exc).__name__})") from exc
    if im.width * im.height > MAX_PIXELS:
        raise StreamError(f"the image declares {im.width}x{im.height} pixels, more than this package decodes")
    return im


ASKED_FACTOR = 4  # a Space may serve up to twice the size asked on each side (an upscaler); not more


def checked(data: bytes, asked: tuple[int, int] | None = None) -> bytes:
    """``data`` unchanged once its header declares no more than ``MAX_PIXELS`` pixels, nor more than
    ``ASKED_FACTOR`` times the pixels of the size the Space was ``asked`` for: what is later decoded (a
    PNG for ``--save``) is bounded by the request, not by what a Space chooses to send."""
    im = decoded(data)
    w, h = im.width, im.height
    im.close()
    if asked is not None and w * h > ASKED_FACTOR * asked[0] * asked[1]:
        raise StreamError(f"the image declares {w}x{h} pixels for a {asked[0]}x{asked[1]} request; refused")
    return data


def image_mime(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG, GIF or WebP bytes; ``None`` for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def thumbnail(data: bytes, side: int, fmt: str = "PNG", crop: bool = True) -> bytes:
    """A small copy: square-cropped so that tiles line up whatever the aspect ratio (the panel's gallery in PNG, a
    batch's embedded thumbnails in WebP at a few KB each), or whole within ``side`` (``crop=False``: an image
    shown for what it is, the one a question was about)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        if crop:
            small = ImageOps.fit(im.convert("RGB"), (side, side))
        else:
            small = im.convert("RGB")
            small.thumbnail((side, side))
        out = io.BytesIO()
        small.save(out, fmt, **({"quality": 70} if fmt == "WEBP" else {}))
    return out.getvalue()


@dataclass(frozen=True)
class MediaItem:
    data: bytes
    name: str
    mime_type: str


def _check_size(name: str, size: int) -> None:
    if size > MAX_MEDIA_BYTES:
        raise InvalidOption(f"{name} is {size / 2**20:.1f} MiB; an image sent to a Space may be at most "
                            f"{MAX_MEDIA_BYTES // 2**20} MiB")


def _one(item: Any) -> MediaItem:
    name = None
    if isinstance(item, tuple) and len(item) == 2:
        item, name = item
    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        try:
            with open(path, "rb") as fh:  # the size is checked before anything is read
                _check_size(os.path.basename(path), os.fstat(fh.fileno()).st_size)
                data = fh.read(MAX_MEDIA_BYTES + 1)
        except OSError as exc:
            raise InvalidOption(f"cannot read image {path!r}: {exc.strerror}") from exc
        _check_size(os.path.basename(path), len(data))  # a file that grew meanwhile
        name = name or os.path.basename(path)
    elif isinstance(item, (bytes, bytearray, memoryview)):
        _check_size(name or "media", memoryview(item).nbytes)
        data = bytes(item)
    else:
        raise InvalidOption(f"media must be bytes, a path or (bytes, name); got {type(item).__name__}")
    mime = image_mime(data)
    if mime is None:
        raise InvalidOption(f"{name or 'media'} is not a PNG, JPEG, GIF or WebP image")
    return MediaItem(data, str(name or f"image.{EXTENSIONS[mime]}"), mime)


def load_media(media: Any) -> list[MediaItem]:
    """Accept one item or a list of items; check every one before anything is sent."""
    if media is None:
        return []
    items = media if isinstance(media, list) else [media]
    return [_one(i) for i in items]
