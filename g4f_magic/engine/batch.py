"""Batches: one prompt template over many items — a list, a tuple, a pandas Series or DataFrame (its columns
as ``{name}`` fields), or a text file of prompts (``.txt`` one per line, ``.csv`` with a header, ``.jsonl``).

Every item gets a fixed seed derived from the batch's seed, its prompt and how many times that prompt came
before, so a rerun asks for exactly the same requests: the replay store answers the finished ones, and only
the rest go to the Space (after an interrupt, a kernel crash or a closed laptop). Pure: no network, no IPython.
"""

from __future__ import annotations

import csv
import hashlib
import json
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterator, Sequence

from ..errors import G4FError, InvalidOption, StreamError, printable
from ..media import EXTENSIONS
from ..spaces.endpoints import space_name
from ..untrusted_json import read_json
from .planned import ManyJobs
from .result import Result, ResultSet, SavedImage, _slug
from .words import PLAIN, Words, said

if TYPE_CHECKING:
    from .backend import Backend
    from .job import Job

__all__ = ["Batch", "BatchItem", "BatchSet", "MAX_ITEMS", "items_of", "fill", "item_seed", "make_batch",
           "make_question_batch"]

MAX_ITEMS = 10_000  # past this a batch is better split: the view, the manifest and the store stay light
ITEM = "item"  # the field a plain value (a list's element, a line of a file) fills
TEXT_FILES = (".txt", ".csv", ".jsonl")


def _is_frame(data: Any) -> bool:
    return hasattr(data, "columns") and hasattr(data, "to_dict") and hasattr(data, "iterrows")


def _is_series(data: Any) -> bool:
    return hasattr(data, "to_list") and hasattr(data, "name") and not _is_frame(data)


def _plain(value: Any) -> Any:
    """numpy scalars (what pandas hands out) as Python values, so they format and serialise as themselves."""
    item = getattr(value, "item", None)
    return item() if callable(item) and type(value).__module__.startswith("numpy") else value


def items_of(data: Any, words: Words = PLAIN) -> list[dict[str, Any]]:
    """The items' fields: ``{"item": value}`` for a plain value, a row's or a dict's own names otherwise. Items
    are read as untrusted as the network's words: counted as they are read (a refused file is never all in
    memory), their text made printable (no terminal control, valid Unicode), a file's bad bytes replaced."""
    each = said(words, "each")
    if isinstance(data, (str, Path)):
        rows = _bounded(_file_items(Path(data).expanduser(), each), each)
    elif _is_frame(data):
        rows = _bounded(({str(k): _plain(v) for k, v in row.items()} for _, row in data.iterrows()), each, len(data))
    elif _is_series(data):
        named = isinstance(data.name, str) and data.name.isidentifier() and data.name != ITEM
        rows = _bounded(({ITEM: _plain(v), **({data.name: _plain(v)} if named else {})} for v in data.to_list()),
                        each, len(data))
    elif isinstance(data, (list, tuple)):
        rows = _bounded((({str(k): v for k, v in value.items()} if isinstance(value, dict) else {ITEM: value})
                         for value in data), each, len(data))
    else:
        raise InvalidOption(f"{each} takes a list, a tuple, a pandas Series or DataFrame, or a {', '.join(TEXT_FILES)} "
                            f"file; not {type(data).__name__}")
    if not rows:
        raise InvalidOption(f"{each}: there are no items")
    return rows


def _bounded(rows: Iterator[dict[str, Any]], each: str, known: int | None = None) -> list[dict[str, Any]]:
    """At most ``MAX_ITEMS`` rows, cleaned, counted as they come."""
    if known is not None and known > MAX_ITEMS:
        raise InvalidOption(f"{each}: {known:,} items; at most {MAX_ITEMS:,} in one batch (split it)")
    out: list[dict[str, Any]] = []
    for row in rows:
        if len(out) == MAX_ITEMS:
            raise InvalidOption(f"{each}: more than {MAX_ITEMS:,} items; at most {MAX_ITEMS:,} in one batch (split it)")
        out.append({printable(k): printable(v) if isinstance(v, str) else v for k, v in row.items()})
    return out


