"""``%%g4f`` / ``%g4f``: parse options, start a run, hand its events to a view. Nothing more."""

from __future__ import annotations

import asyncio
import builtins
import difflib
import getpass
import keyword
import os
import re
import string
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..engine.batch import Batch, BatchSet
from ..engine.result import Result, ResultSet, _slug, check_target
from ..engine.sweep import Sweep, SweepSet
from ..errors import G4FError, InvalidOption, RunCancelled
from ..spaces.endpoints import ENV_VAR, masked
from ..spaces.identity import TIERS, HFToken, find_hf_token, is_hf_token, login_hint
from .completion import SUBCOMMANDS
from .html import Display, run_bundle, sweep_bundle
from .runner import kernel_loop, run_sync
from .runs import Ending, run_to_end
from .settings import TOKEN_ENV, Secret, Settings, values
from .sources import batch_folder, image_sources, value_bytes
from .views import BatchLines, BatchView, PlainView, SweepView, WidgetView

if TYPE_CHECKING:  # the engine's runs pull in aiohttp: loaded on the first run, not by %load_ext
    from ..engine.backend import Backend
    from ..engine.job import ChatState, Job

__all__ = ["G4FMagics", "TOKEN_ENV", "subcommand"]



def _check_out(name: str | None) -> None:
    """``-o NAME`` must be a name a user can read back, and must not hide a built-in."""
    if name is None:
        return
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"-o {name}: not a Python variable name")
    if hasattr(builtins, name):
        raise UsageError(f"-o {name} would hide the built-in {name}(); choose another name")


def subcommand(line: str) -> str | None:
    """The subcommand a ``%g4f`` line names, or None.

    A line is a subcommand only when it is exactly one subcommand's name; every other line is options
    and a prompt (``%g4f history of rome`` generates). ``%g4f -- models`` generates from the one-word
    prompt "models".
    """
    name = " ".join(line.split())
    return name if name in SUBCOMMANDS else None


# the magic's flags for the options the engine's messages name
WORDS = {"each": "--each", "count": "-n", "wait": "--wait", "fallback": "--fallback", "image": "--image",
         "steps": "--steps", "guidance": "--guidance", "seed": "-s", "model": "-m", "aspect_ratio": "-a"}
_TOKENISH = re.compile(r"\bhf_[A-Za-z0-9]{8,}|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")


