"""The ipywidgets panel: inputs, Generate/Stop/Clear, one live row per run, newest image, gallery.

A thin layer over the same engine and ``WidgetView`` as the magic. Every generation is a task on
the kernel's loop, so the kernel stays free and several runs can go at once.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from typing import Any, cast

import anywidget
import ipywidgets as w
import traitlets

from ..engine.batch import Batch, BatchSet, items_of
from ..engine.job import MAX_COUNT, ChatState, Job
from ..engine.plan import build_batch, build_job, build_question_batch, build_run
from ..engine.result import Result, ResultSet
from ..engine.sweep import Sweep, SweepSet, parse_values
from ..errors import G4FError, InvalidOption
from ..inference import AUTO, SPACES
from ..media import thumbnail
from ..spaces.providers import G4F, model_info
from ..spaces.sizes import COMMON_RATIOS, MAX_SIDE, MIN_SIDE, image_size
from .html import (
    COLOURS,
    DISPLAY_WIDTH,
    EMBEDDED,
    Display,
    caption_html,
    chat_html,
    copy_html,
    download_html,
    error_html,
    hide_copy_html,
    line_html,
    run_bundle,
    saved_html,
    sweep_bundle,
    sweep_line,
)
from .runner import kernel_loop
from .runs import Ending, run_to_end
from .settings import active, values
from .sources import Source, batch_folder, image_sources, items_named, listed
from .views import BatchView, SweepView, WidgetView, close_tree

__all__ = ["Panel", "PromptBox"]

# the panel's words for the options the engine's messages name: its controls' labels and its settings
WORDS = {"each": "each", "count": "count", "image": "image", "seed": "seed", "model": "model", "aspect_ratio": "ratio",
         "wait": "the wait setting", "fallback": "the fallback setting"}
PANEL_PROVIDERS = ("fal-ai", "replicate", "nscale", "wavespeed")  # those that serve FLUX (hub-docs), by name
THUMB = 96  # px, square
HISTORY = 4  # finished runs listed under the controls
GALLERY_PER_BATCH = EMBEDDED  # a batch's images in the gallery: those its output embeds; the rest are in its folder


class PromptBox(anywidget.AnyWidget):
    """A textarea that sends ``submit`` on Ctrl+Enter (Cmd+Enter on a Mac)."""

    _esm = Path(__file__).with_name("prompt_box.js")  # anywidget reads the file; a cleanup on unmount
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._submit_handlers: list[Any] = []
        self.on_msg(self._on_msg)

    def on_submit(self, handler: Any) -> None:
        self._submit_handlers.append(handler)

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "submit":
            if isinstance(content.get("value"), str):
                self.value = content["value"]
            for handler in self._submit_handlers:
                handler(self)


def _thumbnail(data: bytes) -> bytes:
    """A small square-cropped PNG: the gallery's tiles line up whatever the aspect ratio."""
    return thumbnail(data, THUMB)


