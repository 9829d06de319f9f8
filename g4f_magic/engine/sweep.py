"""Sweeps: comma lists on ``-m``, ``-a``, ``--steps``, ``--guidance`` and ``-s`` run the product of the
values and come back as one grid, its rows and columns labelled with the values.

The first swept option (in ``AXES`` order) gives the rows, the others the columns; a single swept option
is one row. Without ``-s`` every cell gets the same random seed, so that a grid compares only what
was swept. Pure: no network, no IPython (the engine runs the cells, a view shows them).
"""

from __future__ import annotations

import io
import itertools
import json
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import G4FError, InvalidOption
from .planned import ManyJobs
from .result import Result, ResultSet, _slug
from .words import PLAIN, Words, said

if TYPE_CHECKING:  # the job brings the provider (and aiohttp): the notebook loads sweeps without it
    from .job import Job

__all__ = ["AXES", "MAX_CELLS", "Sweep", "SweepCell", "SweepSet", "parse_values",
           "make_sweep", "label"]

AXES = ("model", "aspect_ratio", "steps", "guidance", "seed")  # rows take the first swept one
_TYPES: dict[str, Callable[[str], Any]] = {"model": str, "aspect_ratio": str, "steps": int, "guidance": float,
                                           "seed": int}
_KINDS: dict[Any, str] = {int: "a whole number", float: "a number", str: "a value"}
MAX_CELLS = 64  # a grid this large is already a minute of GPU time per row


def parse_values(name: str, text: str | None, words: Words = PLAIN) -> list[Any]:
    """``"1,2,3"`` → ``[1, 2, 3]`` for the option ``name``; None (not given) → ``[None]``. ``words``: the
    front end's words for the option in a message (the magic's flag; the panel's "compare seed")."""
    if text is None:
        return [None]
    kind = _TYPES[name]
    called = said(words, name)
    values: list[Any] = []
    for word in str(text).split(","):
        word = word.strip()
        if not word:
            raise InvalidOption(f"{called} {text}: an empty value in the list")
        try:
            value = kind(word)
        except ValueError:
            raise InvalidOption(f"{called} {text}: {word!r} is not {_KINDS[kind]}") from None
        if value not in values:
            values.append(value)
    return values


def label(name: str, value: Any) -> str:
    """How a swept value reads in the grid's headers: ``seed 2``, ``16:9``, ``8 steps``."""
    if name == "steps":
        return f"{value} steps"
    if name == "guidance":
        return f"guidance {value:g}"
    if name == "seed":
        return f"seed {value}"
    return str(value)


def cell_label(values: dict[str, Any]) -> str:
    """``flux · seed 2``: a cell named by its swept values."""
    return " · ".join(label(k, v) for k, v in values.items())


@dataclass
class SweepCell:
    """One cell: its swept values, and its result or the error that took its place."""

    values: dict[str, Any]
    result: Result | None = None
    error: G4FError | None = None

    def label(self) -> str:
        return cell_label(self.values)


@dataclass
class Sweep(ManyJobs):
    """The planned grid: the swept options with their values, and one job per cell (product order)."""

    axes: dict[str, list[Any]]
    jobs: list[Job]
    cells: list[dict[str, Any]] = field(default_factory=list)

    @property
    def model(self) -> str:
        """What the run's status line is about."""
        models = list(dict.fromkeys(j.model for j in self.jobs))
        return ", ".join(models) if len(models) <= 2 else f"{len(models)} models"

    @property
    def row_axis(self) -> str | None:
        return next(iter(self.axes)) if len(self.axes) > 1 else None

    def row_labels(self) -> list[str]:
        return [label(self.row_axis, v) for v in self.axes[self.row_axis]] if self.row_axis else [""]

    def column_labels(self) -> list[str]:
        names = [n for n in self.axes if n != self.row_axis]
        return [" · ".join(label(n, v) for n, v in zip(names, combo))
                for combo in itertools.product(*(self.axes[n] for n in names))]

    def corner(self) -> str:
        """The top-left header: which option runs down and which across."""
        across = " · ".join(n.replace("_", " ") for n in self.axes if n != self.row_axis)
        return f"{self.row_axis.replace('_', ' ')} \\ {across}" if self.row_axis else across

    def labels(self) -> list[str]:
        """Each cell's own label, for a terminal's lines."""
        return [cell_label(cell) for cell in self.cells]


def make_sweep(job_for: Callable[[dict[str, Any]], Job], lists: dict[str, list[Any]]) -> Sweep | None:
    """A sweep when any option has more than one value, else None. ``job_for(values)`` makes (and so
    checks) each cell's job; every cell is made before any request is sent."""
    axes = {name: lists[name] for name in AXES if len(lists.get(name, [None])) > 1}
    if not axes:
        return None
    cells = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
    if len(cells) > MAX_CELLS:
        raise InvalidOption(f"the sweep has {len(cells)} cells; at most {MAX_CELLS} at once")
    fixed = {name: lists.get(name, [None])[0] for name in AXES if name not in axes}
    jobs = [job_for({**fixed, **cell}) for cell in cells]
    if jobs[0].count != 1:
        words = jobs[0].policy.words
        raise InvalidOption(f"{said(words, 'count')} and a sweep do not mix: sweep the seed instead "
                            f"({said(words, 'seed')} 1,2,3)")
    if any(j.spec.chats for j in jobs):
        raise InvalidOption("a sweep compares images; janus-pro-7b answers questions")
    if "seed" not in axes and fixed["seed"] is None:
        # one random seed in every cell, inside every model's range, so the grid compares what was swept;
        # not one the user asked for, so nothing is replayed for it (as for any unseeded run)
        ranges = [j.spec.seeds for j in jobs]
        seed = random.randint(max(lo for lo, _ in ranges), min(hi for _, hi in ranges))
        jobs = [replace(j, seed=seed, policy=replace(j.policy, refresh=True)) for j in jobs]
    return Sweep(axes, jobs, cells)


