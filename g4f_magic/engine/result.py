"""Results: the bytes the Space served (shown as they are), and PNG files that carry their recipe."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidOption
from ..media import EXTENSIONS, decoded, image_mime

__all__ = ["GeneratedImage", "Result", "ResultSet", "to_png", "check_target"]


def to_png(data: bytes, text: dict[str, str] | None = None) -> bytes:
    """PNG bytes (with ``text`` chunks) from PNG, JPEG, GIF or WebP bytes."""
    from PIL import PngImagePlugin

    im = decoded(data)
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_itxt(k, v)
    if im.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        im = im.convert("RGBA")
    out = io.BytesIO()
    im.save(out, "PNG", pnginfo=info)
    return out.getvalue()


@dataclass
class GeneratedImage:
    """One image as the Space served it; its declared size was checked (``checked``) on arrival."""

    data: bytes
    mime: str
    url: str
    _png: bytes | None = field(default=None, repr=False)

    @property
    def png(self) -> bytes:
        """The same pixels as PNG, made once: for viewers that cannot decode the served format."""
        if self._png is None:
            self._png = self.data if self.mime == "image/png" else to_png(self.data)
        return self._png

    def embedded(self, embed: str = "served") -> tuple[str, bytes]:
        """MIME type and bytes to put in a notebook: as served, or ``"png"``."""
        return ("image/png", self.png) if embed == "png" else (self.mime, self.data)

    def __repr__(self) -> str:
        return f"GeneratedImage({self.mime}, {len(self.data)} bytes, url={self.url!r})"


class SavedImage(GeneratedImage):
    """An image kept on disk instead of in memory (a big batch's, once written to its folder): its bytes are
    read when asked for, so a thousand results do not hold a thousand images in the kernel."""

    def __init__(self, path: Path, mime: str, url: str) -> None:  # noqa: D107 - not the dataclass's
        self.path, self.mime, self.url, self._png = path, mime, url, None

    @property  # type: ignore[override]
    def data(self) -> bytes:  # type: ignore[override]
        return self.path.read_bytes()


@dataclass
class Result:
    """One generation: an image, or chat text, with its recipe (the notebook shows it; it saves itself)."""

    prompt: str
    model: str
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    image: GeneratedImage | None = None
    text: str = ""
    elapsed: float = 0.0
    log: list[str] = field(default_factory=list)
    steps: int | None = None  # FLUX.1-dev's sampler settings when given
    guidance: float | None = None
    note: str = ""  # what happened on the way: a fallback, a wait, a wake-up
    replayed: float | None = None  # when the replayed result was generated (epoch seconds); None: new
    reported_seed: int | None = None  # the seed the Space said it used, when not the one sent (``seed``)
    asked_about: bytes | None = field(default=None, repr=False)  # a question's image, small (WebP): shown with it

    @property
    def url(self) -> str | None:
        return self.image.url if self.image else None

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}" if self.width and self.height else ""

    def recipe(self) -> str:
        """What reproduces the image: seed and size."""
        parts = [f"seed {self.seed}"] if self.seed is not None else []
        if self.size:
            parts.append(self.size)
        return " · ".join(parts)

    def summary(self) -> str:
        return " · ".join(p for p in (self.model, self.recipe(), f"{self.elapsed:.1f}s") if p)

    def metadata(self) -> dict[str, str]:
        meta = {"prompt": self.prompt, "model": self.model, "Software": "g4f_magic"}
        if self.seed is not None:
            meta["seed"] = str(self.seed)
        if self.size:
            meta["size"] = self.size
        if self.steps is not None:
            meta["steps"] = str(self.steps)
        if self.guidance is not None:
            meta["guidance"] = f"{self.guidance:g}"
        meta["parameters"] = self.parameters()
        return meta

    def parameters(self) -> str:
        """The recipe as AUTOMATIC1111 writes it in a PNG's ``parameters`` chunk (the prompt, then ``Steps:,
        Sampler:, CFG scale:, Seed:, Size:, Model:``): what ComfyUI, Civitai and PNG-info tools read."""
        fields = []
        if self.steps is not None:
            fields += [f"Steps: {self.steps}", "Sampler: Euler"]  # FLUX's flow-matching Euler scheduler
        if self.guidance is not None:
            fields.append(f"CFG scale: {self.guidance:g}")
        if self.seed is not None:
            fields.append(f"Seed: {self.seed}")
        if self.size:
            fields.append(f"Size: {self.size}")
        fields.append(f"Model: {self.model}")
        return f"{self.prompt}\n{', '.join(fields)}"

    @classmethod
    def from_png(cls, source: str | Path | bytes) -> Result:
        """The recipe a saved PNG carries (ours, else AUTOMATIC1111's ``parameters``), with the image itself: what
        ``%%g4f --from image.png`` runs again."""
        data = source if isinstance(source, bytes) else Path(source).expanduser().read_bytes()
        im = decoded(data)
        text = {str(k): str(v) for k, v in getattr(im, "text", {}).items()}
        im.close()
        recipe = text if "prompt" in text else _a1111(text.get("parameters", ""))
        if not recipe.get("prompt"):
            raise InvalidOption("the image carries no recipe (no prompt in its PNG text)")
        width, _, height = recipe.get("size", "").partition("x")
        return cls(recipe["prompt"], recipe.get("model") or "flux", _number(recipe.get("seed"), int),
                   _number(width, int), _number(height, int), GeneratedImage(data, image_mime(data) or "image/png", ""),
                   steps=_number(recipe.get("steps"), int), guidance=_number(recipe.get("guidance"), float))

    def __repr__(self) -> str:
        what = f"image {self.image.mime}" if self.image else f"text {len(self.text)} chars"
        return f"<Result {self.summary()} · {what} · prompt {self.prompt[:60]!r}>"

    def save(self, path: str | Path, index: int = 0) -> Path:
        """Write the image: PNG (with prompt, seed, model, size as text chunks) unless the path's
        suffix asks for the format the Space served. A folder gets a name made from the recipe."""
        if self.image is None:
            target = Path(path)
            if target.is_dir() or not target.suffix:
                target = target / f"{self.model}-{_slug(self.prompt)}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.text, encoding="utf-8")
            return target
        target = Path(path)
        if target.is_dir() or not target.suffix:
            suffix = f"-{index}" if index else ""
            target = target / f"{self.model}-{self.seed}{suffix}-{_slug(self.prompt)}.png"
        suffix = target.suffix.lower().lstrip(".")
        target.parent.mkdir(parents=True, exist_ok=True)
        if suffix == "png":
            target.write_bytes(to_png(self.image.data, self.metadata()))
        elif suffix in ("jpg", "jpeg", "webp", "gif") and EXTENSIONS[self.image.mime] == suffix.replace("jpeg", "jpg"):
            target.write_bytes(self.image.data)
        else:
            raise InvalidOption(f"cannot save a {self.image.mime} as .{suffix}; use .png")
        return target


SAVE_SUFFIXES = ("png", "jpg", "jpeg", "webp", "gif")


def check_target(path: str | Path) -> None:
    """Refuse a save target that cannot be written, before the work that would fill it is done."""
    target = Path(path).expanduser()
    suffix = target.suffix.lower().lstrip(".")
    if suffix and not target.is_dir() and suffix not in SAVE_SUFFIXES:
        raise InvalidOption(f"cannot save as .{suffix}; use .png (or the format the Space serves)")
    folder = target if target.is_dir() or not suffix else target.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidOption(f"cannot save to {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidOption(f"cannot save to {path}: {existing} is not writable")


_A1111_FIELD = re.compile(r'\s*([A-Za-z][A-Za-z0-9 ]*):\s*("(?:\\.|[^"\\])*"|[^,]*)(?:,|$)')
_A1111_NAMES = {"Steps": "steps", "CFG scale": "guidance", "Seed": "seed", "Size": "size", "Model": "model"}


def _a1111(parameters: str) -> dict[str, str]:
    """AUTOMATIC1111's ``parameters`` text: the prompt, maybe ``Negative prompt: …``, then one line of fields."""
    lines = parameters.strip().splitlines()
    if not lines or not lines[-1].lstrip().startswith("Steps:") and "Seed:" not in lines[-1]:
        return {"prompt": parameters.strip()} if parameters.strip() else {}
    prompt_lines = []
    for line in lines[:-1]:
        if line.startswith("Negative prompt:"):
            break
        prompt_lines.append(line)
    recipe = {"prompt": "\n".join(prompt_lines).strip()}
    for name, value in _A1111_FIELD.findall(lines[-1]):
        if name.strip() in _A1111_NAMES:
            recipe[_A1111_NAMES[name.strip()]] = value.strip().strip('"')
    return recipe


def _number(text: str | None, kind: type) -> Any:
    try:
        return kind(text) if text not in (None, "") else None
    except ValueError:
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "image"


class ResultSet(list):  # type: ignore[type-arg]
    """Several results (``-n 4``, a Janus gallery): shown as one grid with a seed under each image."""

    def save(self, folder: str | Path) -> list[Path]:
        """Each image by its recipe (``flux-21-….png``, ``flux-22-….png``); numbered only where a seed
        repeats (a Janus gallery: ``…-5-1-….png`` to ``…-5-5-….png``)."""
        seeds = [r.seed for r in self]
        return [r.save(folder, i + 1 if seeds.count(r.seed) > 1 else 0) for i, r in enumerate(self)]
