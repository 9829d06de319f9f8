"""The settings (``%config G4FMagics.…``), the token lookup and the one Job builder.

The magic and the panel both build their generation requests here, with the same rules, so neither
imports the other's internals (only the magic imports the panel, for ``%g4f panel``). Importing this
module costs no aiohttp: the engine is loaded when the first Job is built.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from traitlets import (
    Bool,
    CaselessStrEnum,
    Dict,
    Float,
    Int,
    List,
    TraitError,
    Unicode,
    validate,
)
from traitlets.config import Configurable

from ..engine.replay import CACHE_ENV
from ..engine.replay import MAX_BYTES as REPLAY_MAX_BYTES
from ..errors import G4FError
from ..media import MAX_IMAGE_BYTES
from ..spaces.endpoints import ENV_VAR, SPACE_CONCURRENCY
from ..spaces.identity import TIERS, HFToken, find_hf_token, is_hf_token
from .html import DISPLAY_WIDTH, EMBED_FORMATS

if TYPE_CHECKING:
    from ..engine.run import Job
    from ..engine.sweep import Sweep

__all__ = ["Secret", "Settings", "TOKEN_ENV", "values", "build_job", "build_run"]

TOKEN_ENV = "G4F_MAGIC_TOKEN"


class Secret(str):
    """A string whose repr never shows it (``%config G4FMagics`` prints reprs)."""

    def __repr__(self) -> str:
        return "'***'" if self else "''"


class Settings(Configurable):
    """What ``%config G4FMagics.NAME = …`` sets (``G4FMagics`` inherits these traits)."""

    default_model = Unicode("flux", help="Model used when -m is not given.").tag(config=True)
    aspect_ratio = Unicode("1:1", help="Aspect ratio used when -a is not given (W:H).").tag(config=True)
    timeout = Float(300.0, help="Seconds a generation may take in all; 0: no limit.").tag(config=True)
    image_dir = Unicode("g4f_images", help="Folder for saved images (autosave, terminal runs).").tag(config=True)
    autosave = Bool(False, help="Save every image to image_dir as PNG with its prompt and seed.").tag(config=True)
    endpoint = Unicode("", help=f"Gateway URL for every request (as ${ENV_VAR}); empty: the real Spaces.").tag(config=True)
    api_url = Unicode("", help="Janus Space base URL (your own Gradio server or a duplicated Space); "
                      "empty: the default.").tag(config=True)
    flux_dev_url = Unicode("", help="FLUX.1-dev Space base URL; empty: the default.").tag(config=True)
    url_flux = Unicode("", help="Full /run/predict URL for flux-schnell; empty: the default.").tag(config=True)
    proxy = Unicode("", help="HTTP(S) proxy URL.").tag(config=True)
    max_image_bytes = Int(MAX_IMAGE_BYTES, help="Largest image accepted from a Space, in bytes.").tag(config=True)
    display_width = Int(DISPLAY_WIDTH, min=0, help="Widest an image is shown, in px (0: its own size, up to the cell's "
                        "width); a grid's tiles are 200 px.").tag(config=True)
    embed_format = CaselessStrEnum(list(EMBED_FORMATS), "served",
                                   help="How images are kept in the notebook: served (the Space's own WebP/JPEG "
                                   "bytes, about 1/10 of PNG) or png (for viewers without WebP).").tag(config=True)
    replay = Bool(True, help="Replay a seeded request answered before from the replay store: no request, no "
                  "GPU quota (--refresh generates anew).").tag(config=True)
    replay_dir = Unicode("", help=f"Folder of the replay store; empty: ${CACHE_ENV}, else the user's cache folder."
                         ).tag(config=True)
    replay_max_bytes = Int(REPLAY_MAX_BYTES, min=0, help="The replay store's size limit; the least recently used "
                           "entries go first.").tag(config=True)
    wait = Bool(False, help="Wait out a GPU quota error that says when the quota returns (as --wait).").tag(config=True)
    max_wait = Float(900.0, min=0, help="Longest quota wait in seconds; a longer one fails at once.").tag(config=True)
    fallback = Unicode("", help="Models that answer, in order, when the chosen one is over quota, paused or full "
                       "(comma list, as --fallback).").tag(config=True)
    widgets = CaselessStrEnum(["auto", "on", "off"], "auto",
                              help="Live widgets: auto (in a kernel), on, off (plain lines).").tag(config=True)
    token = Unicode("", help=f"ZeroGPU token. Prefer %g4f login or ${TOKEN_ENV}: config files are easy to share."
                    ).tag(config=True)
    mirrors = Dict(value_trait=List(Unicode()), default_value={},
                   help="More Spaces for a model, tried in order after its own and the official ones when those "
                   "are gone, paused, building or asleep: {'flux': ['https://you-flux-1-dev.hf.space']} "
                   "(your duplicates, your Gradio servers).").tag(config=True)
    space_concurrency = Int(SPACE_CONCURRENCY, min=1, max=64, help="Runs in flight on one Space at once (-n, sweeps, the panel): "
                            "2 keeps a Space that runs one at a time busy; your own server that runs N at once "
                            "wants N + 1.").tag(config=True)
    send_hf_token_to = Unicode("", help="Your own Gradio servers (comma list of base URLs) that may have your "
                               "Hugging Face token; the hub's Spaces always get it, other hosts never."
                               ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.login: Secret | None = None  # %g4f login: in memory only

    @validate("fallback")
    def _known_models(self, proposal: Any) -> str:
        from ..spaces.providers import G4F

        for name in (m.strip() for m in proposal["value"].split(",")):
            if name:
                try:
                    G4F.route(name)
                except G4FError as exc:  # %config shows a TraitError's message and keeps the old value
                    raise TraitError(str(exc)) from None
        return proposal["value"]

    @validate("mirrors")
    def _mirror_models(self, proposal: Any) -> dict[str, list[str]]:
        from ..spaces.endpoints import check_base_url
        from ..spaces.providers import G4F

        for name, urls in proposal["value"].items():
            try:
                G4F.route(name)
                for url in urls:
                    check_base_url(url, f"mirrors[{name!r}]")
            except G4FError as exc:
                raise TraitError(str(exc)) from None
        return proposal["value"]

    @validate("token")
    def _mask_token(self, proposal: Any) -> Secret:
        return Secret(proposal["value"])

    def current_token(self) -> Secret | None:
        """The ZeroGPU token: ``%g4f login`` (unless it was a Hugging Face token), then
        ``$G4F_MAGIC_TOKEN``, then the config."""
        login = self.login if self.login and not is_hf_token(self.login) else None
        token = login or os.environ.get(TOKEN_ENV) or str(self.token)
        return Secret(token) if token else None

    def current_hf_token(self) -> HFToken | None:
        """The account token ``%g4f login`` took; ``None`` lets the provider find it as the HF tools do."""
        return HFToken(str(self.login), "%g4f login") if self.login and is_hf_token(self.login) else None

    def identity(self) -> str:
        """Who pays, without the network and without the token: for ``%g4f config``."""
        given = self.current_token()  # an hf_… token given as the ZeroGPU token is the account's too
        found = self.current_hf_token() or (
            HFToken(str(given), f"${TOKEN_ENV}" if os.environ.get(TOKEN_ENV) else "the token setting")
            if given and is_hf_token(given) else find_hf_token())
        if found is None:
            return f"anonymous (no Hugging Face token: {TIERS['anonymous']} min of GPU a day per IP address)"
        return f"Hugging Face account (token from {found.source}; %g4f whoami names it)"

    def token_source(self) -> str:
        if self.login and is_hf_token(self.login):
            return "not set (%g4f login took a Hugging Face token)"
        if self.login:
            return "set (from %g4f login, in memory)"
        if os.environ.get(TOKEN_ENV):
            return f"set (from ${TOKEN_ENV})"
        return "set (from config)" if self.token else "not set"


def values(settings: Settings | None = None) -> dict[str, Any]:
    """Every setting by name, and ``api_key`` (masked in reprs): from ``settings``, else from the loaded
    extension, else the defaults."""
    if settings is None:
        import g4f_magic

        settings = next(iter(g4f_magic._loaded.values()), None)
    if settings is None:
        found = {k: t.default() for k, t in Settings.class_traits(config=True).items()}
        token = os.environ.get(TOKEN_ENV)
        found["api_key"] = Secret(token) if token else None
        return found
    found = {k: getattr(settings, k) for k in Settings.class_trait_names(config=True)}
    found["api_key"] = settings.current_token()
    found["hf_token"] = settings.current_hf_token()
    return found


def build_job(settings: dict[str, Any], *, model: str | None = None, prompt: str, **run: Any) -> Job:
    """The one place a generation request is made: per-run choices (``run``, None for "not given")
    over the settings. A timeout of 0 means no limit, for the magic and the panel alike."""
    from ..engine.run import Job

    def pick(name: str) -> Any:
        value = run.get(name)
        return settings.get(name) if value is None else value

    timeout = pick("timeout")
    model = model or settings["default_model"]
    fallback = run.get("fallback")
    if fallback is None:  # the setting: only the models that can stand in for this one, for this seed
        fallback = _standing_in(model, settings.get("fallback") or "", run.get("seed"), run.get("count") or 1)
    return Job(
        model=model, prompt=prompt,
        aspect_ratio=pick("aspect_ratio") or "1:1",
        width=run.get("width"), height=run.get("height"), seed=run.get("seed"), count=run.get("count") or 1,
        image=run.get("image"), proxy=pick("proxy") or None, timeout=timeout or None,
        endpoint=settings.get("endpoint") or None, api_url=settings.get("api_url") or None,
        flux_dev_url=settings.get("flux_dev_url") or None, url_flux=settings.get("url_flux") or None,
        api_key=run.get("api_key") or settings.get("api_key"), hf_token=settings.get("hf_token"),
        mirrors={k: tuple(v) for k, v in (settings.get("mirrors") or {}).items()},
        send_hf_token_to=tuple(u.strip() for u in (settings.get("send_hf_token_to") or "").split(",") if u.strip()),
        max_image_bytes=settings.get("max_image_bytes") or MAX_IMAGE_BYTES,
        steps=run.get("steps"), guidance=run.get("guidance"), fallback=tuple(fallback),
        wait=bool(pick("wait")), max_wait=settings.get("max_wait", 900.0), refresh=bool(run.get("refresh")),
        replay=settings.get("replay", True), replay_dir=settings.get("replay_dir") or None,
        replay_max_bytes=settings.get("replay_max_bytes", REPLAY_MAX_BYTES),
        space_concurrency=settings.get("space_concurrency") or SPACE_CONCURRENCY,
    )


def build_run(settings: dict[str, Any], *, prompt: str, choices: dict[str, list[Any]], **run: Any) -> Job | Sweep:
    """One Job, or a Sweep when an option of ``choices`` (model, aspect_ratio, seed, steps, guidance →
    its values) holds several: every cell is a ``build_job`` with the same ``run`` options."""
    from ..engine.sweep import make_sweep

    def job_for(chosen: dict[str, Any]) -> Job:
        return build_job(settings, model=chosen.get("model"), prompt=prompt,
                         **{k: v for k, v in chosen.items() if k != "model"}, **run)

    sweep = make_sweep(job_for, choices)
    return sweep if sweep is not None else job_for({k: v[0] for k, v in choices.items()})


def _standing_in(model: str, names: str, seed: int | None, count: int) -> tuple[str, ...]:
    """The ``fallback`` setting's models that make what ``model`` makes and take its seeds. The setting
    holds for every run; ``--fallback`` is checked strictly (a wrong one is an error)."""
    from ..spaces.flows import SEED_RANGES
    from ..spaces.providers import G4F

    try:
        chat = G4F.route(model) == "janus_chat"
    except G4FError:
        return ()  # the Job says what is wrong with the model
    kept = []
    for name in (m.strip() for m in names.split(",")):
        if not name or name == model or name not in G4F.routes:
            continue
        route = G4F.route(name)
        if (route == "janus_chat") != chat or (seed is not None and seed + count - 1 > SEED_RANGES[route][1]):
            continue
        kept.append(name)
    return tuple(kept)
