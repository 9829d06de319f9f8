"""The settings (``%config G4FMagics.…``) and the token lookup.

The magic and the panel plan their runs from :func:`values` with the engine's one Job builder
(:mod:`g4f_magic.engine.plan`). Importing this module costs no aiohttp: the engine is loaded when the
first Job is built.
"""

from __future__ import annotations

import os
from typing import Any

from traitlets import Bool, CaselessStrEnum, Dict, Float, Int, List, TraitError, Unicode, validate
from traitlets.config import Configurable

from ..engine.replay import CACHE_ENV
from ..engine.replay import MAX_BYTES as REPLAY_MAX_BYTES
from ..errors import G4FError
from ..media import MAX_IMAGE_BYTES
from ..spaces.endpoints import ENV_VAR, SPACE_CONCURRENCY
from ..spaces.identity import TIERS, HFToken, find_hf_token, is_hf_token
from .html import DISPLAY_WIDTH, EMBED_FORMATS

__all__ = ["Secret", "Settings", "TOKEN_ENV", "values", "active", "extensions"]

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
    provider = Unicode("space", help="Where FLUX runs: space (the free ZeroGPU Spaces), auto (Hugging Face Inference "
                       "Providers in the account's order: your token's credits pay), or a provider (fal-ai, "
                       "replicate, nscale, …).").tag(config=True)
    quota_handover = Unicode("", help="When ZeroGPU refuses a FLUX run for quota: auto or an Inference Provider "
                             "(fal-ai, …) that takes it (and the rest of a batch) instead of a wait or a failure; "
                             "it spends your credits. Empty: never.").tag(config=True)
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
    space_concurrency = Int(SPACE_CONCURRENCY, min=1, max=64, help="The most runs in flight on one Space at once "
                            "(-n, sweeps, batches, the panel). Below it, what each Space takes is learned: one that "
                            "runs one at a time gets 2 (one running, one queued), a server seen running N at once "
                            "2N (N running, N queued).").tag(config=True)
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
                    G4F.model(name)
                except G4FError as exc:  # %config shows a TraitError's message and keeps the old value
                    raise TraitError(str(exc)) from None
        return proposal["value"]

    @validate("mirrors")
    def _mirror_models(self, proposal: Any) -> dict[str, list[str]]:
        from ..spaces.endpoints import check_base_url
        from ..spaces.providers import G4F

        for name, urls in proposal["value"].items():
            try:
                G4F.model(name)
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


extensions: dict[int, Settings] = {}  # id(shell) → its loaded extension (notebook.extension keeps it)


def active() -> Settings | None:
    """The extension loaded in the running IPython, if any: what ``Panel()`` made in code starts from."""
    from IPython import get_ipython

    shell = get_ipython()
    return extensions.get(id(shell)) if shell is not None else None


def values(settings: Settings | None = None) -> dict[str, Any]:
    """Every setting by name, and ``api_key`` (masked in reprs): from ``settings``, else the defaults."""
    if settings is None:
        found = {k: t.default() for k, t in Settings.class_traits(config=True).items()}
        token = os.environ.get(TOKEN_ENV)
        found["api_key"] = Secret(token) if token else None
        return found
    found = {k: getattr(settings, k) for k in Settings.class_trait_names(config=True)}
    found["api_key"] = settings.current_token()
    found["hf_token"] = settings.current_hf_token()
    return found