def _file_items(path: Path, each: str) -> Iterator[dict[str, Any]]:
    """A file's items, line by line: bytes that are not UTF-8 replaced (U+FFFD), a JSON line read by the
    package's bounded reader; a line that is not JSON names the file and the line."""
    suffix = path.suffix.lower()
    if suffix not in TEXT_FILES:
        raise InvalidOption(f"{each} {path}: a file of prompts is {', '.join(TEXT_FILES)}")
    try:
        f = path.open(encoding="utf-8", errors="replace", newline="")
    except OSError as exc:
        raise InvalidOption(f"{each} {path}: {exc.strerror or exc}") from None
    with f:
        if suffix == ".csv":
            yield from (dict(row) for row in csv.DictReader(f))
            return
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            if suffix == ".txt":
                yield {ITEM: line.strip()}
                continue
            try:
                value = read_json(line, f"line {n}")
            except StreamError as exc:  # "line 3 is malformed JSON", "… is nested more than 100 deep; refused"
                raise InvalidOption(f"{each} {path}: {exc}") from None
            yield {str(k): v for k, v in value.items()} if isinstance(value, dict) else {ITEM: value}


def fields_in(template: str) -> list[str]:
    """The ``{name}`` fields a template uses (``{{`` is a brace)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def fill(template: str, fields: dict[str, Any]) -> str:
    try:
        return template.format_map(fields)
    except KeyError as exc:
        known = ", ".join("{" + k + "}" for k in fields)
        raise InvalidOption(f"the prompt uses {{{exc.args[0]}}}, which the items do not have; "
                            f"they have {known}") from None
    except (ValueError, IndexError, AttributeError) as exc:
        raise InvalidOption(f"the prompt template: {exc} (write {{{{ for a brace)") from None


def item_seed(batch_seed: int, prompt: str, occurrence: int, seeds: tuple[int, int]) -> int:
    """A seed fixed by the batch's seed, the item's prompt and its occurrence: the same on every rerun, and
    unchanged when items are added, removed or reordered around it."""
    digest = hashlib.sha256(f"{batch_seed}\x00{occurrence}\x00{prompt}".encode()).digest()
    lo, hi = seeds
    return lo + int.from_bytes(digest[:8], "big") % (hi - lo + 1)


@dataclass
class BatchItem:
    """One item: its fields, the prompt they made and its seed; then its result or its error."""

    index: int
    fields: dict[str, Any]
    prompt: str
    seed: int
    result: Result | None = None
    error: G4FError | None = None
    source: str = ""  # the image asked about (a question over many images): its name
    load: Callable[[Backend], Awaitable[bytes]] | None = field(default=None, repr=False)  # read when the item runs
    thumb: bytes | None = field(default=None, repr=False)  # the image asked about, small, once it ran
    tried: list[str] = field(default_factory=list)  # the Spaces its status lines came from, in order

    def heard(self, *spaces: str | None) -> None:
        """Spaces that tried the item (a status line's, a failure's), kept once each in the order they came."""
        self.tried.extend(s for s in dict.fromkeys(spaces) if s is not None and s not in self.tried)

    @property
    def state(self) -> str:
        return "done" if self.result is not None else "failed" if self.error is not None else "not run"


@dataclass
class Batch(ManyJobs):
    """The planned batch: one job per item, in the items' order."""

    jobs: list[Job]
    items: list[BatchItem]
    template: str
    batch_seed: int
    partial: BatchSet | None = field(default=None, repr=False)  # what an interrupted run had finished
    folder: str | None = None  # where its images and manifest are saved (a front end's choice)

    @property
    def model(self) -> str:
        return self.jobs[0].model


