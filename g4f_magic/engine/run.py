"""One generation request → events for a view → results. Shared by the magic and the panel.

Pure async: no IPython, no ipywidgets. A view is any object with the methods of ``View``.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, cast

from ..errors import G4FError, InvalidOption, QuotaExceeded, StreamError
from ..events import Fetched, JsonConversation, Reasoning
from ..media import checked, image_mime, thumbnail
from ..spaces.client import FIRST_SLOTS
from ..spaces.identity import REQUESTED_GPU_SECONDS
from ..spaces.request import Request
from ..spaces.sizes import rounding
from .availability import answered, clock
from .batch import Batch, BatchItem, BatchSet, spill
from .job import ChatState, Job, View
from .replay import Entry, replay_note, request_key
from .result import GeneratedImage, Result, ResultSet
from .sweep import Sweep, SweepCell, SweepSet
from .words import Words, said

__all__ = ["run_job", "run_sweep", "run_batch", "run_in_view", "BATCH_WORKERS"]

BATCH_WORKERS = 16  # a batch's items in flight; each Space's run slots bound its own share of them
BATCH_THUMB = 96  # px: the image a batch's question was about, as its answer's table shows it
ASKED_THUMB = 160  # px: the image one question was about, shown beside its answer


def _heard(ev: Reasoning, index: int, view: View, log: list[str], handovers: list[str]) -> None:
    """A status from the stream, shown; the Space's log lines and a Space's hand-over kept for the result."""
    if ev.kind == "log":
        log.append(ev.status)
    elif ev.kind == "mirror":
        handovers.append(ev.status)
    view.status(index, ev)


def _seeds(job: Job) -> list[int | None]:
    if job.seed is not None:
        return [job.seed + i for i in range(job.count)]
    if job.count == 1:
        return [None]
    lo, hi = job.spec.seeds
    return random.sample(range(lo, hi + 1), job.count)


def _stored(result: Result, urls: list[str | None]) -> dict[str, Any]:
    """What rebuilds ``result`` from the store (its images are the entry's parts)."""
    return {"prompt": result.prompt, "model": result.model, "seed": result.seed, "width": result.width,
            "height": result.height, "text": result.text, "elapsed": result.elapsed, "log": result.log,
            "steps": result.steps, "guidance": result.guidance, "note": result.note, "urls": urls}


_NONE = type(None)
# what a stored result holds, by type (exactly: True is not a seed); the last item of each is its default
_STORED: dict[str, tuple[tuple[type, ...], Any]] = {
    "prompt": ((str,), ...), "model": ((str,), ...), "seed": ((int, _NONE), ...), "width": ((int, _NONE), None),
    "height": ((int, _NONE), None), "text": ((str,), ""), "log": ((list,), []), "steps": ((int, _NONE), None),
    "guidance": ((int, float, _NONE), None), "note": ((str,), ""), "urls": ((list,), []),
}


def _fields(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored result's fields, each of its type, or ``TypeError`` naming the first that is not: an
    entry on disk is anyone's words until checked."""
    fields = {}
    for name, (kinds, default) in _STORED.items():
        if name not in stored and default is not ...:
            fields[name] = default
            continue
        value = stored.get(name)
        if type(value) not in kinds:
            raise TypeError(f"its {name} is {type(value).__name__}")
        fields[name] = value
    if not all(type(line) is str for line in fields["log"]) or not all(
            type(url) in (str, _NONE) for url in fields["urls"]):
        raise TypeError("its log or its addresses are not text")
    if any(v is not None and v <= 0 for v in (fields["width"], fields["height"])):
        raise ValueError("its size is not positive")
    return fields


def _replayed(entry: Entry) -> list[Result]:
    """The results an entry holds, read as untrusted input (``TypeError``/``ValueError``/``StreamError``
    when it is not what this package stores): fields by type, images within the pixel limit of their
    size."""
    fields = _fields(entry.result)
    urls = fields.pop("urls")
    fields["log"] = list(fields["log"])
    if not entry.parts:
        return [Result(**fields, replayed=entry.created)]
    w, h = fields["width"], fields["height"]
    return [Result(**fields, replayed=entry.created,
                   image=GeneratedImage(checked(data, (w, h) if w and h else None), mime,
                                        (urls[i] if i < len(urls) else None) or ""))
            for i, (mime, data) in enumerate(entry.parts)]


async def _generate(job: Job, model: str, index: int, seed: int | None, view: View, prefer: str | None
                    ) -> list[Result]:
    """One request to the Space for ``model`` (``prefer``: a Space to ask first): its events to the view, its
    images fetched and checked below (previews too), all within one deadline (``--timeout``)."""
    started = time.monotonic()
    deadline = job.client.deadline()
    log: list[str] = []
    handovers: list[str] = []  # "roxky/FLUX.1-dev is paused; trying black-forest-labs/FLUX.1-dev"
    sent = job.request_for(model, seed)
    rounded = rounding(job.width, job.height, (cast(int, sent.width), cast(int, sent.height))) \
        if sent.model.sized else ""

    def preview(data: bytes, mime: str) -> None:
        view.preview(index, data, mime)

    async for ev in job.client.images(sent, deadline, prefer, preview):
        if isinstance(ev, Reasoning):
            _heard(ev, index, view, log, handovers)
        elif isinstance(ev, Fetched):
            made = ev.response
            misreported = f"the Space reported seed {made.reported_seed}" if made.reported_seed is not None else ""
            note = "; ".join(x for x in (rounded, misreported, *handovers) if x)
            return [Result(job.prompt, made.model, made.seed, made.width, made.height, GeneratedImage(data, mime, url),
                           elapsed=time.monotonic() - started, log=log, note=note,
                           reported_seed=made.reported_seed, **job.knobs(model))
                    for data, mime, url in ev.images]
    raise StreamError("the generation ended without an image")


async def _image_one(job: Job, index: int, seed: int | None, view: View,
                     prefer: str | None = None) -> list[Result]:
    """Replayed when this exact request was answered before; else generated (with the job's waiting and
    fallbacks; ``prefer``: a Space to ask first) and stored for the next time."""
    store = job.store()
    if store is not None and seed is not None and not job.policy.refresh:
        for model in job.models:
            found = await asyncio.to_thread(store.get, request_key(job.key(job.request_for(model, seed))),
                                            _replayed)
            if found is not None:
                view.status(index, Reasoning(replay_note(cast(float, found[0].replayed)), "replayed", elapsed=0.0))
                return found

    answering = [job]  # the job that answered: the handover's when ZeroGPU's quota sent it there

    async def attempt(on: Job, model: str) -> list[Result]:
        answering[0] = on
        return await _generate(on, model, index, seed, view, prefer)

    results, note = await answered(job, index, view, attempt)
    for r in results:  # which Space answered and why another did not, then the model's own story
        r.note = "; ".join(x for x in (r.note, note) if x)
    if store is not None and results:
        first = results[0]
        parts = [(r.image.mime, r.image.data) for r in results if r.image is not None]
        await asyncio.to_thread(store.put, request_key(answering[0].key(job.request_for(first.model, first.seed))),
                                _stored(first, [r.url for r in results]), parts)
    return results


async def _all_or_nothing(coros: list[Any]) -> list[Any]:
    """Run concurrently; the first failure cancels the rest (and waits for them to close)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
        return [t.result() for t in tasks]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _small(image: bytes) -> bytes | None:
    """The image a question is about, small and whole, to show beside its answer (None if it cannot be read here:
    the Space may still read it)."""
    try:
        return thumbnail(image, ASKED_THUMB, "WEBP", crop=False)
    except Exception:  # noqa: BLE001 - Pillow raises many types for bytes it cannot read
        return None


async def _chat(job: Job, chat: ChatState, view: View, index: int = 0, image: bytes | None = None,
                prefer: str | None = None, shown: bool = True) -> Result:
    """``job``'s question (about ``image``) with ``chat``'s transcript; ``prefer``: a Space to ask first.
    ``shown``: the answer carries the image small (a batch's table has its own thumbnail of it)."""
    messages = [*chat.messages, {"role": "user", "content": job.prompt}]

    def asking(model: str) -> Request:
        """The question with the transcript so far (and the image asked about), to ``model``."""
        return job.request_for(model, job.seed).chat(messages, media=image, conversation=chat.conversation)

    store = job.store() if job.seed is not None else None  # a chat is replayable only with its seed
    key = request_key(job.key(asking(job.model), messages)) if store is not None else ""
    replayed = None
    if store is not None and not job.policy.refresh:
        replayed = await asyncio.to_thread(store.get, key, _replayed)
    asked_about = await asyncio.to_thread(_small, image) if image is not None and shown else None
    if replayed is not None:
        [result] = replayed
        result.asked_about = asked_about
        view.status(index, Reasoning(replay_note(cast(float, result.replayed)), "replayed", elapsed=0.0))
        view.text(result.text)
        chat.messages[:] = [*messages, {"role": "assistant", "content": result.text}]
        chat.conversation = None  # the Space's session is not replayed; the transcript carries the chat
        return result

    handovers: list[str] = []  # the Spaces that handed the chat on, and why

    async def attempt(on: Job, model: str) -> tuple[str, list[str], JsonConversation | None, float]:
        started = time.monotonic()
        parts: list[str] = []
        log: list[str] = []
        conversation = None
        async for ev in on.client.run(asking(model), prefer=prefer):
            if isinstance(ev, JsonConversation):
                conversation = ev
            elif isinstance(ev, Reasoning):
                _heard(ev, index, view, log, handovers)
            elif isinstance(ev, str):
                parts.append(ev)
                view.text(ev)
        return "".join(parts), log, conversation, time.monotonic() - started

    (text, log, conversation, elapsed), note = await answered(job, index, view, attempt)
    note = "; ".join(x for x in (*handovers, note) if x)
    chat.messages[:] = [*messages, {"role": "assistant", "content": text}]
    chat.conversation = conversation
    result = Result(job.prompt, job.model, job.seed, text=text, elapsed=elapsed, log=log, note=note,
                    asked_about=asked_about)
    if store is not None:
        await asyncio.to_thread(store.put, key, _stored(result, []), [])
    return result


async def _say_quota(first: Job, runs: int, what: str, view: View) -> None:
    """Before a sweep or a batch larger than the account's ZeroGPU quota covers, one line says so (nothing when
    the quota is unknown: anonymous, a token that may not read it, one's own servers only)."""
    if not first.client.on_zerogpu(first.model):
        return
    quota = await first.client.quota(first.model)
    if quota is None or quota.images() >= runs:
        return
    left = quota.resets_in()
    back = f"; it resets in {clock(left)}" if left is not None else ""
    words, handover = first.policy.words, first.policy.handover
    past = (f"the rest go to {handover.name}, as the quota_handover setting says" if handover is not None else
            f"{said(words, 'wait')} waits for the reset, {said(words, 'fallback')} asks another model, the "
            "quota_handover setting would send the rest to Inference Providers (your credits)")
    view.status(0, Reasoning(f"{runs} {what}, about {quota.images()} images of ZeroGPU quota left "
                             f"({REQUESTED_GPU_SECONDS:g} s of GPU each{back}): past it, {past}", "quota"))


async def run_sweep(sweep: Sweep, view: View) -> SweepSet:
    """Every cell of the grid (as many at once per Space as its run slots allow); a failed cell keeps its
    error and the others go on. The view hears each cell's outcome as it comes."""
    cells = [SweepCell(values) for values in sweep.cells]
    started = time.monotonic()
    await _say_quota(sweep.jobs[0], len(cells), "cells", view)

    async def one(index: int, job: Job) -> None:
        try:
            # a cell is one picture: Janus's gallery gives its first (the seed makes the others anew)
            cells[index].result = (await _image_one(job, index, job.seed, view))[0]
        except G4FError as exc:
            cells[index].error = exc
            view.cell(index, None, f"{type(exc).__name__}: {exc}")
            return
        view.cell(index, cells[index].result, None)

    await _all_or_nothing([one(i, job) for i, job in enumerate(sweep.jobs)])  # only a cancel ends it early
    grid = SweepSet.of(sweep, cells)
    grid.elapsed = time.monotonic() - started  # the sweep's own time, its cells waiting for slots included
    return grid


class _Pool:
    """The Spaces a batch's model is served by (its own, the official ones, the user's duplicates and servers):
    each item goes to the one with the fewest items in flight, each Space's run slots bounding its own share.
    A Space that handed its item on (paused, gone, asleep, full) is benched, for BENCH s and twice as long
    each time after."""

    BENCH = 30.0
    MAX_BENCH = 600.0

    def __init__(self, bases: list[str]) -> None:
        self.load = dict.fromkeys(bases, 0)
        self.benched: dict[str, tuple[float, float]] = {}  # base → (until, how long the last time)

    def pick(self) -> str:
        now = time.monotonic()
        ready = [b for b in self.load if self.benched.get(b, (0.0, 0.0))[0] <= now]
        if not ready:  # every Space benched: the one back soonest
            return min(self.load, key=lambda b: self.benched[b][0])
        return min(ready, key=lambda b: self.load[b])  # ties: the model's own order

    def bench(self, base: str) -> None:
        last = self.benched.get(base, (0.0, 0.0))[1]
        length = min(self.MAX_BENCH, last * 2 if last else self.BENCH)
        self.benched[base] = (time.monotonic() + length, length)


def _served_by(result: Result, bases: list[str]) -> str | None:
    """Which of ``bases`` made ``result``: the one its image's URL (or a Space's hand-over note) points at."""
    url = result.url or ""
    for base in bases:
        if url.startswith(base.rstrip("/") + "/"):
            return base
    return None


class _ItemView:
    """A batch item's view: the batch's, except that each status line also tells the item which Space it came
    from (the manifest names every Space that tried it)."""

    def __init__(self, view: View, item: BatchItem) -> None:
        self._view, self._item = view, item

    def status(self, index: int, event: Reasoning) -> None:
        self._item.heard(event.space)
        self._view.status(index, event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)


async def _item_result(job: Job, item: BatchItem, index: int, view: View, prefer: str | None) -> Result:
    """One item's result: its image read first when it is a question about one (and let go after), then
    its own conversation or its image, asking ``prefer`` (the pool's pick) first."""
    image = None
    if item.load is not None:
        image = await item.load(job.client)
        if image_mime(image) is None:
            raise InvalidOption(f"{item.source} is not a PNG, JPEG, GIF or WebP image")
        item.thumb = await asyncio.to_thread(thumbnail, image, BATCH_THUMB, "WEBP")
    if job.spec.chats:  # each image its own conversation: no question sees another's answer
        return await _chat(job, ChatState(), view, index, image, prefer, shown=False)  # item.thumb shows it
    return (await _image_one(job, index, job.seed, view, prefer))[0]


async def _spilled(batch: Batch, item: BatchItem, index: int, view: View) -> None:
    """The item's image on disk as it arrives (the kernel does not hold a thousand images); a full disk keeps
    it in memory, and the save at the end says so."""
    if batch.folder is None:
        return
    try:
        await asyncio.to_thread(spill, item, len(batch.items), batch.folder)
    except OSError as exc:
        view.status(index, Reasoning(f"could not write to {batch.folder}: {exc.strerror or exc}", "log"))


async def run_batch(batch: Batch, view: View) -> BatchSet:
    """Every item, BATCH_WORKERS at a time whatever the batch's size (a replayed item takes no Space slot);
    a failed item keeps its error and the others go on, except past the GPU quota (which is the caller's on
    every ZeroGPU Space, after --wait and --fallback had their say): then the items not yet sent stay
    "not run", for a rerun once the quota is back, rather than each spending a request to be refused.
    Interrupted, the batch keeps what had finished in ``batch.partial`` before the cancellation goes on: the
    front end hands that set to the user."""
    items = batch.items
    pending = iter(range(len(items)))  # shared: each worker takes the next item
    started = time.monotonic()
    first = batch.jobs[0]
    bases = first.client.spaces(first.model)
    pool = _Pool(bases) if len(bases) > 1 else None
    await _say_quota(first, len(items), "items", view)

    halted: list[QuotaExceeded] = []  # the GPU quota ran out past --wait and --fallback: no item would get further

    async def worker() -> None:
        for index in pending:
            if halted:  # the item stays "not run": ``.failed`` runs it again once the quota is back
                return
            job, item = batch.jobs[index], items[index]
            chosen = None
            if pool is not None:
                chosen = pool.pick()
                pool.load[chosen] += 1
            try:
                item.result = await _item_result(job, item, index, cast(View, _ItemView(view, item)), chosen)
            except G4FError as exc:
                item.error = exc
                item.heard(*exc.spaces)
                if isinstance(exc, QuotaExceeded) and not halted:  # it is the identity's, shared by every Space
                    halted.append(exc)
                    view.status(index, Reasoning("the GPU quota ran out: no more items are sent", "log"))
                view.cell(index, None, f"{type(exc).__name__}: {exc}")
                continue
            finally:
                if pool is not None and chosen is not None:
                    pool.load[chosen] -= 1
            if pool is not None and chosen is not None and item.result.replayed is None \
                    and _served_by(item.result, bases) not in (None, chosen):
                pool.bench(chosen)  # it handed the item on: its next items go elsewhere for a while
            view.cell(index, item.result, None)  # done as soon as it is made: a stop while it is written keeps it
            await _spilled(batch, item, index, view)

    # enough workers to fill every Space's first run slots (more as they learn, within BATCH_WORKERS), and never
    # more than there are items: a Space that hands its items on must not have taken a ceiling's worth first
    in_flight = max(BATCH_WORKERS, len(bases) * min(FIRST_SLOTS, first.client.target.space_concurrency))
    workers = [asyncio.ensure_future(worker()) for _ in range(min(in_flight, len(items)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        batch.partial = BatchSet(items, batch.template, batch.batch_seed)
        batch.partial.elapsed = time.monotonic() - started
        raise
    done = BatchSet(items, batch.template, batch.batch_seed)
    done.elapsed = time.monotonic() - started
    done.halted = halted[0] if halted else None
    return done


async def run_job(job: Job | Sweep | Batch, view: View, chat: ChatState | None = None,
                  image: bytes | None = None) -> Result | ResultSet:
    """Run ``job`` (a question about ``image``, for the model that reads one); several images come back as a
    ``ResultSet``, a sweep as a ``SweepSet``, a batch as a ``BatchSet`` (a question batch reads its own
    images: ``image`` is for one question)."""
    if image is not None and not (isinstance(job, Job) and job.spec.chats):
        option = said(_words(job), "image")
        if isinstance(job, Batch):
            raise InvalidOption(f"{option}: a batch reads each item's own image")
        what = "a sweep" if isinstance(job, Sweep) else job.model
        raise InvalidOption(f"{option} is read by janus-pro-7b only; {what} makes images from text")
    if isinstance(job, Sweep):
        return await run_sweep(job, view)
    if isinstance(job, Batch):
        return await run_batch(job, view)
    if job.spec.chats:
        return await _chat(job, chat if chat is not None else ChatState(), view, image=image)

    async def one(index: int, seed: int | None) -> list[Result]:
        results = await _image_one(job, index, seed, view)
        if job.count > 1:
            view.cell(index, results[0], None)
        return results

    batches = await _all_or_nothing([one(i, s) for i, s in enumerate(_seeds(job))])
    results = [r for batch in batches for r in batch]
    return results[0] if len(results) == 1 else ResultSet(results)


def _words(job: Job | Sweep | Batch) -> Words:
    first = job if isinstance(job, Job) else job.jobs[0]
    return first.policy.words


async def run_in_view(job: Job | Sweep | Batch, view: View, chat: ChatState | None = None,
                      image: bytes | None = None) -> Result | ResultSet:
    """``run_job`` with the view's clock running, and the result handed to the view at the end."""
    ticker = asyncio.ensure_future(view.ticker())
    try:
        result = await run_job(job, view, chat, image)
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    view.finish(result if isinstance(result, ResultSet) else [result])  # a SweepSet stays one
    return result