class SweepSet(ResultSet):
    """A finished sweep: the results that arrived (a list, as for ``-n``), each cell with its values
    (``.cells``), and lookup by the swept values: ``grid.at(model="flux", seed=2)`` or, in the order of
    ``.axes``, ``grid["flux", 2]``. A failed cell raises its error when asked for."""

    def __init__(self, axes: dict[str, list[Any]], cells: Sequence[SweepCell], row_labels: list[str],
                 column_labels: list[str], corner: str = "") -> None:
        super().__init__([c.result for c in cells if c.result is not None])
        self.axes = axes
        self.cells = list(cells)
        self.row_labels = row_labels
        self.column_labels = column_labels
        self.corner = corner
        self.elapsed: float | None = None  # seconds the whole sweep took (its cells overlap), when run

    @classmethod
    def of(cls, sweep: Sweep, cells: Sequence[SweepCell]) -> SweepSet:
        return cls(sweep.axes, cells, sweep.row_labels(), sweep.column_labels(), sweep.corner())

    def at(self, **values: Any) -> Result:
        unknown = sorted(set(values) - set(self.axes))
        if unknown:
            raise KeyError(f"{unknown[0]} was not swept; the sweep's options: {', '.join(self.axes)}")
        found = [c for c in self.cells if all(c.values.get(k) == v for k, v in values.items())]
        if len(found) != 1:
            what = "no cell" if not found else f"{len(found)} cells"
            raise KeyError(f"{what} for {values}; name one value of each of: {', '.join(self.axes)}")
        cell = found[0]
        if cell.result is None:
            assert cell.error is not None
            raise cell.error
        return cell.result

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):  # the swept values, in the order of .axes
            if len(key) != len(self.axes):
                raise KeyError(f"give {len(self.axes)} values, one for each of: {', '.join(self.axes)}")
            return self.at(**dict(zip(self.axes, key)))
        return super().__getitem__(key)

    @property
    def errors(self) -> dict[str, str]:
        return {c.label(): f"{type(c.error).__name__}: {c.error}" for c in self.cells if c.error is not None}

    def save(self, folder: str | Path) -> list[Path]:  # type: ignore[override]
        """Each image as a PNG with its recipe (named by its cell), ``sweep.json`` (every cell's values,
        file, seed or error) and ``contact-sheet.png`` (the labelled grid): one call, one folder."""
        target = Path(folder).expanduser()
        if target.suffix:
            raise InvalidOption(f"a sweep is saved to a folder, not to {target.name}")
        target.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        index = []
        for cell in self.cells:
            row: dict[str, Any] = {"values": cell.values}
            if cell.result is not None and cell.result.image is not None:
                name = "_".join(f"{k}-{_slug(f'{v:g}' if isinstance(v, float) else str(v))}"
                                for k, v in cell.values.items()) + ".png"
                paths.append(cell.result.save(target / name))
                row.update(file=name, model=cell.result.model, seed=cell.result.seed, size=cell.result.size)
            elif cell.error is not None:
                row["error"] = f"{type(cell.error).__name__}: {cell.error}"
            index.append(row)
        prompt = self[0].prompt if self else ""
        (target / "sweep.json").write_text(json.dumps({"prompt": prompt, "axes": self.axes, "cells": index},
                                                      indent=1, ensure_ascii=False), encoding="utf-8")
        sheet = target / "contact-sheet.png"
        sheet.write_bytes(contact_sheet(self))
        return [*paths, target / "sweep.json", sheet]


SHEET_TILE = 256  # px


def contact_sheet(grid: SweepSet, tile: int = SHEET_TILE) -> bytes:
    """The grid as one PNG: column labels on top, row labels on the left, a failed cell grey."""
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    font = ImageFont.load_default(size=14)
    cols, rows = len(grid.column_labels), len(grid.row_labels)
    left = 140 if any(grid.row_labels) else 0
    top, caption, pad = 28, 20, 6
    width = left + cols * (tile + pad) + pad
    height = top + rows * (tile + caption + pad) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    for c, text in enumerate(grid.column_labels):
        draw.text((left + pad + c * (tile + pad), 8), text, fill="black", font=font)
    for r, text in enumerate(grid.row_labels):
        draw.text((pad, top + r * (tile + caption + pad) + tile // 2), text, fill="black", font=font)
    for i, cell in enumerate(grid.cells):
        r, c = divmod(i, cols)
        x, y = left + pad + c * (tile + pad), top + r * (tile + caption + pad)
        if cell.result is not None and cell.result.image is not None:
            with Image.open(io.BytesIO(cell.result.image.data)) as im:
                sheet.paste(ImageOps.contain(im.convert("RGB"), (tile, tile)), (x, y))
            text = cell.result.recipe()
        else:
            draw.rectangle((x, y, x + tile, y + tile), fill="#ddd")
            text = f"failed: {type(cell.error).__name__}" if cell.error is not None else "no image"
        draw.text((x, y + tile + 3), text, fill="#555", font=font)
    out = io.BytesIO()
    sheet.save(out, "PNG")
    return out.getvalue()