def make_batch(job_for: Callable[[str, int], Job], template: str, rows: list[dict[str, Any]],
               batch_seed: int | None, seeds: tuple[int, int], words: Words = PLAIN) -> Batch:
    """Every item's prompt, seed and checked job (``rows`` from :func:`items_of`), before any request is sent.
    A template that uses none of the items' fields would ask the same thing each time: refused. An empty
    template is the item."""
    template = template.strip() or "{" + ITEM + "}"
    used = fields_in(template)
    if not any(name in row for name in used for row in rows[:1]):
        known = ", ".join("{" + k + "}" for k in rows[0])
        raise InvalidOption(f"the prompt uses none of the items' fields ({known}): every item would ask the same")
    base = 0 if batch_seed is None else batch_seed
    seen: dict[str, int] = {}
    items, jobs = [], []
    for i, row in enumerate(rows):
        prompt = fill(template, row).strip()
        if not prompt:
            raise InvalidOption(f"{said(words, 'each')}: item {i + 1} makes an empty prompt")
        occurrence = seen.get(prompt, 0)
        seen[prompt] = occurrence + 1
        seed = item_seed(base, prompt, occurrence, seeds)
        items.append(BatchItem(i, row, prompt, seed))
        try:
            jobs.append(job_for(prompt, seed))
        except InvalidOption as exc:  # what is wrong with this item, by its number: nothing is sent
            raise InvalidOption(f"{said(words, 'each')}: item {i + 1}: {exc}") from None
    if jobs[0].count != 1:
        raise InvalidOption(f"{said(words, 'count')} and {said(words, 'each')} do not mix: a batch makes one image per "
                            "item (list an item twice for two)")
    return Batch(jobs, items, template, base)


def make_question_batch(job_for: Callable[[int], Job], question: str,
                        sources: list[tuple[str, Callable[[Backend], Awaitable[bytes]]]], batch_seed: int | None,
                        seeds: tuple[int, int], words: Words = PLAIN) -> Batch:
    """One question over many images (Janus as a captioner or labeller): an item per image, named by
    ``sources``' first element and read by its loader only when the item runs, so a folder of photographs is
    never all in memory. Each item's seed comes from the batch's seed, the question and the image's own name
    (the replay key adds the image's bytes), so asking again about the same folder replays the answers."""
    if not question.strip():
        raise InvalidOption("the question is empty: write it in the cell body")
    if len(sources) > MAX_ITEMS:
        raise InvalidOption(f"{said(words, 'image')}: {len(sources):,} images; at most {MAX_ITEMS:,} in one batch (split it)")
    base = 0 if batch_seed is None else batch_seed
    seen: dict[str, int] = {}
    items, jobs = [], []
    for i, (name, load) in enumerate(sources):
        own = name.replace("\\", "/").rsplit("/", 1)[-1]  # a file by its own name, however the folder was written
        occurrence = seen.get(own, 0)
        seen[own] = occurrence + 1
        seed = item_seed(base, f"{question}\x00{own}", occurrence, seeds)
        items.append(BatchItem(i, {"image": name}, question, seed, source=name, load=load))
        jobs.append(job_for(seed))
    return Batch(jobs, items, question, base)


MANIFEST_FIELDS = ("item", "prompt", "model", "space", "seed", "size", "file", "elapsed", "replayed", "error",
                   "image", "answer")