@magics_class
class G4FMagics(Magics, Settings):
    """Image and chat generation on Hugging Face Spaces (``%g4f help``); its settings are
    :class:`~g4f_magic.settings.Settings`' traits (``%config G4FMagics.NAME = …``)."""

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._chat: ChatState | None = None
        self.history: list[dict[str, Any]] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.matcher: Any = None  # the Tab completer IPython calls on %g4f lines (extension.load sets it)

    @property
    def chat(self) -> ChatState:
        if self._chat is None:
            from ..engine.job import ChatState

            self._chat = ChatState()
        return self._chat

    # -- the magic ------------------------------------------------------------------------------
    @magic_arguments()
    @argument("-m", "--model", help="model: flux, flux-dev, flux-schnell, janus-pro-7b, janus-pro-7b-image "
              "(a comma list sweeps)")
    @argument("-a", "--aspect-ratio", help="W:H, e.g. 16:9 (about one megapixel; a comma list sweeps)")
    @argument("-W", "--width", type=int, help="width in pixels (rounded down to a multiple of 8, said so)")
    @argument("-H", "--height", type=int, help="height in pixels (rounded down to a multiple of 8, said so)")
    @argument("-s", "--seed", help="seed (random and reported when omitted; a comma list sweeps)")
    @argument("--steps", help="FLUX.1-dev sampling steps (default 28; a comma list sweeps)")
    @argument("--guidance", help="FLUX.1-dev guidance scale (default 3.5; a comma list sweeps)")
    @argument("-n", "--count", type=int, default=1, help="images at once, distinct seeds, shown as a grid")
    @argument("--image", help="for janus-pro-7b: a path, URL, or variable holding image bytes or a result; a folder, "
              "a glob or a variable holding several asks the question about each")
    @argument("--each", metavar="ITEMS", help="run the prompt as a template over each item of ITEMS: a list, tuple, "
              "pandas Series or DataFrame (its columns as {names}), or a .txt/.csv/.jsonl file; {item} is a plain "
              "item. Each item gets its own seed from -s (0 when omitted): a rerun replays what finished")
    @argument("--from", dest="from_png", metavar="PNG", help="run a saved image's recipe again (prompt, model, seed, "
              "size, steps, guidance; from g4f_magic or AUTOMATIC1111's parameters); the line and the cell win")
    @argument("-o", "--out", help="also store the result in this variable")
    @argument("--save", help="save the image(s) here: a .png path or a folder")
    @argument("--proxy", help="HTTP(S) proxy URL")
    @argument("--timeout", type=float, help="seconds the whole generation may take (0: no limit)")
    @argument("--refresh", action="store_true", help="generate anew even if this request was answered before")
    @argument("--provider", help="space (the free Spaces, the default), auto, or an Inference Provider (fal-ai, "
                                 "replicate, nscale, …): your Hugging Face token's credits pay")
    @argument("--wait", action="store_true", help="when over the GPU quota, count down and resume by itself")
    @argument("--fallback", help="models to try in order when this one is over quota, paused or full (comma list)")
    @argument("--new", action="store_true", help="start a new Janus chat")
    @argument("--bg", action="store_true", help="return at once; the output keeps updating")
    @argument("-v", "--verbose", action="store_true", help="show heartbeats and open the log")
    @argument("--no-interpolate", action="store_true", help="leave {name} in the prompt as written")
    @argument("--no-widgets", action="store_true", help="plain status lines; images saved to files")
    @argument("--api-key", help=f"ZeroGPU token; write $NAME to read an environment variable (default ${TOKEN_ENV})")
    @argument("prompt", nargs="*", help="the prompt (line magic); in a cell, the cell body")
    @line_cell_magic
    @no_var_expand  # the magic fills {name} in the prompt itself, once; $NAME in --api-key is the environment
    def g4f(self, line: str, cell: str | None = None) -> Any:
        """Generate images or chat on Hugging Face Spaces, streaming the Space's status live.

        Examples::

            %%g4f -m flux -a 16:9 -s 42
            a lighthouse in a storm, {style}

            %%g4f -n 4 -o grid
            a watercolor fox

            %%g4f -m janus-pro-7b --image grid
            What animal is in this picture?

            %%g4f -m flux,flux-schnell -s 1,2,3
            a lighthouse at dusk

            %%g4f -m flux --each subjects -o res
            a watercolor {item}, soft light

            %%g4f -m flux-schnell --each df -s 7
            a {animal} in {place}, oil painting

            %%g4f -m janus-pro-7b --image photos/
            Is there a bird in this picture?

            %g4f a red bicycle, studio photo
            %g4f models | help | config | history | login | logout | whoami | quota | panel | cache | cache clear

        The cell text is the prompt; {name} takes a variable from the namespace ({{ for a brace).
        Janus chat continues across cells until --new. The result is returned (and kept in _g4f):
        ``.save(path)`` writes PNG with prompt, seed, model and size in its metadata.
        A seeded request answered before is replayed from the replay store (no request, no quota);
        --refresh generates anew. Comma lists (-m, -a, -s, --steps, --guidance) run every combination
        as one labelled grid: ``grid.at(model="flux", seed=2)``, ``grid.save("folder")``.
        --each runs the cell as a template over many items (one image each, at most 16 in flight, each Space
        within its own run slots): ``res.item(3)``, ``res.failed`` (``--each res.failed`` runs them again),
        ``res.save("folder")`` (images and manifest.jsonl), ``res.to_pandas()``. Comma lists and -n do not mix
        with it. An interrupt keeps what finished in -o's variable and _g4f. The items spread over every Space
        serving the model (the mirrors setting adds one's own); past --wait and --fallback, a quota refusal
        stops the batch sending items (the rest stay in ``res.failed``). The panel's "batch" box does the same.
        """
        name = subcommand(line) if cell is None else None
        if name is not None:
            return self._subcommand(name)
        return run_sync(self.run_async(line, cell))

    async def run_async(self, line: str, cell: str | None = None) -> Any:
        """The same run awaited on the kernel's own loop.

        In a kernel, ``%%g4f`` cells are rewritten to ``await`` this (see ``async_cell``), so the
        loop is never re-entered: ipykernel 7 breaks when another queued cell (JupyterLab's Run
        All) is handled inside a nested ``run_until_complete``. Elsewhere ``g4f`` runs it with
        ``run_sync``. Subcommands never come here (the transformer leaves them alone).
        """
        plan = self._prepare(line, cell)
        if plan is None:
            return None
        job, view, args, plain = plan
        result = await self._run(job, view, args, in_cell=True)
        assert result is not None  # in a cell, a failed run raised
        if plain and self._has_kernel():  # --no-widgets in a notebook: the lines, then the image(s)
            shown = Display.of(values(self))
            display(sweep_bundle("", "done", result, display=shown) if isinstance(result, SweepSet) else
                    run_bundle("", "done", result if isinstance(result, ResultSet) else [result], display=shown),
                    raw=True)
        await self._keep(result, args, plain, folder=job.folder if isinstance(job, Batch) else None)
        return result

    def _prepare(self, line: str, cell: str | None) -> tuple[Job | Sweep, Any, Any, bool] | None:
        """Parse and check everything, make the view; None when a --bg run was started instead."""
        self._check_options(line.split())
        args = parse_argstring(self.g4f, line)
        if _TOKENISH.search(line) or (args.api_key and not args.api_key.startswith("$")):
            print(f"g4f: warning: a token written in a cell is saved with the notebook; use %g4f login "
                  f"or the {TOKEN_ENV} environment variable (--api-key $NAME reads one).", file=sys.stderr)
        if cell is not None and args.prompt:
            raise UsageError("put the prompt in the cell body (the line holds options only)")
        _check_out(args.out)
        if args.save:
            try:
                check_target(args.save)
            except G4FError as exc:
                raise UsageError(f"--save {args.save}: {exc}") from exc
        prompt = cell if cell is not None else " ".join(args.prompt)
        if args.from_png:
            prompt = self._from_png(args, prompt)
        if args.each is not None:
            return self._prepare_batch(args, prompt)
        sources = self._image_sources(args.image) if args.image else None
        if sources is not None:
            return self._prepare_questions(args, prompt, sources)
        if not args.no_interpolate:
            prompt = self._interpolate(prompt)
        job = self._job(args, prompt.strip())
        if args.new:
            self.chat.reset()
        plain = args.no_widgets or self.widgets == "off" or (self.widgets == "auto" and not self._has_kernel())
        view: Any
        shown = Display.of(values(self))
        if not isinstance(job, Sweep):
            view = (PlainView(job.model, job.count, args.verbose) if plain else
                    WidgetView(job.model, job.count, args.verbose, display=shown))
        elif plain:
            view = PlainView(job.model, job.count, args.verbose, labels=job.labels(), models=[j.model for j in job.jobs])
        else:
            view = SweepView(job, args.verbose, display=shown)
        if args.bg:
            self._start_bg(job, view, args)
            return None
        view.show()
        return job, view, args, plain

    @staticmethod
    def _from_png(args: Any, prompt: str) -> str:
        """``--from image.png``: the saved image's recipe (ours, or AUTOMATIC1111's ``parameters``) as the run's
        options; what the line or the cell gives wins. The prompt, unless the cell has one."""
        try:
            recipe = Result.from_png(args.from_png)
        except (OSError, G4FError) as exc:
            raise UsageError(f"--from {args.from_png}: {getattr(exc, 'strerror', None) or exc}") from exc
        args.model = args.model or recipe.model
        if args.seed is None and recipe.seed is not None:
            args.seed = str(recipe.seed)
        if not (args.width or args.height or args.aspect_ratio) and recipe.width and recipe.height:
            args.width, args.height = recipe.width, recipe.height
        if args.steps is None and recipe.steps is not None:
            args.steps = str(recipe.steps)
        if args.guidance is None and recipe.guidance is not None:
            args.guidance = f"{recipe.guidance:g}"
        return prompt if prompt.strip() else recipe.prompt

    def _prepare_batch(self, args: Any, template: str) -> tuple[Any, Any, Any, bool] | None:
        """``--each``: the items, every item's prompt, seed and job checked, and the batch's bounded view."""
        from ..engine.batch import items_of
        from ..engine.plan import build_batch

        for name, flag in (("model", "-m"), ("aspect_ratio", "-a"), ("seed", "-s"), ("steps", "--steps"),
                           ("guidance", "--guidance")):
            if "," in (getattr(args, name) or ""):
                raise UsageError(f"--each and a comma list ({flag}) do not mix: run one batch per value")
        if args.image:
            raise UsageError("--each makes images from text; --image is for janus-pro-7b's questions")
        try:  # the options' numbers first: a ValueError past here is not theirs to be blamed for
            seed = int(args.seed) if args.seed is not None else None
            steps, guidance = int(args.steps) if args.steps else None, float(args.guidance) if args.guidance else None
        except ValueError as exc:
            raise UsageError(f"-s, --steps, --guidance: {exc}") from exc
        try:
            rows = items_of(self._items(args.each), WORDS)
            if not args.no_interpolate:  # the namespace fills the other {names}; the items fill theirs
                template = self._interpolate(template, keep=set(rows[0]))
            batch = build_batch(values(self), template=template, rows=rows, model=args.model, seed=seed,
                                aspect_ratio=args.aspect_ratio, width=args.width, height=args.height,
                                count=args.count, steps=steps, guidance=guidance, **self._run_options(args))
        except G4FError as exc:
            raise UsageError(str(exc)) from exc
        return self._batch_view(args, batch)

    def _prepare_questions(self, args: Any, question: str, sources: list[tuple[str, Any]]) -> tuple[Any, Any, Any, bool] | None:
        """``--image`` naming several images: the same question about each, one conversation per image."""
        from ..engine.plan import build_question_batch

        if args.each is not None or args.count != 1:
            raise UsageError("--image with several images asks about each once; -n and --each do not mix with it")
        if not args.no_interpolate:
            question = self._interpolate(question)
        try:
            batch = build_question_batch(values(self), question=question.strip(), sources=sources, model=args.model,
                                         seed=int(args.seed) if args.seed is not None else None,
                                         **self._run_options(args))
        except G4FError as exc:
            raise UsageError(str(exc)) from exc
        except ValueError as exc:
            raise UsageError(f"-s: {exc}") from exc
        return self._batch_view(args, batch)

    def _batch_view(self, args: Any, batch: Any) -> tuple[Any, Any, Any, bool] | None:
        plain = args.no_widgets or self.widgets == "off" or (self.widgets == "auto" and not self._has_kernel())
        batch.folder = batch_folder(batch, self.image_dir, save=args.save, autosave=self.autosave, plain=plain)
        view = BatchLines(batch, args.verbose) if plain else BatchView(batch, args.verbose, folder=batch.folder)
        if args.bg:
            self._start_bg(batch, view, args)
            return None
        view.show()
        return batch, view, args, plain

    def _items(self, ref: str) -> Any:
        """What ``--each`` names (``sources.items_named``), in this shell's namespace."""
        from .sources import items_named

        try:
            return items_named(ref, self.shell.ev if self.shell is not None else None)
        except InvalidOption as exc:
            raise UsageError(str(exc)) from None

    # -- running --------------------------------------------------------------------------------
    async def _run(self, job: Job | Sweep | Batch, view: Any, args: Any, *, in_cell: bool
                   ) -> Result | ResultSet | None:
        """Run, then leave the view's final form. In a cell a failure or an interrupt is the cell's own
        one-line error (so the view drops its status line); a --bg run has no cell, so its view says it."""
        async def stopped(partial: BatchSet | None) -> None:
            # what an interrupted batch kept shows under its own line (how far it got), as a finished one does
            view.settle(with_status=not in_cell or partial is not None)
            if partial is not None:  # an interrupted batch keeps what had finished
                try:
                    await asyncio.shield(self._keep(partial, args, plain=False, folder=cast(Batch, job).folder))
                except asyncio.CancelledError:
                    # Ctrl-C that landed in one of the batch's workers also cancels this task (run_sync): the
                    # keeping goes on, shielded, and the cell still ends in its one line
                    pass
            if in_cell:
                kept = f" · kept in {args.out or '_g4f'}" if partial else ""  # the line says how many
                raise RunCancelled(view.line + kept) from None

        def failed(exc: G4FError) -> None:
            view.settle(with_status=not in_cell)
            if in_cell:
                raise exc  # IPython shows it as one line, with its own class (errors._OneLine)

        async def image() -> bytes | None:  # a batch reads each of its images in turn
            if args.image is None or isinstance(job, Batch):
                return None
            return await self._image_bytes(args.image, job.client)

        result = await run_to_end(job, view, Ending(stopped, failed, view.settle), self.chat, image)
        if result is not None:
            view.settle()
        return result

    def _start_bg(self, job: Job | Sweep | Batch, view: Any, args: Any) -> None:
        loop = kernel_loop()
        if loop is None or not view.can_run_in_background:
            raise UsageError("--bg needs a Jupyter kernel with widgets (the kernel's loop keeps running)")
        view.show()

        async def background() -> None:
            # the shown view becomes the run's plain output in the end: done, failed or cancelled
            result = await self._run(job, view, args, in_cell=False)
            if result is not None:
                await self._keep(result, args, plain=False, folder=job.folder if isinstance(job, Batch) else None)

        task = loop.create_task(background())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return None

    async def _image_bytes(self, ref: str, client: Backend) -> bytes:
        ns = self.shell.user_ns if self.shell is not None else {}
        value = ns.get(ref, ref) if ref.isidentifier() else ref
        try:
            return await value_bytes(value, ref, client)
        except InvalidOption as exc:
            raise UsageError(str(exc)) from exc

    def _image_sources(self, ref: str) -> list[tuple[str, Any]] | None:
        """Several images to ask the same question about (``sources.image_sources``); None for one image."""
        try:
            return image_sources(ref, self.shell.user_ns if self.shell is not None else {})
        except InvalidOption as exc:
            raise UsageError(str(exc)) from None

    async def _keep(self, result: Result | ResultSet, args: Any, plain: bool, folder: str | None = None) -> None:
        """The result in the namespace and the history, and saved where asked (a batch: in ``folder``, which
        its output links): decoding and encoding the image for its PNG happen in a worker thread, never on
        the kernel's loop."""
        ns = self.shell.user_ns if self.shell is not None else {}
        ns["_g4f"] = result
        if args.out:
            ns[args.out] = result
        for r in result if isinstance(result, ResultSet) else [result]:
            self.history.append({"prompt": r.prompt, "model": r.model, "seed": r.seed, "size": r.size,
                                 "elapsed": round(r.elapsed, 2), "kind": "image" if r.image else "text"})
        target = folder if isinstance(result, BatchSet) else args.save or (
            self.image_dir if (self.autosave or plain) else None)
        if target and not args.save and isinstance(result, SweepSet):  # a sweep's index and sheet: a folder of their own
            target = str(Path(target) / f"sweep-{_slug(result[0].prompt if result else 'failed')}-{time.strftime('%Y%m%d-%H%M%S')}")
        if target and (isinstance(result, ResultSet) or result.image is not None):
            try:
                paths = await asyncio.to_thread(
                    lambda: result.save(target) if isinstance(result, ResultSet) else [result.save(target)])
            except (OSError, G4FError) as exc:  # the image is shown all the same
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                print(f"g4f: could not save to {target}: {reason}", file=sys.stderr)
                return
            if isinstance(result, BatchSet):  # one line, not one per image
                images = f"{len(paths) - 1} images and " if len(paths) > 1 else ""
                print(f"saved {images}manifest.jsonl in {target}")
                return
            for p in paths:
                print(f"saved {p}")

    # -- options --------------------------------------------------------------------------------
    def _check_options(self, words: list[str]) -> None:
        known = [o for a in self.g4f.parser._actions for o in a.option_strings]  # type: ignore[attr-defined]
        for word in words:
            if word == "--":  # the rest is the prompt
                break
            name = word.split("=", 1)[0]
            if name.startswith("-") and len(name) > 1 and not _is_number(name) and name not in known:
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise UsageError(f"unknown option {name}{hint} (see %g4f help)")

    def _interpolate(self, text: str, keep: set[str] | frozenset[str] = frozenset()) -> str:
        """``{name}`` from the namespace; the names in ``keep`` (a batch's item fields) stay as written."""
        ns = self.shell.user_ns if self.shell is not None else {}
        try:
            return string.Formatter().vformat(text, (), _Namespace(ns, keep))
        except KeyError as exc:
            raise UsageError(f"{{{exc.args[0]}}} is not defined; define it, write {{{{ }}}} for a brace, "
                             "or use --no-interpolate") from exc
        except (ValueError, IndexError, AttributeError) as exc:
            raise UsageError(f"cannot fill the prompt's {{}} fields ({exc}); use --no-interpolate") from exc

    def _job(self, args: Any, prompt: str) -> Job | Sweep:
        """The run's Job, or a Sweep (one Job per cell) when an option holds a comma list."""
        from ..engine.plan import build_run
        from ..engine.sweep import AXES, parse_values

        if not prompt:
            raise UsageError("the prompt is empty: write it in the cell body (or after %g4f)")
        settings = values(self)

        try:  # every option (model, count, seeds, ratio) of every cell is checked before any widget or request
            choices = {name: parse_values(name, getattr(args, name), WORDS) for name in AXES}
            if len(choices["aspect_ratio"]) > 1 and (args.width or args.height):
                raise UsageError("sweep -a without -W/-H: a width or height fixes the size")
            if len(choices["model"]) > 1 and args.image:
                raise UsageError("--image is read by janus-pro-7b only; a sweep compares images")
            return build_run(settings, prompt=prompt, choices=choices, width=args.width, height=args.height,
                             count=args.count, **self._run_options(args))
        except G4FError as exc:
            raise UsageError(str(exc)) from exc

    def _run_options(self, args: Any) -> dict[str, Any]:
        """What every kind of run takes from the line alike: fallbacks, waiting, replay, network, the token."""
        fallback = tuple(m.strip() for m in args.fallback.split(",") if m.strip()) if args.fallback else None
        return {"fallback": fallback, "wait": args.wait or None, "refresh": args.refresh, "proxy": args.proxy,
                "timeout": args.timeout, "api_key": self._api_key(args), "words": WORDS, "provider": args.provider}

    def _api_key(self, args: Any) -> str | None:
        """--api-key, or the environment variable it names with ``$NAME``."""
        api_key = args.api_key
        if api_key and api_key.startswith("$"):
            api_key = os.environ.get(api_key[1:]) or None
            if api_key is None:
                raise UsageError(f"--api-key {args.api_key}: that environment variable is not set")
        return api_key

    def _has_kernel(self) -> bool:
        return type(self.shell).__name__ == "ZMQInteractiveShell"

    # -- subcommands ----------------------------------------------------------------------------
    async def _account(self, name: str) -> str:
        """``%g4f whoami`` / ``%g4f quota``: asked of the hub the provider would use, as the account."""
        from ..spaces.providers import G4F

        return await _account_line(name, self.current_hf_token() or find_hf_token(),
                                   G4F.endpoints(self.endpoint or None).hub)

    def _subcommand(self, name: str) -> Any:
        """One handler per subcommand (``%g4f cache clear`` → ``handle_cache_clear``): each testable alone."""
        return getattr(self, "handle_" + name.replace(" ", "_"))()

    def handle_help(self) -> None:
        # magic_arguments starts the usage with a reST "::"; a reader needs none
        print(self.g4f.__doc__.replace("::\n\n", "", 1).replace("Examples::", "Examples:"))

    def handle_panel(self) -> None:
        from .panel import Panel

        try:
            display(Panel(self))
        except G4FError as exc:
            raise UsageError(str(exc)) from exc

    def handle_models(self) -> None:
        from ..spaces.providers import model_info

        rows = model_info()
        print(_table(["model", "kind", "space", "route"], [[r[k] for k in ("model", "kind", "space", "route")]
                                                           for r in rows]))
        print("\nSpaces tried in order when one is gone, paused, building or asleep (G4FMagics.mirrors adds yours):")
        for model, spaces in _mirror_lists(self):
            print(f"  {model}: {' → '.join(spaces)}")

    def handle_config(self) -> None:
        settings = [
            ["default_model", self.default_model], ["aspect_ratio", self.aspect_ratio],
            ["timeout", f"{self.timeout:g} s"], ["image_dir", self.image_dir], ["autosave", str(self.autosave)],
            ["endpoint", masked(self.endpoint or os.environ.get(ENV_VAR) or "") or "(the real Spaces)"],
            *([k, masked(getattr(self, k)) or "(the model's own Space)"] for k in ("api_url", "flux_dev_url", "url_flux")),
            ["mirrors", ", ".join(f"{m}: {len(u) if isinstance(u, (list, tuple)) else 1}"
                                  for m, u in self.mirrors.items()) or "none (G4FMagics.mirrors adds your own)"],
            ["space_concurrency", f"at most {self.space_concurrency} runs in flight per Space (learned below it)"],
            ["proxy", "set" if self.proxy else "none"], ["max_image_bytes", _bytes(self.max_image_bytes)],
            ["display_width", f"{self.display_width} px" if self.display_width else "full size"],
            ["embed_format", self.embed_format],
            ["replay", f"{'on' if self.replay else 'off'} (%g4f cache)"],
            ["replay_dir", self.replay_dir or "(the user cache folder; %g4f cache shows it)"],
            ["replay_max_bytes", _bytes(self.replay_max_bytes)], ["wait", str(self.wait)],
            ["max_wait", f"{self.max_wait:g} s"], ["fallback", self.fallback or "none"],
            ["provider", "space (the free Spaces)" if self.provider in ("", "space") else
             f"{self.provider} (Hugging Face Inference Providers: your token's credits)"],
            ["quota_handover", self.quota_handover or "none (past the ZeroGPU quota, nothing goes to Inference Providers)"],
            ["widgets", self.widgets], ["identity", self.identity()], ["token", self.token_source()],
            ["send_hf_token_to", self.send_hf_token_to or "none (your own servers never get it)"],
            ["chat", f"{len(self.chat.messages)} messages"],
        ]
        print(_table(["setting", "value"], settings))

    def handle_history(self) -> None:
        if not self.history:
            print("no generations yet")
            return
        made = [[str(i + 1), h["model"], "-" if h["seed"] is None else str(h["seed"]), h["size"] or "-",
                 f"{h['elapsed']}s", h["prompt"][:60]]
                for i, h in enumerate(self.history)]
        print(_table(["#", "model", "seed", "size", "time", "prompt"], made))

    def _replay_store(self) -> Any:
        from ..engine.replay import ReplayStore

        return ReplayStore(self.replay_dir or None, self.replay_max_bytes)

    def handle_cache(self) -> None:
        store = self._replay_store()
        entries, size = store.stats()
        state = "on" if self.replay else "off (%config G4FMagics.replay = True turns it on)"
        print(_table(["replay store", ""], [["location", str(store.folder)], ["entries", str(entries)],
                                            ["size", f"{_bytes(size)} of {_bytes(self.replay_max_bytes)}"],
                                            ["replay", state]]))

    def handle_cache_clear(self) -> None:
        store = self._replay_store()
        _, size = store.stats()
        gone = store.clear()
        print(f"deleted {gone} replay entries ({_bytes(size)}) from {store.folder}")

    def handle_login(self) -> None:
        value = getpass.getpass("Hugging Face token (hf_…; or a ZeroGPU token), kept in memory only: ").strip()
        if not value:
            raise UsageError("no token given; nothing changed")
        if re.search(r"[\x00-\x1f\x7f\s]", value):
            raise UsageError("a token has no spaces, line breaks or control characters; nothing changed")
        self.login = Secret(value)
        if is_hf_token(value):
            print("Hugging Face token kept in memory for this session: ZeroGPU charges your account "
                  f"({TIERS['free']} min of GPU a day, {TIERS['pro']} with PRO); %g4f whoami says whose, "
                  "%g4f logout forgets it")
        else:
            print("ZeroGPU token kept in memory for this session; %g4f logout forgets it")

    def handle_whoami(self) -> None:
        print(run_sync(self._account("whoami")))

    def handle_quota(self) -> None:
        print(run_sync(self._account("quota")))

    def handle_logout(self) -> None:
        self.login = None
        print("token forgotten")

