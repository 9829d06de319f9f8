"""Where requests go: the hub and each Space, overridable per call or all at once.

``G4F_MAGIC_ENDPOINT=http://127.0.0.1:7860`` sends every request to one gateway, keeping the original
host as the first path segment: ``https://roxky-flux-1-dev.hf.space/gradio_api/queue/join`` becomes
``http://127.0.0.1:7860/roxky-flux-1-dev.hf.space/gradio_api/queue/join``. The local Space serves
that layout, and a reverse proxy can too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import InvalidOption

__all__ = ["ENV_VAR", "HUB_URL", "Endpoints", "through_gateway", "check_base_url", "gateway_from_env", "space_root",
           "space_name",
           "PREDICT_PATH", "SPACE_CONCURRENCY", "masked", "without_login", "hub_space", "takes_hf_token"]

ENV_VAR = "G4F_MAGIC_ENDPOINT"
HUB_URL = "https://huggingface.co"
# The most runs in flight on one Space at once (the space_concurrency setting). Below it, the run slots
# learn what a Space takes (gradio.calls.RunSlots): a ZeroGPU Space runs one event of a function at a time
# (Gradio's default concurrency_limit is 1, and ZeroGPU lends one GPU per call), and gets two in flight, the
# next already queued when one ends; one's own server seen running N at once gets N + 1. The rest wait here,
# where a Stop costs no request and takes no place in the Space's queue from other users.
SPACE_CONCURRENCY = 16


def masked(url: str) -> str:
    """``url`` as it may be shown: the user:password in it (one's own server behind basic auth) is ``***``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def without_login(url: str, logins: dict[str, tuple[str, str]]) -> str:
    """``url`` without the user:password written in it, which goes into ``logins`` under the bare URL:
    the session sends it under that URL only (``HttpSession.login``), so it never travels inside a URL
    that a result, a log line or a label could show."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    bare = urlunsplit(parts._replace(netloc=host))
    logins[bare] = (unquote(user), unquote(password))
    return bare


def check_base_url(url: str, name: str = "endpoint", show: bool = True) -> str:
    """``show=False`` for URLs that may carry credentials (a proxy's user:password)."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        shown = masked(url) if isinstance(url, str) else url  # a user:password in it is never echoed
        got = f"; got {shown!r}" if show else ""
        raise InvalidOption(f"{name} must be an http(s) URL{got}")
    return url.rstrip("/")


def through_gateway(url: str, gateway: str | None) -> str:
    """Rewrite ``url`` to go through ``gateway`` (host kept as the first path segment)."""
    if not gateway:
        return url
    parts = urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{gateway.rstrip('/')}/{parts.netloc}{rest}"


PREDICT_PATH = "/run/predict"  # the legacy route's path, after the Space's root


def space_name(url: str) -> str:
    """The Space (or server) a URL of it is on, as a batch's manifest names it: its ``….hf.space`` host, also
    through a gateway (whose layout puts it first in the path); one's own server by host and port."""
    parts = urlsplit(url)
    first = parts.path.lstrip("/").split("/", 1)[0]
    return first if first.endswith(".hf.space") else parts.netloc


def space_root(url: str) -> str:
    """A Space's root, from its base or its full ``/run/predict`` URL."""
    return url.rstrip("/").rsplit(PREDICT_PATH, 1)[0]


def gateway_from_env() -> str | None:
    value = os.environ.get(ENV_VAR, "").strip()
    return check_base_url(value, ENV_VAR) if value else None


@dataclass(frozen=True)
class Endpoints:
    """Resolved base URLs for one call."""

    hub: str
    janus: str  # the Janus Space base (``api_url``)
    flux_dev: str  # the FLUX.1-dev Space base (``FluxDev.url``)
    flux_predict: str  # the full legacy ``/run/predict`` URL (``url_flux``)
    referer: str
    # Bases set by hand (a duplicated Space, one's own Gradio server) while the hub is the real one:
    # the hub's token for the original Space is not theirs, so none is fetched for them.
    tokenless: frozenset[str] = frozenset()
    # Space base through the gateway → the Space's own address: where it builds its file URLs from
    public: Mapping[str, str] = field(default_factory=dict)
    # the routes' URLs the user set by hand (api_url, flux_dev_url, url_flux): the user chose where those go
    chosen: frozenset[str] = frozenset()
    gateway: str | None = None  # G4F_MAGIC_ENDPOINT or endpoint=, when every request goes through one

    def bare(self, logins: dict[str, tuple[str, str]]) -> Endpoints:
        """These endpoints with every user:password taken out of their URLs, into ``logins``."""
        def b(url: str) -> str:
            return without_login(url, logins)

        return Endpoints(
            b(self.hub), b(self.janus), b(self.flux_dev), b(self.flux_predict), b(self.referer),
            frozenset(map(b, self.tokenless)), {b(k): b(v) for k, v in self.public.items()},
            frozenset(map(b, self.chosen)), b(self.gateway) if self.gateway else None)


def hub_space(base: str, endpoints: Endpoints, own: frozenset[str]) -> bool:
    """Is ``base`` a Space the hub serves (through a gateway or not), not a URL set by hand or one's own server?"""
    return base not in endpoints.tokenless and space_root(base) not in own


def takes_hf_token(base: str, endpoints: Endpoints, own: frozenset[str], hf_token_to: frozenset[str]) -> bool:
    """Do requests to ``base`` carry the account's Hugging Face token: the hub's Spaces, and the servers the user
    named (``send_hf_token_to``)."""
    return hub_space(base, endpoints, own) or space_root(base) in hf_token_to