class Panel:
    """``%g4f panel`` or ``g4f_magic.Panel()`` in a notebook cell.

    Two outputs: the live panel, and below it a plain output of every finished result, which is what
    a saved notebook shows once the kernel is gone. While the panel is live it hides that copy with a
    style of its own, so nothing shows twice.
    """

    def __init__(self, magics: Any = None, *, namespace: dict[str, Any] | None = None, **overrides: Any) -> None:
        loop = kernel_loop()
        if loop is None:
            raise InvalidOption("the panel needs a running event loop: use it in a Jupyter kernel")
        self._loop = loop
        self.settings = {**values(magics if magics is not None else active()), **overrides}
        if namespace is None:  # what a batch's "each" field names: the kernel's variables
            from IPython import get_ipython

            shell = get_ipython()
            namespace = shell.user_ns if shell is not None else None
        self.namespace = namespace
        self.batches: list[BatchSet] = []  # every batch run here, done or stopped, oldest first
        self._batch_html: dict[int, str] = {}  # id(batch) → its settled output, made once (its thumbnails cost)
        self.chat = ChatState()
        self.asked: dict[int, bytes] = {}  # a question's index in the chat → a thumbnail of its image
        self.results: list[Result] = []
        self.current: Result | None = None
        self.tasks: dict[asyncio.Task[Any], WidgetView] = {}
        self._live: dict[int, tuple[w.Box, ...]] = {}  # id(view) → the rows a running run has in the panel
        self._syncing = False
        self._finished: list[str] = []  # status lines of finished runs, newest first
        self._id = uuid.uuid4().hex[:12]  # the plain copy's display id, and the class that hides it
        self._shown = False
        self._build()

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        s = self.settings
        self.prompt = PromptBox()
        kinds = {r["model"]: r["kind"] for r in model_info()}
        narrow = {"description_width": "56px"}
        self.model = w.Dropdown(options=[(f"{m} ({kinds[m]})", m) for m in G4F.models],
                                value=s["default_model"] if s["default_model"] in kinds else G4F.default_model,
                                description="model", style=narrow, layout=w.Layout(width="auto"))  # the column, less its margin
        # where FLUX runs: the free Spaces unless the user picks Inference Providers (their credits pay)
        places = [("the free Spaces", SPACES), ("Inference Providers (auto)", AUTO),
                  *((p, p) for p in PANEL_PROVIDERS)]
        chosen = s.get("provider") or SPACES
        if chosen not in dict(places).values():
            places.append((chosen, chosen))
        self.backend = w.Dropdown(options=places, value=chosen, description="on", style=narrow,
                                  layout=w.Layout(width="auto"))
        ratio = s["aspect_ratio"] if s["aspect_ratio"] in COMMON_RATIOS else "custom"
        self.ratio = w.Dropdown(options=[*COMMON_RATIOS, "custom"], value=ratio, description="ratio",
                                style=narrow, layout=w.Layout(width="140px"))
        first = image_size(s["aspect_ratio"]) if ratio != "custom" else (1024, 1024)
        self.width = w.BoundedIntText(value=first[0], min=MIN_SIDE, max=MAX_SIDE, step=8, description="width",
                                      style=narrow, layout=w.Layout(width="128px"))
        self.height = w.BoundedIntText(value=first[1], min=MIN_SIDE, max=MAX_SIDE, step=8, description="height",
                                       style=narrow, layout=w.Layout(width="128px"))
        self.seed = w.BoundedIntText(value=0, min=0, max=2**32 - 1, description="seed", disabled=True,
                                     style=narrow, layout=w.Layout(width="190px"))
        self.random_seed = w.Checkbox(value=True, description="random", indent=False, layout=w.Layout(width="80px"))
        self.count = w.BoundedIntText(value=1, min=1, max=MAX_COUNT, description="count", style=narrow,
                                      layout=w.Layout(width="130px"))
        self.upload = w.FileUpload(accept="image/png,image/jpeg,image/gif,image/webp", multiple=True,
                                   description="image", layout=w.Layout(display="none"))
        self.generate_button = w.Button(description="Generate", button_style="primary", icon="play",
                                        layout=w.Layout(width="110px"))
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True, layout=w.Layout(width="80px"))
        self.clear_button = w.Button(description="Clear", icon="trash", layout=w.Layout(width="80px"))
        self.new_chat_button = w.Button(description="New chat", layout=w.Layout(display="none", width="100px"))
        # compare: the other controls fixed, one option takes a list of values; the grid shows them side by side
        self.compare = w.Checkbox(value=False, description="compare", indent=False, layout=w.Layout(width="90px"))
        self.compare_axis = w.Dropdown(options=[("seed", "seed"), ("model", "model"), ("ratio", "aspect_ratio"),
                                                ("steps", "steps"), ("guidance", "guidance")],
                                       value="seed", layout=w.Layout(width="100px"), disabled=True)
        self.compare_values = w.Text(placeholder="values: 1, 2, 3", disabled=True, layout=w.Layout(width="210px"))
        self.compare.add_class("g4f-compare")
        self.compare.observe(self._on_compare, names="value")
        # batch: the prompt over many items (a prompt per line, or a template over a variable or a file), or for
        # Janus one question over many images; one bounded live view, its output under both columns
        self.batch = w.Checkbox(value=False, description="batch", indent=False, layout=w.Layout(width="90px"))
        self.each = w.Text(disabled=True, layout=w.Layout(width="310px"))
        self.batch.add_class("g4f-batch-mode")
        self.each.add_class("g4f-each")
        self.batch.observe(self._on_batch, names="value")
        self.error = w.HTML("")
        self.runs = w.VBox([])  # running rows, newest first
        self.history = w.HTML("")  # the last few finished runs, one line each
        self.large = w.Image(layout=w.Layout(width="100%", height="auto", margin="2px 0", display="none"))  # 100% + a margin would overflow
        self.caption = w.HTML("")
        self.save_button = w.Button(description="Save PNG", icon="save", tooltip="save with its recipe in image_dir",
                                    layout=w.Layout(width="100px"))
        self.download_link = w.HTML("")
        self.reuse_button = w.Button(description="Reuse seed", icon="repeat", layout=w.Layout(width="124px"))
        self.actions = w.HBox([self.save_button, self.download_link, self.reuse_button],
                              layout=w.Layout(display="none", align_items="center", flex_flow="row wrap"))
        self.gallery = w.Box(layout=w.Layout(flex_flow="row wrap", max_height="230px", overflow="hidden auto"))
        self.transcript = w.HTML("", layout=w.Layout(display="none", max_height="480px", overflow="auto"))
        # the running comparison, then its finished grid: under both columns, as wide as the cell
        self.sweeps: list[SweepSet] = []
        self.compare_area = w.VBox([], layout=w.Layout(overflow="auto"))
        # while this widget is on the page, the plain copy of the results (for the saved notebook) is hidden
        self._hide_copy = w.HTML(hide_copy_html(self._id), layout=w.Layout(display="none"))

        self.model.observe(self._on_model, names="value")
        self.ratio.observe(self._on_ratio, names="value")
        self.width.observe(self._on_side, names="value")
        self.height.observe(self._on_side, names="value")
        self.random_seed.observe(lambda c: setattr(self.seed, "disabled", c["new"]), names="value")
        self.generate_button.on_click(lambda _: self.generate())
        self.prompt.on_submit(lambda _: self.generate())
        self.stop_button.on_click(lambda _: self.stop())
        self.clear_button.on_click(lambda _: self.clear())
        self.new_chat_button.on_click(lambda _: self.new_chat())
        self.save_button.on_click(lambda _: self.save())
        self.reuse_button.on_click(lambda _: self.reuse_seed())

        # rows wrap rather than scroll when the column is narrow (a side panel open, a small screen)
        def rows() -> w.Layout:  # one Layout each: a shared one would hide every row when one is hidden
            return w.Layout(flex_flow="row wrap")

        self.size_row = w.HBox([self.ratio, self.width, self.height], layout=rows())
        self.seed_row = w.HBox([self.seed, self.random_seed, self.count], layout=rows())
        self.compare_row = w.HBox([self.compare, self.compare_axis, self.compare_values], layout=rows())
        self.batch_row = w.HBox([self.batch, self.each], layout=rows())
        self.buttons_row = w.HBox([self.generate_button, self.stop_button, self.clear_button, self.new_chat_button],
                                  layout=rows())
        controls = w.VBox([
            self.prompt, self.model, self.backend, self.size_row, self.seed_row, self.compare_row, self.batch_row, self.upload,
            self.buttons_row,
            self.error, self.runs, self.history,
        ], layout=w.Layout(min_width="0"))
        self.image_side = w.VBox([self.large, self.caption, self.actions, self.gallery])
        # two columns: the controls, and the image (at most DISPLAY_WIDTH) or the chat beside them. The controls
        # keep 420 px while the image column can give way; both fit JupyterLab at 1280 px with a side panel open.
        # A comparison's or a batch's grid goes under both, as wide as the output: a box under the grid, since the
        # widget manager in JupyterLab 4 does not apply a child's grid_column (measured: it spanned one column).
        columns = w.GridBox([controls, w.VBox([self.image_side, self.transcript], layout=w.Layout(min_width="0"))],
                            layout=w.Layout(grid_template_columns=f"minmax(300px, 420px) minmax(0, {DISPLAY_WIDTH}px)",
                                            grid_gap="0 16px", align_items="flex-start"))
        self.widget = w.VBox([columns, self.compare_area, self._hide_copy], layout=w.Layout(min_width="0"))
        self.widget.add_class("g4f-panel")
        self._on_model({"new": self.model.value})

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = "g4f panel (live while the kernel runs; its results are kept in the output below)"
        return data

    def _ipython_display_(self) -> None:
        """The live panel, then the plain copy of its results that a saved notebook keeps."""
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
        display(self._copy_bundle(), raw=True, display_id=self._id)
        self._shown = True

    def _copy_bundle(self) -> dict[str, str]:
        images = [r for r in self.results if r.image is not None]
        in_sweeps = {id(r) for grid in (*self.sweeps, *self.batches) for r in grid}
        made = [f"{len(images)} image{'s' * (len(images) != 1)}"] if images else []
        made += [f"{len(self.batches)} batch{'es' * (len(self.batches) != 1)}"] if self.batches else []
        made += ["chat"] if self.chat.messages else []
        line = " · ".join(["g4f panel", *(made or ["nothing generated yet"])])
        shown = Display.of(self.settings)
        bundle = run_bundle(line, "done", [r for r in images[::-1] if id(r) not in in_sweeps], display=shown)
        for grid in self.sweeps[::-1]:  # each comparison as its labelled table, newest first
            bundle["text/html"] += sweep_bundle(sweep_line(grid), "done", grid, display=shown)["text/html"]
        for batch in self.batches[::-1]:  # each batch as its light output: embedded thumbnails, the folder linked
            bundle["text/html"] += self._batch_html[id(batch)]
        if self.chat.messages:
            bundle["text/html"] += chat_html(self.chat.messages, self.asked)
        bundle["text/html"] = copy_html(self._id, bundle["text/html"])
        return bundle

    def _update_copy(self) -> None:
        if not self._shown:  # made in code and never displayed: there is no copy to update
            return
        from IPython.display import update_display

        update_display(self._copy_bundle(), display_id=self._id, raw=True)

    # -- inputs --------------------------------------------------------------------------------
    def _on_model(self, change: dict[str, Any]) -> None:
        """The controls follow the model: a chat asks and answers; an image model sizes and seeds."""
        model = G4F.model(change["new"])
        chat = model.chats
        shown, hidden = "", "none"
        self.upload.layout.display = shown if chat else hidden
        self.new_chat_button.layout.display = shown if chat else hidden
        self.transcript.layout.display = shown if chat else hidden
        self.image_side.layout.display = hidden if chat else shown
        self.size_row.layout.display = shown if model.sized else hidden
        self.seed_row.layout.display = hidden if chat else shown
        self.compare_row.layout.display = hidden if chat else shown
        self.generate_button.description = "Ask" if chat else "Generate"
        self.each.placeholder = ("images: a folder, a glob or a variable" if chat
                                 else "each: a variable or a .txt/.csv/.jsonl file")
        self._placeholder()

    def _placeholder(self) -> None:
        chat = G4F.model(self.model.value).chats
        if self.batch.value:
            self.prompt.placeholder = (
                "The question to ask about each image: upload several, or name them beside 'batch' (Ctrl+Enter)"
                if chat else "One prompt per line, or a template such as 'a {item}, watercolor' over the items "
                             "named beside 'batch' (Ctrl+Enter)")
        else:
            self.prompt.placeholder = ("Ask Janus a question, optionally about an uploaded image (Ctrl+Enter)" if chat
                                       else "Describe the image (Ctrl+Enter to generate)")

    def _on_compare(self, change: dict[str, Any]) -> None:
        self.compare_axis.disabled = self.compare_values.disabled = not change["new"]
        if change["new"]:
            self.batch.value = False  # one or the other: a comparison of a batch would be a batch per value

    def _on_batch(self, change: dict[str, Any]) -> None:
        self.each.disabled = not change["new"]
        if change["new"]:
            self.compare.value = False
        self._placeholder()

    def _set_size(self, width: int, height: int) -> None:
        self._syncing = True
        try:
            self.width.value, self.height.value = width, height
        finally:
            self._syncing = False

    def _on_ratio(self, change: dict[str, Any]) -> None:
        if change["new"] != "custom":
            self._set_size(*image_size(change["new"]))

    def _on_side(self, change: dict[str, Any]) -> None:
        """Keep sides multiples of 8, and in step with the ratio unless it is custom."""
        if self._syncing:
            return
        ratio = self.ratio.value
        if change["owner"] is self.width:
            w_, h_ = image_size(ratio, width=change["new"]) if ratio != "custom" else \
                image_size("1:1", change["new"], self.height.value)
        else:
            w_, h_ = image_size(ratio, height=change["new"]) if ratio != "custom" else \
                image_size("1:1", self.width.value, change["new"])
        self._set_size(w_, h_)

    def _plan(self) -> Job | Sweep | Batch:
        """The run the controls describe: one job; with compare on, a sweep over one option; with batch on (or
        several images uploaded for Janus), a batch."""
        if self.batch.value or (G4F.model(self.model.value).chats and len(self.upload.value) > 1):
            return self._batch()
        if not self.compare.value:
            return self._job()
        name = self.compare_axis.value
        values = parse_values(name, self.compare_values.value.strip() or None,
                              {name: f"compare {self.compare_axis.label}"})
        if len(values) < 2:
            raise InvalidOption(f"compare needs two or more {self.compare_axis.label} values, separated by commas")
        fixed = self._job()  # the other controls' values, checked as for a single run
        sized = fixed.spec.sized and name != "aspect_ratio"  # a ratio list sizes itself
        choices: dict[str, list[Any]] = {"model": [fixed.model], "aspect_ratio": [fixed.aspect_ratio],
                                         "seed": [fixed.seed], "steps": [None], "guidance": [None], name: values}
        return build_run(self.settings, prompt=fixed.prompt, choices=choices, provider=self.backend.value,
                         width=fixed.width if sized else None, height=fixed.height if sized else None)

    def _batch(self) -> Batch:
        """The prompt over the items: each line of the prompt box, or the items the "each" field names (a
        variable, an expression, a file) with the prompt as their template; for Janus, the question over each
        image uploaded, or those the field names. A random seed draws the batch's seed; a fixed one makes
        every item's seed the same on a rerun, so that what finished replays."""
        model = G4F.model(self.model.value)
        ref = self.each.value.strip()
        seed = None if self.random_seed.value else self.seed.value
        if seed is None:
            lo, hi = model.seeds
            seed = random.randint(lo, hi)
        if model.chats:
            sources = self._sources(ref)
            return build_question_batch(self.settings, question=self.prompt.value.strip(), sources=sources,
                                        provider=self.backend.value,
                                        model=model.name, seed=seed, words=WORDS)
        if self.count.value != 1:
            raise InvalidOption("a batch makes one image per item: set count to 1 (list an item twice for two)")
        if ref:
            rows, template = items_of(items_named(ref, self._evaluate, "each"), WORDS), self.prompt.value
        else:  # a prompt per line
            lines = [line.strip() for line in self.prompt.value.splitlines() if line.strip()]
            rows, template = items_of(lines, {**WORDS, "each": "the prompt's lines"}), ""
        sized = model.sized
        return build_batch(self.settings, template=template, rows=rows, model=model.name, seed=seed,
                           provider=self.backend.value,
                           aspect_ratio=self.ratio.value if sized and self.ratio.value != "custom" else None,
                           width=self.width.value if sized else None, height=self.height.value if sized else None,
                           words=WORDS)

    def _sources(self, ref: str) -> list[Source]:
        """The images a question batch is about: those uploaded, or those ``ref`` names."""
        if ref:
            found = image_sources(ref, self.namespace or {}, "images")
            if found is None:
                raise InvalidOption(f"images {ref}: name a folder, a glob or a variable holding several images")
            return found
        files = list(self.upload.value)
        if len(files) < 2:
            raise InvalidOption("a question batch needs several images: upload them, or name a folder, a glob or "
                                "a variable beside 'batch'")
        loaders = [load for _, load in listed([bytes(f["content"]) for f in files], "upload")]
        return [(f["name"], load) for f, load in zip(files, loaders)]  # each by the name it was uploaded with

    def _evaluate(self, ref: str) -> Any:
        if self.namespace is None:
            raise InvalidOption("no kernel namespace to read it from")
        return eval(ref, self.namespace)  # noqa: S307 - the user's own expression, in their own kernel

    def _job(self) -> Job:
        model = G4F.model(self.model.value)
        sized = model.sized
        return build_job(
            self.settings, model=self.model.value, prompt=self.prompt.value.strip(), provider=self.backend.value,
            aspect_ratio=self.ratio.value if sized and self.ratio.value != "custom" else None,
            width=self.width.value if sized else None, height=self.height.value if sized else None,
            seed=None if self.random_seed.value else self.seed.value,
            count=1 if model.chats else self.count.value, words=WORDS,
        )

    def _asked_about(self, job: Job | Sweep | Batch) -> bytes | None:
        """The uploaded image a chat's question is about (a batch reads each of its uploads itself)."""
        if isinstance(job, Job) and job.spec.chats and self.upload.value:
            return bytes(self.upload.value[0]["content"])
        return None

    # -- actions -------------------------------------------------------------------------------
    def generate(self) -> asyncio.Future[Any] | None:
        """Start a run (the Generate button, Ctrl+Enter). Bad input is one red line."""
        self.error.value = ""
        if not self.prompt.value.strip():
            self.error.value = error_html("the prompt is empty")
            return None
        try:
            job = self._plan()
            if isinstance(job, Batch):
                job.folder = batch_folder(job, self.settings.get("image_dir") or ".",
                                          autosave=bool(self.settings.get("autosave")))
        except G4FError as exc:
            self.error.value = error_html(str(exc))
            return None
        view: WidgetView
        if isinstance(job, Sweep):
            view = SweepView(job)
        elif isinstance(job, Batch):
            view = BatchView(job, folder=job.folder)
        else:
            view = WidgetView(job.model, job.count)
        view.brief = True  # the panel's column: its live lines in their short form
        stop_one = w.Button(icon="stop", tooltip="stop this run", layout=w.Layout(width="36px", flex="none"))
        if isinstance(job, (Sweep, Batch)):  # its live line under the buttons, where the eye is; the rest below
            head, *body = view.widget.children
            row = w.HBox([head, stop_one])
            grid = w.VBox(body)
            self.compare_area.children = (grid, *self.compare_area.children)
            parts: tuple[w.Box, ...] = (row, grid)
        else:
            row = w.HBox([view.widget, stop_one])
            parts = (row,)
        self.runs.children = (row, *self.runs.children)
        self._live[id(view)] = parts
        coro = self._run(job, view, parts, self._asked_about(job))
        if kernel_loop() is self._loop:
            task: asyncio.Future[Any] = self._loop.create_task(coro)
        else:  # a comm handler on another thread
            task = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop), loop=self._loop)
        self.tasks[task] = view  # type: ignore[index]
        if isinstance(job, Job) and job.spec.chats:
            self.prompt.value = ""  # asked: the box is for the next question (a failed one comes back)
        stop_one.on_click(lambda _: task.cancel())
        self.stop_button.disabled = False
        return task

    async def _run(self, job: Job | Sweep | Batch, view: WidgetView, parts: tuple[w.Box, ...],
                   image: bytes | None = None) -> Result | ResultSet | None:
        chat = self.chat if isinstance(job, Job) and job.spec.chats else None

        async def stopped(partial: BatchSet | None) -> None:
            self._give_back(chat, job)
            if partial is not None:  # stopped: what had finished is kept, and the view retired
                await asyncio.shield(self._keep_batch(partial, view, parts, cast(Batch, job).folder))
            else:
                self._retire(view, parts)

        def failed(_: G4FError) -> None:  # said once: in the run's own line
            self._give_back(chat, job)
            self._retire(view, parts)

        async def asked() -> bytes | None:
            return image

        result = await run_to_end(job, view, Ending(stopped, failed, lambda: self._retire(view, parts)), chat, asked)
        if result is None:
            return None
        if isinstance(result, BatchSet):  # its live view stays until its output replaces it
            await self._keep_batch(result, view, parts, cast(Batch, job).folder)
            return result
        self._retire(view, parts)
        if chat is not None:
            if image is not None:  # the question just answered, with its image
                self.asked[len(self.chat.messages) - 2] = await asyncio.to_thread(_thumbnail, image)
            self.transcript.value = chat_html(self.chat.messages, self.asked)
        if isinstance(result, SweepSet):
            self.sweeps.append(result)
            grid = w.HTML(sweep_bundle(sweep_line(result), "done", result, display=Display.of(self.settings))["text/html"])
            self.compare_area.children = (grid, *self.compare_area.children)
        for r in result if isinstance(result, ResultSet) else [result]:
            if r.image is not None:
                thumb = await asyncio.to_thread(_thumbnail, r.image.data)  # decoding stays off the loop
                self._add(r, thumb)
        self._update_copy()
        return result

    async def _keep_batch(self, batch: BatchSet, view: WidgetView, parts: tuple[w.Box, ...],
                          folder: str | None) -> None:
        """A batch, done or stopped: its output (a line, at most EMBEDDED thumbnails, the folder's link) under
        both columns and in the saved copy; its images written to its folder with the manifest; the first
        ones in the gallery, the newest shown large."""
        try:
            if folder:
                try:
                    await asyncio.to_thread(batch.save, folder)
                except (OSError, G4FError) as exc:  # the images are shown all the same
                    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                    self.error.value = error_html(f"could not save to {folder}: {reason}")
            html = (await asyncio.to_thread(view.bundle))["text/html"]
            self.batches.append(batch)
            self._batch_html[id(batch)] = html
            output = w.HTML(html)
            self.compare_area.children = (output, *self.compare_area.children)
            for r in [r for r in batch if r.image is not None][:GALLERY_PER_BATCH]:
                self._add(r, await asyncio.to_thread(_thumbnail, r.image.data))  # type: ignore[union-attr]
            self._update_copy()
        finally:
            self._retire(view, parts)

    def _give_back(self, chat: ChatState | None, job: Job | Sweep | Batch) -> None:
        """A question that got no answer goes back into the box, unless another is being typed."""
        if chat is not None and isinstance(job, Job) and not self.prompt.value.strip():
            self.prompt.value = job.prompt

    def _retire(self, view: WidgetView, parts: tuple[w.Box, ...]) -> None:
        """A finished run leaves its row (and a comparison its live grid) for one line in the short history;
        its widgets are closed."""
        self.runs.children = tuple(r for r in self.runs.children if all(r is not p for p in parts))
        self.compare_area.children = tuple(r for r in self.compare_area.children if all(r is not p for p in parts))
        self._live.pop(id(view), None)
        for part in (*parts, view.widget):
            close_tree(part)
        for t, v in list(self.tasks.items()):
            if v is view:
                del self.tasks[t]
        self.stop_button.disabled = not self.tasks
        self._finished = [line_html(view.line, view.state), *self._finished][:HISTORY]
        self.history.value = "".join(self._finished)

    def stop(self) -> None:
        """Cancel every running generation; each closes its connection."""
        for task in list(self.tasks):
            task.cancel()

    def clear(self) -> None:
        """Forget results, the chat and finished runs; running ones stay."""
        live = {id(part) for parts in self._live.values() for part in parts}  # a comparison's or a batch's live grid
        running = [c for c in self.compare_area.children if id(c) in live]
        gone = [*self.gallery.children, *(c for c in self.compare_area.children if id(c) not in live)]
        self.results.clear()
        self.sweeps.clear()
        self.batches.clear()
        self._batch_html.clear()
        self.gallery.children = ()
        self.compare_area.children = tuple(running)
        for widget in gone:  # a widget nobody shows still lives in the kernel until closed
            close_tree(widget)
        self._finished = []
        self.history.value = ""
        self.current = None
        self.large.value, self.large.layout.display = b"", "none"
        self.caption.value = self.download_link.value = self.error.value = ""
        self.actions.layout.display = "none"
        self.new_chat()

    def new_chat(self) -> None:
        self.chat.reset()
        self.asked.clear()
        self.transcript.value = ""
        self._update_copy()

    # -- results -------------------------------------------------------------------------------
    def _add(self, result: Result, thumbnail: bytes) -> None:
        self.results.append(result)
        thumb = w.Image(value=thumbnail, format="png", layout=w.Layout(width=f"{THUMB}px", height=f"{THUMB}px"))
        # the seed alone fits a tile (10 digits); the tooltip says the rest
        button = w.Button(description=str(result.seed), tooltip=f"seed {result.seed} · {result.prompt}",
                          layout=w.Layout(width=f"{THUMB}px", height="24px", padding="0 2px"))
        button.style.font_size = "11px"
        button.on_click(lambda _, r=result: self.show(r))
        tile = w.VBox([thumb, button], layout=w.Layout(margin="2px", border="2px solid transparent"))
        tile._g4f_result = result  # type: ignore[attr-defined]
        self.gallery.children = (tile, *self.gallery.children)
        self.show(result)

    def show(self, result: Result) -> None:
        """Show one result large (the newest, or a gallery tile that was clicked), marked in the gallery."""
        self.current = result
        assert result.image is not None
        self.large.value = result.image.data  # as served: the browser decodes WebP itself
        self.large.format = result.image.mime.split("/")[-1]
        self.large.layout.display = ""
        self.caption.value = caption_html(result)
        self.download_link.value = download_html(result)
        self.actions.layout.display = "flex"
        for tile in self.gallery.children:
            chosen = getattr(tile, "_g4f_result", None) is result
            tile.layout.border = f"2px solid {COLOURS['done']}" if chosen else "2px solid transparent"

    def save(self) -> None:
        if self.current is None:
            return
        path = self.current.save(self.settings.get("image_dir") or ".")
        self.caption.value += saved_html(path)

    def reuse_seed(self) -> None:
        if self.current is not None and self.current.seed is not None:
            self.random_seed.value = False
            self.seed.value = self.current.seed