def _mirror_lists(magics: Any) -> list[tuple[str, list[str]]]:
    """Each model and the Spaces that serve it, as the next run would try them (no request is made)."""
    from ..spaces.providers import G4F

    where = {"endpoint": magics.endpoint or None, "api_url": magics.api_url or None, "mirrors": magics.mirrors,
             "flux_dev_url": magics.flux_dev_url or None, "url_flux": magics.url_flux or None, "hf_token": False}
    return [(m, [x.label for x in G4F.access(G4F.model(m), **where).mirrors]) for m in G4F.models]


async def _account_line(name: str, token: HFToken | None, hub: str) -> str:
    from ..spaces.hub import whoami, zero_gpu_quota

    if token is None:
        if name == "quota":
            raise UsageError(f"%g4f quota needs a Hugging Face token: {login_hint()}")
        return f"anonymous: {login_hint()}"
    try:
        if name == "quota":
            return (await zero_gpu_quota(token, hub)).line()
        account = await whoami(token, hub)
    except G4FError as exc:
        raise UsageError(str(exc)) from None
    tier = "PRO" if account.pro else "free account"
    return (f"{account.name} ({tier}: {TIERS[account.tier]} min of ZeroGPU a day) · token from {token.source}"
            + (f" · {account.role} token" if account.role else ""))


