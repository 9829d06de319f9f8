"""The ipywidgets panel: inputs, Generate/Stop/Clear, one live row per run, newest image, gallery.

A thin layer over the same engine and ``WidgetView`` as the magic. Every generation is a task on
the kernel's loop, so the kernel stays free and several runs can go at once.
"""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as w
import traitlets

from .engine import MAX_COUNT, ChatState, Job, run_in_view
from .errors import G4FError, InvalidOption
from .providers import G4F, model_info
from .render import error_html, escape, markdown_html
from .result import Result, ResultSet
from .runner import kernel_loop
from .settings import build_job, values
from .sizes import COMMON_RATIOS, MAX_SIDE, MIN_SIDE, image_size
from .views import WidgetView, close_tree

__all__ = ["Panel", "PromptBox"]

THUMB = 128


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


def _thumbnail(png: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        im.thumbnail((THUMB, THUMB))
        out = io.BytesIO()
        im.save(out, "PNG")
    return out.getvalue()


class Panel:
    """``%g4f panel`` or ``g4f_magic.Panel()`` in a notebook cell."""

    def __init__(self, magics: Any = None, **overrides: Any) -> None:
        loop = kernel_loop()
        if loop is None:
            raise InvalidOption("the panel needs a running event loop: use it in a Jupyter kernel")
        self._loop = loop
        self.settings = {**values(magics), **overrides}
        self.chat = ChatState()
        self.results: list[Result] = []
        self.current: Result | None = None
        self.tasks: dict[asyncio.Task[Any], WidgetView] = {}
        self._syncing = False
        self._build()

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        s = self.settings
        self.prompt = PromptBox(placeholder="Describe the image (Ctrl+Enter to generate)")
        kinds = {r["model"]: r["kind"] for r in model_info()}
        self.model = w.Dropdown(options=[(f"{m} ({kinds[m]})", m) for m in G4F.models],
                                value=s["default_model"] if s["default_model"] in kinds else G4F.default_model,
                                description="model")
        ratio = s["aspect_ratio"] if s["aspect_ratio"] in COMMON_RATIOS else "custom"
        self.ratio = w.Dropdown(options=[*COMMON_RATIOS, "custom"], value=ratio, description="ratio")
        first = image_size(s["aspect_ratio"]) if ratio != "custom" else (1024, 1024)
        self.width = w.BoundedIntText(value=first[0], min=MIN_SIDE, max=MAX_SIDE, step=8, description="width")
        self.height = w.BoundedIntText(value=first[1], min=MIN_SIDE, max=MAX_SIDE, step=8, description="height")
        self.seed = w.BoundedIntText(value=0, min=0, max=2**32 - 1, description="seed", disabled=True)
        self.random_seed = w.Checkbox(value=True, description="random", indent=False)
        self.count = w.BoundedIntText(value=1, min=1, max=MAX_COUNT, description="count")
        self.upload = w.FileUpload(accept="image/png,image/jpeg,image/gif,image/webp", multiple=False,
                                   description="image", layout=w.Layout(display="none"))
        self.generate_button = w.Button(description="Generate", button_style="primary", icon="play")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.clear_button = w.Button(description="Clear", icon="trash")
        self.new_chat_button = w.Button(description="New chat", layout=w.Layout(display="none"))
        self.error = w.HTML("")
        self.runs = w.VBox([])
        self.large = w.Image(layout=w.Layout(max_width="768px", display="none"))
        self.caption = w.HTML("")
        self.save_button = w.Button(description="Save", icon="save", disabled=True)
        self.download_button = w.Button(description="Download", icon="download", disabled=True)
        self.reuse_button = w.Button(description="Reuse seed", icon="repeat", disabled=True)
        self.download_link = w.HTML("")
        self.gallery = w.Box(layout=w.Layout(flex_flow="row wrap"))
        self.transcript = w.HTML("")

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
        self.download_button.on_click(lambda _: self.download())
        self.reuse_button.on_click(lambda _: self.reuse_seed())
        self._on_model({"new": self.model.value})

        inputs = w.VBox([
            self.prompt,
            w.HBox([self.model, self.ratio, self.count]),
            w.HBox([self.width, self.height, self.seed, self.random_seed]),
            self.upload,
            w.HBox([self.generate_button, self.stop_button, self.clear_button, self.new_chat_button]),
            self.error,
        ])
        result = w.VBox([self.large, self.caption,
                         w.HBox([self.save_button, self.download_button, self.reuse_button]),
                         self.download_link, self.transcript, self.gallery])
        self.widget = w.VBox([inputs, self.runs, result])
        self.widget.add_class("g4f-panel")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- inputs --------------------------------------------------------------------------------
    def _on_model(self, change: dict[str, Any]) -> None:
        route = G4F.route(change["new"])
        chat = route == "janus_chat"
        self.upload.layout.display = "" if chat else "none"
        self.new_chat_button.layout.display = "" if chat else "none"
        sized = route in ("flux_dev", "run_predict")
        for box in (self.ratio, self.width, self.height):
            box.disabled = not sized
        self.count.disabled = chat

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

    def _job(self) -> Job:
        route = G4F.route(self.model.value)
        image = None
        if route == "janus_chat" and self.upload.value:
            image = bytes(self.upload.value[0]["content"])
        sized = route in ("flux_dev", "run_predict")
        return build_job(
            self.settings, model=self.model.value, prompt=self.prompt.value.strip(),
            aspect_ratio=self.ratio.value if self.ratio.value != "custom" else "1:1",
            width=self.width.value if sized else None, height=self.height.value if sized else None,
            seed=None if self.random_seed.value else self.seed.value,
            count=1 if route == "janus_chat" else self.count.value, image=image,
        )

    # -- actions -------------------------------------------------------------------------------
    def generate(self) -> asyncio.Future[Any] | None:
        """Start a run (the Generate button, Ctrl+Enter). Bad input is one red line."""
        self.error.value = ""
        if not self.prompt.value.strip():
            self.error.value = error_html("the prompt is empty")
            return None
        try:
            job = self._job()
        except G4FError as exc:
            self.error.value = error_html(str(exc))
            return None
        view = WidgetView(job.model, job.count)
        stop_one = w.Button(icon="stop", tooltip="stop this run", layout=w.Layout(width="36px"))
        row = w.HBox([view.widget, stop_one])
        self.runs.children = (row, *self.runs.children)
        coro = self._run(job, view, row)
        if kernel_loop() is self._loop:
            task: asyncio.Future[Any] = self._loop.create_task(coro)
        else:  # a comm handler on another thread
            task = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop), loop=self._loop)
        self.tasks[task] = view  # type: ignore[index]
        stop_one.on_click(lambda _: task.cancel())
        self.stop_button.disabled = False
        return task

    async def _run(self, job: Job, view: WidgetView, row: w.HBox) -> Result | ResultSet | None:
        chat = self.chat if job.route == "janus_chat" else None
        try:
            result = await run_in_view(job, view, chat)
        except asyncio.CancelledError:
            view.cancelled()
            raise
        except G4FError as exc:
            view.fail(str(exc))
            self.error.value = error_html(f"{job.model}: {exc}")
            return None
        finally:
            stop_one = row.children[1:]
            row.children = (view.widget,)  # the run's own stop button goes
            for widget in stop_one:
                close_tree(widget)
            for t, v in list(self.tasks.items()):
                if v is view:
                    del self.tasks[t]
            self.stop_button.disabled = not self.tasks
        if chat is not None:
            self._show_transcript()
        for r in result if isinstance(result, ResultSet) else [result]:
            if r.image is not None:
                thumb = await asyncio.to_thread(_thumbnail, r.image.png)  # decoding stays off the loop
                self._add(r, thumb)
        return result

    def stop(self) -> None:
        """Cancel every running generation; each closes its connection."""
        for task in list(self.tasks):
            task.cancel()

    def clear(self) -> None:
        """Forget results and finished runs; running ones stay."""
        running = {v.widget for v in self.tasks.values()}
        gone = [r for r in self.runs.children if r.children[0] not in running] + list(self.gallery.children)
        self.runs.children = tuple(r for r in self.runs.children if r.children[0] in running)
        self.results.clear()
        self.gallery.children = ()
        for widget in gone:  # a widget nobody shows still lives in the kernel until closed
            close_tree(widget)
        self.current = None
        self.large.value, self.large.layout.display = b"", "none"
        self.caption.value = self.download_link.value = self.error.value = ""
        for b in (self.save_button, self.download_button, self.reuse_button):
            b.disabled = True

    def new_chat(self) -> None:
        self.chat.reset()
        self.transcript.value = ""

    # -- results -------------------------------------------------------------------------------
    def _add(self, result: Result, thumbnail: bytes) -> None:
        self.results.append(result)
        thumb = w.Image(value=thumbnail, format="png")
        label = f"{result.model} · seed {result.seed}"
        button = w.Button(description=label, tooltip=result.prompt, layout=w.Layout(width=f"{THUMB}px"))
        button.on_click(lambda _, r=result: self.show(r))
        self.gallery.children = (w.VBox([thumb, button]), *self.gallery.children)
        self.show(result)

    def show(self, result: Result) -> None:
        """Show one result large (the newest, or a gallery thumbnail that was clicked)."""
        self.current = result
        self.large.value = result.image.png  # type: ignore[union-attr]
        self.large.format = "png"
        self.large.layout.display = ""
        self.caption.value = (f'<div class="g4f-caption"><b>{escape(result.prompt)}</b><br>'
                              f"{escape(result.summary())}</div>")
        self.download_link.value = ""
        for b in (self.save_button, self.download_button, self.reuse_button):
            b.disabled = False

    def save(self) -> None:
        if self.current is None:
            return
        path = self.current.save(self.settings.get("image_dir") or ".")
        self.caption.value += f'<div class="g4f-saved">saved {escape(path)}</div>'

    def download(self) -> None:
        """A link with the PNG (with its metadata) for the browser to download."""
        if self.current is None:
            return
        from .result import to_png

        data = base64.b64encode(to_png(self.current.image.data, self.current.metadata())).decode()  # type: ignore[union-attr]
        name = f"{self.current.model}-{self.current.seed}.png"
        self.download_link.value = (f'<a download="{escape(name)}" href="data:image/png;base64,{data}">'
                                    f"click to download {escape(name)}</a>")

    def reuse_seed(self) -> None:
        if self.current is not None and self.current.seed is not None:
            self.random_seed.value = False
            self.seed.value = self.current.seed

    def _show_transcript(self) -> None:
        parts = []
        for m in self.chat.messages:
            who = "You" if m["role"] == "user" else "Janus"
            parts.append(f'<div class="g4f-turn"><b>{who}</b>{markdown_html(m["content"])}</div>')
        self.transcript.value = "".join(parts)