class BatchSet(ResultSet):
    """A finished (or interrupted) batch: the results that arrived, as a list (``-n``'s grid), and every item
    with its fields, prompt, seed and outcome in ``.items``; ``batch.item(3)`` is item 3's result (its error
    raised when it failed). ``.failed`` lists the failed items' fields, which ``--each`` takes again."""

    def __init__(self, items: Sequence[BatchItem], template: str = "", batch_seed: int = 0) -> None:
        super().__init__([i.result for i in items if i.result is not None])
        self.items = list(items)
        self.template = template
        self.batch_seed = batch_seed
        self.elapsed: float | None = None
        self.halted: G4FError | None = None  # the quota refusal that stopped it sending items, if one did

    def item(self, index: int) -> Result:
        entry = self.items[index]
        if entry.result is None:
            raise entry.error or InvalidOption(f"item {index} was not run (the batch was interrupted)")
        return entry.result

    @property
    def counts(self) -> dict[str, int]:
        out = {"done": 0, "failed": 0, "not run": 0}
        for entry in self.items:
            out[entry.state] += 1
        return out

    @property
    def errors(self) -> dict[int, str]:
        return {e.index: f"{type(e.error).__name__}: {e.error}" for e in self.items if e.error is not None}

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The fields of the items that failed or were not run: ``%%g4f --each res.failed`` runs them alone."""
        return [dict(e.fields) for e in self.items if e.result is None]

    def manifest(self, files: dict[int, str] | None = None) -> Iterator[dict[str, Any]]:
        """One row per item: item, prompt, model, Space, seed, size, file, elapsed, replayed, error."""
        for e in self.items:
            r = e.result
            yield {"item": e.index, "prompt": e.prompt, "model": r.model if r else None,
                   "space": _space_of(e), "seed": r.seed if r else e.seed,
                   "size": r.size if r else None,
                   "file": (files or self.__dict__.get("_saved") or {}).get(e.index) or _file_of(r),
                   "elapsed": round(r.elapsed, 3) if r else None, "replayed": r.replayed is not None if r else None,
                   "error": f"{type(e.error).__name__}: {e.error}" if e.error is not None else None,
                   **({"reported_seed": r.reported_seed} if r and r.reported_seed is not None else {}),
                   **({"tried": e.tried} if len(e.tried) > 1 else {}),  # a Space that handed it on, then the one after
                   **({"image": e.source, "answer": r.text if r else None} if e.source else {})}

    @staticmethod
    def file_name(item: BatchItem, count: int) -> str:
        """``0003-flux-11-a-fox.webp``: numbered by item, then the recipe, in the served format."""
        r = item.result
        assert r is not None and r.image is not None
        width = max(4, len(str(count)))
        return f"{item.index:0{width}d}-{r.model}-{r.seed}-{_slug(r.prompt)}.{EXTENSIONS[r.image.mime]}"

    def save(self, folder: str | Path) -> list[Path]:  # type: ignore[override]
        """Each image as the Space served it (``0003-flux-11-a-fox.webp``, by item: a thousand PNG encodings would
        cost minutes), and ``manifest.jsonl`` with every item's recipe (prompt, model, Space, seed, size), failed
        ones with their error, a question's answer with the image it was about. One call, one folder."""
        target = Path(folder).expanduser()
        if target.suffix:
            raise InvalidOption(f"a batch is saved to a folder, not to {target.name}")
        target.mkdir(parents=True, exist_ok=True)
        files: dict[int, str] = {}
        paths: list[Path] = []
        for e in self.items:
            r = e.result
            if r is not None and r.image is not None:  # an answer is in the manifest
                name = self.file_name(e, len(self.items))
                kept = isinstance(r.image, SavedImage) and r.image.path == target / name
                paths.append(target / name if kept else r.save(target / name))  # the Space's own bytes
                files[e.index] = name
        self._saved = files  # to_pandas() and the manifest name the same files from now on
        manifest = target / "manifest.jsonl"
        with manifest.open("w", encoding="utf-8") as f:
            for row in self.manifest(files):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return [*paths, manifest]

    def to_pandas(self) -> Any:
        """The manifest as a DataFrame, the items' own fields as its first columns (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise InvalidOption("to_pandas() needs pandas: pip install pandas") from None
        frame = pd.DataFrame(list(self.manifest())).set_index("item")  # the item's number
        names = list(dict.fromkeys(k for e in self.items for k in e.fields))
        for at, name in enumerate(names):  # a plain list's value is the column "item", as --each names it
            column = f"field_{name}" if name in frame.columns else name
            frame.insert(at, column, [e.fields.get(name) for e in self.items])
        return frame


def _file_of(result: Result | None) -> str | None:
    """The file a result was written to while its batch ran (an auto-saved batch), by name in its folder."""
    image = result.image if result is not None else None
    return image.path.name if isinstance(image, SavedImage) else None


def _space_of(item: BatchItem) -> str | None:
    """The Space that made the item's image (the host of its file URL), else the last that tried it (a question's
    answer, a failure)."""
    r = item.result
    if r is not None and r.image is not None and r.image.url:
        return space_name(r.image.url)
    return item.tried[-1] if item.tried else None


def spill(item: BatchItem, count: int, folder: str | Path) -> None:
    """Write the item's image to the batch's folder as it arrives and keep it there instead of in memory."""
    r = item.result
    if r is None or r.image is None or isinstance(r.image, SavedImage):
        return
    target = Path(folder).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    path = target / BatchSet.file_name(item, count)
    path.write_bytes(r.image.data)
    r.image = SavedImage(path, r.image.mime, r.image.url)
