"""What a batch's name points at, for the magic and the panel alike: the items ``--each`` (the panel's "each")
names, the images one question is asked about (a folder, a glob, a list in a variable), and the folder a
batch's images are written to. Errors are ``InvalidOption``: each front end words them its own way."""

from __future__ import annotations

import asyncio
import functools
import glob
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..engine.batch import TEXT_FILES
from ..engine.result import Result, ResultSet, _slug
from ..errors import InvalidOption
from .html import EMBEDDED

if TYPE_CHECKING:
    from ..engine.backend import Backend
    from ..engine.batch import Batch

__all__ = ["IMAGE_SUFFIXES", "items_named", "image_sources", "value_bytes", "batch_folder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
Source = tuple[str, Callable[["Backend"], Awaitable[bytes]]]  # an image's name, and how to read it when its turn comes


def items_named(ref: str, evaluate: Callable[[str], Any] | None, flag: str = "--each") -> Any:
    """A file of prompts by its suffix, else a variable or an expression (``res.failed``, ``df[df.keep]``)
    evaluated in the user's namespace."""
    if Path(ref).suffix.lower() in TEXT_FILES:
        return ref
    if evaluate is None:
        raise InvalidOption(f"{flag} {ref}: no namespace to read it from; name a {', '.join(TEXT_FILES)} file")
    try:
        return evaluate(ref)
    except Exception as exc:  # noqa: BLE001 - the user's expression: any error is theirs, said in one line
        raise InvalidOption(f"{flag} {ref}: {type(exc).__name__}: {exc}") from None


async def value_bytes(value: Any, name: str, client: Backend) -> bytes:
    """An image from what --image names: a result (a set's first), bytes, an http(s) URL or a file."""
    if isinstance(value, ResultSet) and value:
        value = value[0]
    if isinstance(value, Result):
        if value.image is None:
            raise InvalidOption(f"{name} holds a text result, not an image")
        return value.image.data
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        data, _ = await client.download(value, client.deadline())
        return data
    if isinstance(value, (str, Path)) and Path(value).is_file():
        return await asyncio.to_thread(Path(value).read_bytes)
    raise InvalidOption(f"--image {name}: not a variable with image bytes or a result, a file, or an http(s) URL")


def image_name(value: Any, index: int) -> str:
    """How an image of a list is named in a batch's table and manifest."""
    if isinstance(value, (str, Path)):
        return str(value)
    if isinstance(value, Result):
        return f"#{index} {value.prompt[:40]}"
    return f"#{index}"


def listed(values: list[Any], ref: str) -> list[Source]:
    """Several images held in memory or named in a list; each read only when its turn comes."""
    return [(image_name(v, i), functools.partial(value_bytes, v, f"{ref}[{i}]")) for i, v in enumerate(values)]


def image_sources(ref: str, ns: dict[str, Any], flag: str = "--image") -> list[Source] | None:
    """Several images to ask the same question about, when ``ref`` names a folder, a glob, or a variable
    holding several (a list, a tuple, a result set); None for one image."""
    if ref.isidentifier() and ref in ns:
        value = ns[ref]
        if isinstance(value, ResultSet) and len(value) > 1 or isinstance(value, (list, tuple)):
            return listed(list(value), ref)
        return None
    if any(ch in ref for ch in "*?["):
        files = [Path(f) for f in sorted(glob.glob(os.path.expanduser(ref))) if Path(f).is_file()]
        if not files:
            raise InvalidOption(f"{flag} {ref}: no file matches")
    elif Path(ref).expanduser().is_dir():
        files = sorted(p for p in Path(ref).expanduser().iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InvalidOption(f"{flag} {ref}: no {', '.join(IMAGE_SUFFIXES)} file in that folder")
    else:
        return None
    _inside(files, ref, flag)
    return [(str(f), functools.partial(value_bytes, f, str(f))) for f in files]


def _inside(files: list[Path], ref: str, flag: str) -> None:
    """A folder (or a glob's folder) from a dataset or a shared drive may hold links to images elsewhere: a
    private photograph would be uploaded in its place. A link that leaves the folder it sits in is refused."""
    out = []
    for f in files:
        if f.is_symlink():
            home = f.parent.expanduser().resolve()
            target = f.resolve()
            if home not in target.parents:
                out.append((f, target))
    if out:
        f, target = out[0]
        more = f" and {len(out) - 1} more" if len(out) > 1 else ""
        raise InvalidOption(f"{flag} {ref}: {f.name} links out of its folder (to {target}){more}; not sent: name the "
                            "files themselves, or copy them in")


def batch_folder(batch: Batch, image_dir: str, *, save: str | None = None, autosave: bool = False,
                 plain: bool = False) -> str | None:
    """Where a batch's images go: ``save``, or a new folder in ``image_dir`` when autosave is on, the run is
    plain text, or the batch has more images than its output embeds (the output links the folder)."""
    if save:
        return str(save)
    if autosave or plain or batch.count > EMBEDDED:
        return str(Path(image_dir) / f"batch-{_slug(batch.template)}-{time.strftime('%Y%m%d-%H%M%S')}")
    return None