class _Namespace(dict):  # type: ignore[type-arg]
    """The user namespace for str.format, raising KeyError for names that are not there."""

    def __init__(self, ns: dict[str, Any], keep: set[str] | frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.ns = ns
        self.keep = keep

    def __missing__(self, key: str) -> Any:
        if key in self.keep:
            return _Field(key)
        if key in self.ns:
            return self.ns[key]
        raise KeyError(key)


class _Field:
    """A field left for later: formats back to ``{name}`` (with its format spec and conversion dropped)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, spec: str) -> str:
        return "{" + self.name + (":" + spec if spec else "") + "}"


def _bytes(n: int) -> str:
    """Sizes in one unit everywhere (``0.0286 MiB of 1024 MiB``), never bytes beside MiB."""
    mib = n / 2**20
    return f"{mib:.3g} MiB" if mib < 1 else f"{round(mib, 1 if mib < 100 else 0):g} MiB"


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def options_markdown() -> str:
    """The options table of docs/notebook.md, from the same parser as ``%g4f help``."""
    rows = ["| option | meaning |", "|---|---|"]
    for action in G4FMagics.g4f.parser._actions:  # type: ignore[attr-defined]
        if action.dest == "help":
            continue
        names = ", ".join(f"`{o}`" for o in action.option_strings) or "`PROMPT`"
        meta = f" `{action.metavar or action.dest.upper()}`" if action.option_strings and action.nargs != 0 else ""
        rows.append(f"| {names}{meta} | {action.help} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(options_markdown())


# Exactly the g4f magic (not %%g4fx), and not help (%%g4f?, %%g4f??): IPython's own syntax stays IPython's.
_CELL = re.compile(r"\A%%g4f(?=[ \t\n]|\Z)(?:[ \t]+([^\n]*))?\n?(.*)\Z", re.S)
_LINE = re.compile(r"\A%g4f[ \t]+([^\n]*?)\s*\Z")
_MAGICS = "get_ipython().find_cell_magic('g4f').__self__"


def _rewrite(lines: list[str], call: str) -> list[str]:
    """A ``%%g4f`` cell, or a one-line ``%g4f PROMPT`` cell, becomes one call of the magic.

    It runs before IPython's own transforms, so a prompt ending in "?" is a question, not IPython's
    ``object?`` help; the trailing ";" keeps the result from showing twice (the run's output shows it,
    ``-o`` and ``_g4f`` keep it)."""
    text = "".join(lines)
    m = _CELL.match(text)
    if m:
        line, cell = m.group(1) or "", m.group(2)
    else:
        m = _LINE.match(text)
        if not m or subcommand(m.group(1)) is not None:
            return lines
        line, cell = m.group(1), None
    return [call.format(magics=_MAGICS, args=f"{line!r}, {cell!r}") + ";\n"]


def async_cell(lines: list[str]) -> list[str]:
    """In a kernel: top-level ``await`` of the magic's coroutine, which ipykernel runs on its own loop."""
    return _rewrite(lines, "await {magics}.run_async({args})")


def sync_cell(lines: list[str]) -> list[str]:
    """In terminal IPython: the magic called directly (it runs its own loop)."""
    return _rewrite(lines, "{magics}.g4f({args})")
